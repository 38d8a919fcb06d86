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
