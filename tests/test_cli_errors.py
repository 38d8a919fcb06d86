"""Bad input through the command line: exit 2, one line on stderr, no traceback, no output files."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import EVENT, run_cli_many, write_event


def _hits_truth():
    return pd.read_csv(f"{EVENT}-hits.csv"), pd.read_csv(f"{EVENT}-truth.csv")


def _event(tmp: Path, hits=None, truth=None, name="bad"):
    h, t = _hits_truth()
    return write_event(tmp / "in", name, h if hits is None else hits, t if truth is None else truth)


def _set(df, col, row, value):
    df = df.copy()
    df[col] = df[col].astype(object)
    df.loc[row, col] = value
    return df


# Each case: setup(tmp) -> (command args without -o, [substrings the message must contain]).
def case_missing_file(tmp):
    return ["solve", tmp / "in" / "nothing"], ["nothing-hits.csv", "not found"]


def case_missing_column(tmp):
    h, _ = _hits_truth()
    return ["solve", _event(tmp, hits=h.drop(columns=["z"]))], ["bad-hits.csv", "missing column", "z"]


def case_nan_coordinate(tmp):
    h, _ = _hits_truth()
    return ["solve", _event(tmp, hits=_set(h, "x", 10, np.nan))], ["bad-hits.csv", "column x", "row 11"]


def case_non_numeric_coordinate(tmp):
    h, _ = _hits_truth()
    return ["solve", _event(tmp, hits=_set(h, "y", 5, "12,5mm"))], ["bad-hits.csv", "column y", "non-numeric"]


def case_duplicate_hit_id(tmp):
    h, t = _hits_truth()
    h.loc[7, "hit_id"] = h.hit_id[3]
    return ["solve", _event(tmp, hits=h, truth=t)], ["bad-hits.csv", "duplicate hit_id", str(h.hit_id[3])]


def case_empty_file(tmp):
    prefix = _event(tmp)
    Path(f"{prefix}-hits.csv").write_bytes(b"")
    return ["solve", prefix], ["bad-hits.csv", "empty"]


def case_header_only(tmp):
    prefix = _event(tmp)
    Path(f"{prefix}-hits.csv").write_text("hit_id,x,y,z,volume_id,layer_id,module_id\n")
    return ["solve", prefix], ["bad-hits.csv", "no rows"]


def case_corrupt_gz(tmp):
    (tmp / "in").mkdir(parents=True)
    (tmp / "in" / "bad-hits.csv.gz").write_bytes(b"this is not gzip data at all\n")
    return ["solve", tmp / "in" / "bad"], ["bad-hits.csv.gz", "cannot be read"]


def case_truth_extra_rows(tmp):
    h, t = _hits_truth()
    extra = t.iloc[:2].assign(hit_id=[10**9, 10**9 + 1])
    return ["solve", _event(tmp, truth=pd.concat([t, extra]))], ["bad-truth.csv", "does not match",
                                                                 "2 truth row(s) for unknown hits"]


def case_truth_missing_rows(tmp):
    h, t = _hits_truth()
    return ["solve", _event(tmp, truth=t.iloc[3:])], ["bad-truth.csv", "does not match", "3 hit(s) without truth"]


def case_truth_nan_weight(tmp):
    h, t = _hits_truth()
    return ["solve", _event(tmp, truth=_set(t, "weight", 0, "nan"))], ["bad-truth.csv", "column weight"]


def case_truth_missing_column(tmp):
    h, t = _hits_truth()
    return ["solve", _event(tmp, truth=t.drop(columns=["particle_id"]))], ["bad-truth.csv", "particle_id"]


def case_bad_toml(tmp):
    cfg = tmp / "cfg.toml"
    cfg.write_text("[solve\nnum_reads = 3\n")
    return ["solve", EVENT, "--config", cfg], ["cfg.toml", "not valid TOML"]


def case_toml_unknown_key(tmp):
    cfg = tmp / "cfg.toml"
    cfg.write_text("[solve]\nnum_read = 3\n")
    return ["solve", EVENT, "--config", cfg], ["cfg.toml", "unknown setting", "num_read"]


def case_toml_wrong_type(tmp):
    cfg = tmp / "cfg.toml"
    cfg.write_text('[doublets]\nmax_layer_gap = "two"\n')
    return ["solve", EVENT, "--config", cfg], ["cfg.toml", "max_layer_gap", "expected an integer"]


def case_toml_missing(tmp):
    return ["solve", EVENT, "--config", tmp / "nope.toml"], ["nope.toml", "not found"]


def case_unknown_sampler(tmp):
    return ["solve", EVENT, "--sampler", "annealer9000"], ["'annealer9000'", "unknown sampler"]


def case_two_events_in_directory(tmp):
    # `solve` takes a directory of many events (tests/test_runner.py); `build` takes one.
    _event(tmp, name="one")
    _event(tmp, name="two")
    return ["build", tmp / "in"], ["expected one", "one-hits.csv", "two-hits.csv"]


def case_build_bad_hits(tmp):
    h, _ = _hits_truth()
    return ["build", _event(tmp, hits=_set(h, "x", 0, "x"))], ["bad-hits.csv", "column x"]


def case_dataset_without_truth(tmp):
    h, _ = _hits_truth()
    prefix = write_event(tmp / "in", "nt", h)
    return ["dataset", prefix, "--density", "0.5", "--seed", "1"], ["nt-truth.csv", "truth"]


def case_dataset_truth_mismatch(tmp):
    h, t = _hits_truth()
    return ["dataset", _event(tmp, truth=t.iloc[1:]), "--density", "0.5"], ["bad-truth.csv", "does not match"]


CASES = {name[5:]: fn for name, fn in dict(globals()).items() if name.startswith("case_")}


@pytest.fixture(scope="module")
def error_runs(tmp_path_factory):
    """Every case, set up in its own directory and run in its own process (several at once)."""
    setups = {}
    for name, fn in CASES.items():
        tmp = tmp_path_factory.mktemp(name)
        args, expected = fn(tmp)
        setups[name] = (args + ["-o", tmp / "out"], expected, tmp / "out")
    procs = run_cli_many([v[0] for v in setups.values()])
    return {name: (proc, expected, out) for (name, (_, expected, out)), proc in zip(setups.items(), procs)}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(error_runs, name):
    proc, expected, out = error_runs[name]
    _check_error(proc, expected)
    assert not out.exists() or not any(out.rglob("*")), sorted(out.rglob("*"))


def _check_error(proc, expected):
    """Exit 2, one ``qtrack: error:`` line on stderr holding every expected string (a tuple: any)."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("qtrack: error: "), lines[0]
    for s in expected:
        alternatives = s if isinstance(s, tuple) else (s,)
        assert any(a in lines[0] for a in alternatives), (s, lines[0])


# ------------------------------------------------------------------------------------------------
# qtrack score
# ------------------------------------------------------------------------------------------------

SCORE_CASES = ["good", "missing_file", "missing_column", "missing_hit", "duplicate_hit", "nan_track",
               "no_truth"]


def _score_case(tmp: Path, what: str):
    hits, truth = _hits_truth()
    sub = pd.DataFrame({"hit_id": truth.hit_id, "track_id": truth.particle_id})
    path = tmp / "mysub.csv"
    event = EVENT
    expected = ["mysub.csv"]
    if what == "good":
        sub.to_csv(path, index=False)
        expected = None
    elif what == "missing_file":
        expected.append(("not found", "No such file"))
    elif what == "missing_column":
        sub.rename(columns={"track_id": "track"}).to_csv(path, index=False)
        expected.append("track_id")
    elif what == "missing_hit":
        sub.iloc[1:].to_csv(path, index=False)
        expected += ["missing", str(sub.hit_id[0])]
    elif what == "duplicate_hit":
        pd.concat([sub, sub.iloc[[4]]]).to_csv(path, index=False)
        expected += [str(sub.hit_id[4]), "more than once"]
    elif what == "nan_track":
        _set(sub, "track_id", 2, "").to_csv(path, index=False)
        expected.append("track_id")
    elif what == "no_truth":
        sub.to_csv(path, index=False)
        event = write_event(tmp / "in", "nt", hits)
        expected = ["nt-truth.csv", "no truth"]
    return ["score", path, event], expected


@pytest.fixture(scope="module")
def score_runs(tmp_path_factory):
    setups = {w: _score_case(tmp_path_factory.mktemp(w), w) for w in SCORE_CASES}
    procs = run_cli_many([args for args, _ in setups.values()])
    return {w: (proc, setups[w][1]) for w, proc in zip(setups, procs)}


def test_score_good_submission(score_runs):
    proc, _ = score_runs["good"]
    assert proc.returncode == 0, proc.stderr
    assert "1.0000" in proc.stdout


@pytest.mark.parametrize("what", SCORE_CASES[1:])
def test_score_bad_submission(score_runs, what):
    proc, expected = score_runs[what]
    _check_error(proc, expected)


# ------------------------------------------------------------------------------------------------
# Help
# ------------------------------------------------------------------------------------------------

COMMANDS = ["solve", "build", "dataset", "score", "samplers"]


@pytest.fixture(scope="module")
def help_runs():
    procs = run_cli_many([[c, "--help"] for c in COMMANDS] + [["--help"]])
    return dict(zip(COMMANDS + ["main"], procs))


@pytest.mark.parametrize("command", COMMANDS)
def test_help(help_runs, command):
    proc = help_runs[command]
    assert proc.returncode == 0, proc.stderr
    assert "Usage:" in proc.stdout and command in proc.stdout
    assert proc.stderr == ""


def test_top_level_help_lists_every_command(help_runs):
    proc = help_runs["main"]
    assert proc.returncode == 0
    for command in COMMANDS:
        assert command in proc.stdout


def test_console_script_and_samplers():
    exe = Path(sys.executable).parent / "qtrack"
    assert exe.exists()
    proc = subprocess.run([str(exe), "samplers"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["name", "installed", "configured"]
    neal = next(line for line in lines if line.startswith("neal"))
    assert neal.split()[1] == "yes"
    proc = subprocess.run([str(exe), "-h"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Usage:" in proc.stdout
