"""The benchmark harness (benchmarks/harness.py): timing, machine description, child memory."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def test_benchmark_helpers():
    from benchmarks.harness import machine, measure, run_child

    calls = []
    m = measure(lambda: calls.append(1) or len(calls), repeats=3, warmup=1, keep=True)
    assert len(calls) == 4 and m["results"] == [2, 3, 4] and len(m["runs"]) == 3
    assert m["min"] <= m["median"] <= m["max"]
    info = machine()
    assert info["cores"] >= 1 and info["python"] and info["versions"]["numpy"]
    # peak memory of one child process: it holds 300 MB at once
    child = run_child([sys.executable, "-c", "import numpy as np; a = np.ones(300 * 2**20 // 8); print(a.sum())"])
    assert child["returncode"] == 0 and child["maxrss_mb"] > 300


def test_children_run_from_the_given_folder(tmp_path):
    # full_detector.py runs each `python -m qtrack` from a temporary folder: `-m` puts the working
    # directory first on sys.path, where it would shadow the --baseline checkout.
    from benchmarks.harness import run_child

    child = run_child([sys.executable, "-c", "import os; print(os.getcwd())"], cwd=tmp_path)
    assert child["returncode"] == 0 and child["stdout"].strip() == str(tmp_path)


def test_full_detector_refuses_a_baseline_that_is_not_a_checkout(tmp_path, capsys, monkeypatch):
    repo = Path(__file__).resolve().parent.parent
    monkeypatch.syspath_prepend(str(repo / "benchmarks"))  # as when run as a script
    from benchmarks.full_detector import main

    data = repo / "data"
    (tmp_path / "pu20").mkdir()
    for f in (data / "sim").glob("event000000001-*"):
        (tmp_path / "pu20" / f.name.replace("000000001", "000000000")).symlink_to(f)
    assert main(["--data", str(tmp_path), "--pileups", "20", "--baseline", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--baseline" in err[0] and "not a qtrack checkout" in err[0]
