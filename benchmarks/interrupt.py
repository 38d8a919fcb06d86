"""How fast `qtrack solve` stops on Ctrl-C: SIGINT at time T after start, for every local sampler.

For each sampler and each T, runs ``qtrack solve EVENT --sampler S`` in a fresh process, sends
SIGINT at T seconds (as ``timeout -s INT T`` does) and records the exit code, the seconds from the
signal to the exit, and whether any output file was left. A run that ends before T is recorded as
finished. Writes benchmarks/results/interrupt.json.

    python benchmarks/interrupt.py ../shared/data/trackml/qallse_e1000_barrel_union/event000001000
"""
from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import provenance  # noqa: E402

from qtrack.io import write_json

HERE = Path(__file__).resolve().parent
SAMPLERS = ["neal", "steepest", "tabu", "exact", "sb", "mock-qpu"]
DELAYS = [0.2, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0]


def one(event: str, sampler: str, delay: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        proc = subprocess.Popen([sys.executable, "-m", "qtrack", "solve", event, "--sampler",
                                 sampler, "-o", str(out), "-q"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            proc.wait(timeout=delay)
            return {"sampler": sampler, "signal_at_s": delay, "finished_before": True,
                    "returncode": proc.returncode}
        except subprocess.TimeoutExpired:
            pass
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        waited = time.perf_counter() - sent
        left = sorted(p.name for p in out.rglob("*")) if out.exists() else []
        return {"sampler": sampler, "signal_at_s": delay, "finished_before": False,
                "returncode": proc.returncode, "exit_after_signal_s": round(waited, 3),
                "last_line": (err.strip().splitlines() or [""])[-1], "files_left": left}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("event", help="event path (prefix, hits file or directory)")
    p.add_argument("--samplers", nargs="+", default=SAMPLERS)
    p.add_argument("--delays", nargs="+", type=float, default=DELAYS)
    p.add_argument("--out", type=Path, default=HERE / "results" / "interrupt.json")
    args = p.parse_args()
    if not list(Path(args.event).parent.glob(Path(args.event).name + "*")):
        print(f"interrupt.py: error: event {args.event} not found", file=sys.stderr)
        return 2
    rows = []
    for sampler in args.samplers:
        for delay in args.delays:
            row = one(args.event, sampler, delay)
            rows.append(row)
            what = ("finished first" if row["finished_before"] else
                    f"exit {row['returncode']} after {row['exit_after_signal_s']:.2f} s")
            print(f"{sampler:<9} SIGINT at {delay:4.1f} s: {what}", flush=True)
    stopped = [r for r in rows if not r["finished_before"]]
    worst = max((r["exit_after_signal_s"] for r in stopped), default=0.0)
    write_json(args.out, {"event": args.event, "runs": rows, "worst_exit_after_signal_s": worst,
                          "all_exit_130": all(r["returncode"] == 130 for r in stopped),
                          "measured": provenance("SIGINT at T s after the process started")})
    print(f"worst: {worst:.2f} s from signal to exit; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
