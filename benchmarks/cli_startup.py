"""How fast qtrack answers: ``qtrack --help`` and ``import qtrack`` in fresh processes.

Median of ``--repeats`` warm runs (one untimed run first), next to a bare ``python -c pass``
measured the same way in the same run. Writes benchmarks/results/cli_startup.json.

    python benchmarks/cli_startup.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness import provenance  # noqa: E402

from qtrack.io import write_json

HERE = Path(__file__).resolve().parent


def timed(argv: list[str], repeats: int) -> dict:
    subprocess.run(argv, capture_output=True, check=True)
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        runs.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(runs), "min_s": min(runs), "max_s": max(runs),
            "runs_s": runs}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=HERE / "results" / "cli_startup.json")
    args = p.parse_args()
    exe = shutil.which("qtrack")
    if exe is None:
        print("cli_startup.py: error: no `qtrack` on PATH; pip install -e . first", file=sys.stderr)
        return 2
    result = {
        "python_pass": timed([sys.executable, "-c", "pass"], args.repeats),
        "import_qtrack": timed([sys.executable, "-c", "import qtrack"], args.repeats),
        "qtrack_help": timed([exe, "--help"], args.repeats),
        "measured": provenance("fresh process per run, wall time, median of the repeats"),
    }
    write_json(args.out, result)
    for key in ("python_pass", "import_qtrack", "qtrack_help"):
        r = result[key]
        print(f"{key:<14} {r['median_s']:.3f} s  ({r['min_s']:.3f}-{r['max_s']:.3f})")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
