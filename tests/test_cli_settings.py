"""Bad settings, bad options, unwritable outputs, interruptions and bugs: the three ways out.

Every case runs the real command line in its own process: a user's problem ends with exit 2 and
one ``qtrack: error:`` line and writes nothing; Ctrl-C ends with exit 130 and one line; a bug in
qtrack keeps its traceback and exits 1. The same settings through the Python API raise a qtrack
exception with the same message.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import EVENT, REPO, run_cli, run_cli_many, run_cli_patched, write_event


def _toml(tmp: Path, text: str) -> Path:
    path = tmp / "cfg.toml"
    path.write_text(text)
    return path


def _solve_with(text: str, *expected):
    def setup(tmp):
        return ["solve", EVENT, "--config", _toml(tmp, text)], ["cfg.toml", *expected]
    return setup


def _a_file(tmp: Path) -> Path:
    f = tmp / "afile.txt"
    f.write_text("not a directory")
    return f


def _hits_at_origin(tmp: Path):
    hits = pd.read_csv(f"{EVENT}-hits.csv")
    hits.loc[3, ["x", "y"]] = 0.0
    return write_event(tmp / "in", "origin", hits)


def _foreign_submission(tmp: Path):
    truth = pd.read_csv(f"{EVENT}-truth.csv")
    sub = pd.DataFrame({"hit_id": truth.hit_id, "track_id": truth.particle_id})
    extra = pd.DataFrame({"hit_id": [10**9, 10**9 + 1], "track_id": [1, 1]})
    path = tmp / "sub.csv"
    pd.concat([sub, extra]).to_csv(path, index=False)
    return path


# name -> setup(tmp) -> (arguments without -o, substrings of the one error line)
CASES = {
    "num_reads_zero": _solve_with("[solve]\nnum_reads = 0\n", "[solve] num_reads = 0", ">= 1"),
    "num_sweeps_negative": _solve_with("[solve]\nnum_sweeps = -5\n", "num_sweeps = -5"),
    "min_pt_zero": _solve_with("[doublets]\nmin_pt = 0\n", "[doublets] min_pt = 0", ">= 0.05"),
    "min_pt_negative": _solve_with("[doublets]\nmin_pt = -1\n", "min_pt = -1"),
    "min_pt_no_detector_uses": _solve_with("[doublets]\nmin_pt = 1e9\n",
                                           "[doublets] min_pt = 1000000000.0", "<= 100"),
    "field_zero": _solve_with("[doublets]\nfield_tesla = 0\n", "field_tesla = 0", "> 0"),
    "layer_gap_zero": _solve_with("[doublets]\nmax_layer_gap = 0\n", "max_layer_gap = 0"),
    "beta_range_reversed": _solve_with("[solve]\nbeta_range = [10, 0.1]\n", "beta_range",
                                       "hot < cold"),
    "d0_too_large": _solve_with("[beamspot]\nd0_max = 200\n", "[beamspot] d0_max = 200", "<= 20"),
    "sb_variant": _solve_with("[sb]\nvariant = \"quantum\"\n", "[sb] variant", "'discrete'"),
    "qpu_subproblem": _solve_with("[qpu]\nsubproblem_size = 1\n", "subproblem_size = 1"),
    "nan_setting": _solve_with("[model]\nconflict_strength = nan\n", "conflict_strength",
                               "finite"),
    "seed_negative": lambda tmp: (["solve", EVENT, "--seed", "-5"], ["--seed", "-5"]),
    "dataset_seed_negative": lambda tmp: (["dataset", EVENT, "--density", "0.5", "--seed", "-1"],
                                          ["--seed", "-1"]),
    "threads_zero": lambda tmp: (["solve", EVENT, "--threads", "0"], ["--threads"]),
    "solve_outdir_under_file": lambda tmp: (["solve", EVENT, "-o", _a_file(tmp) / "out"],
                                            ["afile.txt", "not a directory"]),
    "build_outdir_under_file": lambda tmp: (["build", EVENT, "-o", _a_file(tmp) / "out"],
                                            ["afile.txt", "not a directory"]),
    "dataset_outdir_under_file": lambda tmp: (["dataset", EVENT, "--density", "0.5", "-o",
                                               _a_file(tmp) / "out"], ["not a directory"]),
    "hit_at_beam_line": lambda tmp: (["solve", _hits_at_origin(tmp)],
                                     ["origin-hits.csv", "r = 0 mm", "detector layer"]),
    "exact_too_large": lambda tmp: (["solve", EVENT, "--sampler", "exact", "-q"],
                                    ["at most 18 variables"]),
    "dry_run_local_sampler": lambda tmp: (["solve", EVENT, "--dry-run"], ["--dry-run", "neal"]),
    "score_foreign_hits": lambda tmp: (["score", _foreign_submission(tmp), EVENT],
                                       ["sub.csv", "not in the event", str(10**9)]),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    setups = {}
    for name, fn in CASES.items():
        tmp = tmp_path_factory.mktemp(name)
        args, expected = fn(tmp)
        out = tmp / "out"
        if "-o" not in args and args[0] != "score":
            args = args + ["-o", out]
        setups[name] = (args, expected, tmp)
    procs = run_cli_many([a for a, _, _ in setups.values()])
    return {name: (proc, exp, tmp) for (name, (_, exp, tmp)), proc in zip(setups.items(), procs)}


@pytest.mark.parametrize("name", list(CASES))
def test_one_line_exit_2_nothing_written(runs, name):
    proc, expected, tmp = runs[name]
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("qtrack: error: "), proc.stderr
    for s in expected:
        assert s in lines[0], (s, lines[0])
    written = [p for p in tmp.rglob("*") if p.is_file() and p.suffix in (".csv", ".json", ".npz")
               and "out" in p.parts]
    assert written == []


@pytest.mark.parametrize("settings, message", [
    ({"solve": {"num_reads": 0}}, "[solve] num_reads = 0"),
    ({"doublets": {"min_pt": 0}}, "[doublets] min_pt = 0"),
    ({"solve": {"beta_range": [10, 0.1]}}, "hot < cold"),
    ({"beamspot": {"d0_max": 200}}, "d0_max = 200"),
    # Values no detector could use.
    ({"beamspot": {"z0_max": 5000.0}}, "[beamspot] z0_max = 5000.0: expected >= 0 and <= 1000"),
    ({"model": {"tplet_max_curv": 1.0}}, "[model] tplet_max_curv = 1.0: expected > 0 and <= 0.1"),
    ({"tracks": {"min_hits": 100}}, "[tracks] min_hits = 100: expected >= 3 and <= 30"),
])
def test_same_messages_through_the_api(settings, message):
    from qtrack.config import Config, DoubletConfig, SolveConfig
    from qtrack.errors import QtrackError

    with pytest.raises(QtrackError) as err:
        Config().replace(**settings)
    assert message in str(err.value)
    with pytest.raises(QtrackError, match="num_reads = 0"):
        SolveConfig(num_reads=0)
    with pytest.raises(QtrackError, match="min_pt = 0"):
        DoubletConfig(min_pt=0)


def test_api_solve_as_a_user_writes_it():
    import qtrack

    result = qtrack.solve(EVENT, sampler="neal", seed=1, num_sweeps=200)
    assert result.config.solve.seed == 1 and result.config.solve.num_sweeps == 200
    assert result.scores["trackml_score"] > 0.85
    from qtrack.errors import QtrackError

    with pytest.raises(QtrackError, match="unknown setting 'speed'"):
        qtrack.solve(EVENT, sampler="neal", speed=3)


def test_changed_weights_are_solved(built):
    import qtrack

    base = qtrack.solve_built(built, "neal")
    # a large positive bias on every triplet: selecting nothing is then the ground state
    built2 = built.with_qubo(type(built.qubo)(built.qubo.linear + 100.0, built.qubo.irow,
                                               built.qubo.icol, built.qubo.quad))
    assert qtrack.solve_built(built2, "neal").solution.state.sum() == 0
    assert base.solution.state.sum() > 0
    # the same through the kept dimod model
    import dataclasses

    built3 = dataclasses.replace(built)
    for v in range(built3.qubo.num_variables):
        built3.bqm.add_linear(v, 100.0)
    assert qtrack.solve_built(built3, "neal").solution.state.sum() == 0


def test_hits_file_given_by_its_path_is_read_as_given(tmp_path):
    import shutil

    odd = tmp_path / "event000001000-hits-unlabeled.csv"
    shutil.copy(f"{EVENT}-hits.csv", odd)
    proc = run_cli("solve", odd, "-o", tmp_path / "out", "-q")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "event000001000-hits-unlabeled-submission.csv").exists()


def test_plot_without_matplotlib(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None; "
            f"sys.argv = ['qtrack', 'plot', '--submission', 'x.csv', '--event', {str(EVENT)!r}]; "
            "from qtrack.cli import run; run()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "qtrack: error: qtrack plot needs matplotlib: pip install 'qtrack[plot]'")


def test_a_bug_keeps_its_traceback(tmp_path):
    setup = ("import qtrack.pipeline as p\n"
             "def broken(*a, **k):\n    raise RuntimeError('an invariant broke')\n"
             "p.build = broken")
    proc = run_cli_patched(setup, "solve", EVENT, "-o", "out", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "RuntimeError: an invariant broke" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("qtrack: internal error: this is a bug")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("sampler, when", [("neal", "start-up"), ("neal", "sampling"),
                                           ("sb", "sampling"), ("mock-qpu", "sampling")])
def test_ctrl_c_exits_130_and_writes_nothing(tmp_path, sampler, when):
    """SIGINT at start-up or once the QUBO is built (while sampling): exit 130, one line.

    The run is set to sample for hours, so the signal always comes first; that the process
    ends within the communicate timeout shows it does not wait for the sampler."""
    if sampler == "mock-qpu":
        pytest.importorskip("dwave.system")
    out = tmp_path / "out"
    slow = _toml(tmp_path, "[solve]\nnum_reads = 1000\nnum_sweeps = 10000000\n"
                           "[sb]\nnum_steps = 1000000000\n")
    proc = subprocess.Popen([sys.executable, "-m", "qtrack", "solve", EVENT, "--sampler", sampler,
                             "--config", slow, "-o", out], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    if when == "start-up":
        time.sleep(0.3)
    else:
        for line in proc.stderr:  # the stage lines, logged as each stage ends
            seen.append(line)
            if " qubo " in line:
                break
        assert any(" qubo " in s for s in seen), "".join(seen)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "qtrack: interrupted" and "Traceback" not in err
    assert not any(p.suffix in (".csv", ".json") for p in out.rglob("*")) if out.exists() else True
    assert not [p for p in (out.rglob(".*") if out.exists() else [])]
