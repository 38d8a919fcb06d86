"""The remote samplers through the CLI, offline: missing credentials, unreachable endpoint, mock."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import EVENT, REPO


def _run(args, env_changes, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DWAVE_")}
    empty = tmp_path / "dwave.conf"
    empty.write_text("")
    env.update({"DWAVE_CONFIG_FILE": str(empty), "HOME": str(tmp_path)}, **env_changes)
    return subprocess.run([sys.executable, "-m", "qtrack", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=120)


@pytest.mark.parametrize("name", ["qpu", "hybrid", "decomposed"])
def test_no_credentials_stops_before_any_work(tmp_path, name):
    out = tmp_path / "out"
    p = _run(["solve", EVENT, "--sampler", name, "-o", out], {}, tmp_path)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qtrack: error:")
    assert "DWAVE_API_TOKEN" in lines[0] and "dwave config" in lines[0]
    assert not out.exists()  # stopped before loading the event


def test_unreachable_endpoint_fails_in_one_line_and_keeps_the_qubo(tmp_path):
    out = tmp_path / "out"
    p = _run(["solve", EVENT, "--sampler", "qpu", "-o", out],
             {"DWAVE_API_TOKEN": "not-a-token", "DWAVE_API_ENDPOINT": "http://127.0.0.1:9/sapi/v2/"},
             tmp_path)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert lines[-1].startswith("qtrack: error:") and "Traceback" not in p.stderr
    assert not (out / "event000001000-submission.csv").exists()
    assert (out / "event000001000-qubo.npz").exists()


def test_mock_qpu_end_to_end_reports_resources(tmp_path):
    # the exact reductions solve the shipped event alone (see the dry-run test): off here, so
    # that the QPU path does the work
    raw = tmp_path / "raw.toml"
    raw.write_text("[qpu]\nroof_duality = false\nexact_max_variables = 0\n")
    out = tmp_path / "out"
    p = _run(["solve", EVENT, "--sampler", "mock-qpu", "-o", out, "-q", "--config", raw], {},
             tmp_path)
    assert p.returncode == 0, p.stderr
    summary = json.loads((out / "event000001000-summary.json").read_text())
    res = summary["solver_info"]["resources"]
    assert res["subproblems"] >= 1 and res["physical_qubits_total"] >= res["logical_qubits_total"] > 0
    assert 0.0 <= res["chain_break_fraction"] <= 1.0
    # the timing model's estimate beside what the (mock) sampler reports, the polish apart
    assert res["qpu_access_time_estimate_s"] > 0 and res["qpu_access_time_us"] > 0
    assert res["energy_after_polish"] <= res["energy_before_polish"]
    assert res["roof_duality_fixed"] == 0 and res["qpu_variables"] == res["variables"]
    assert summary["scores"]["trackml_score"] > 0.85


def test_dry_run_submits_nothing_and_needs_no_token(tmp_path):
    out = tmp_path / "out"
    p = _run(["solve", EVENT, "--sampler", "qpu", "--dry-run", "-o", out, "-q",
              "--subproblem-size", "60"], {}, tmp_path)
    assert p.returncode == 0, p.stderr
    report = json.loads((out / "event000001000-dryrun.json").read_text())
    # roof duality and enumeration fix every variable of the shipped barrel event: nothing is
    # left for the QPU
    assert report["roof_duality_fixed"] > 0
    assert report["roof_duality_fixed"] + report["exact_variables"] == report["variables"]
    assert report["qpu_variables"] == 0 and report["subproblems"] == 0
    assert report["qpu_calls"] == 0 and report["qpu_access_time_estimate_s"] == 0
    assert report["hybrid_alternative"] == {"calls": 1, "variables": report["variables"],
                                            "min_time_limit_s": 3.0}
    assert not (out / "event000001000-submission.csv").exists()
