"""Full-detector events end to end: time, peak memory and physics of `qtrack solve` versus pile-up.

For each simulated event (``qtrack simulate`` output, one folder per pile-up: ``<data>/pu<N>``),
one untimed run warms the numba cache, then ``--repeats`` fresh processes are timed from process
start to exit (files written), with each process's peak resident memory (os.wait4). Recorded per
event: hits, median/min/max wall time, peak RSS, the pipeline's own stage times (build = luminous
region + doublets + triplets + couplers + QUBO), the QUBO's size and the focused-particle scores.
The load average before and after each event goes with it: the machine is shared.

    python benchmarks/full_detector.py [--data ../simdata] [--pileups 0 60 200] [--event 0]
                                       [--repeats 3] [-o benchmarks/results/full_detector.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's qtrack, in this process and (PYTHONPATH) the children

from harness import load_average, provenance, run_child  # noqa: E402
from qtrack.io import write_json  # noqa: E402

BUILD_STAGES = ("beamspot", "doublets", "triplets", "couplers", "qubo")
SCORES = ("focused_efficiency", "endcap_efficiency", "fake_rate", "duplicate_rate",
          "trackml_score", "oracle_score")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "simdata")
    p.add_argument("--pileups", type=int, nargs="+", default=[0, 60, 200])
    p.add_argument("--event", type=int, default=0, help="event number in every pile-up folder")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("-o", "--out", type=Path,
                   default=REPO / "benchmarks" / "results" / "full_detector.json")
    args = p.parse_args(argv)
    events = {pu: args.data / f"pu{pu}" / f"event{args.event:09d}" for pu in args.pileups}
    for pu, event in events.items():
        if not Path(f"{event}-hits.csv.gz").exists() and not Path(f"{event}-hits.csv").exists():
            print(f"full_detector: error: {event}-hits.csv(.gz) not found (give --data DIR, made "
                  f"with `qtrack simulate --pileup {pu}`)", file=sys.stderr)
            return 2
    results = {"measured": provenance("fresh `python -m qtrack solve` process per run after one "
                                      "untimed warm-up run; wall time from process start to exit; "
                                      "peak RSS via os.wait4; stage times from the summary file"),
               "repeats": args.repeats, "events": []}
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.TemporaryDirectory() as tmp:
        for pu, event in events.items():
            cmd = [sys.executable, "-m", "qtrack", "solve", str(event), "-o", tmp]
            load_before = load_average()
            runs = []
            for k in range(args.repeats + 1):
                r = run_child(cmd, env=env)
                if r["returncode"] != 0:
                    print(f"full_detector: error: {' '.join(cmd)} failed:\n{r['stderr'][-2000:]}",
                          file=sys.stderr)
                    return 1
                if k:  # the first run only warms the numba cache
                    summary = json.loads((Path(tmp) / f"{event.name}-summary.json").read_text())
                    t = summary["timings_s"]
                    runs.append({"wall_s": r["wall_s"], "maxrss_mb": r["maxrss_mb"],
                                 "build_s": sum(t.get(s, 0.0) for s in BUILD_STAGES),
                                 "stages_s": t})
            walls = [x["wall_s"] for x in runs]
            scores = summary["scores"] or {}
            row = {"pileup": pu, "event": str(event), "hits": summary["sizes"]["hits"],
                   "sizes": summary["sizes"],
                   "wall_median_s": statistics.median(walls), "wall_min_s": min(walls),
                   "wall_max_s": max(walls),
                   "build_median_s": statistics.median(x["build_s"] for x in runs),
                   "maxrss_max_mb": max(x["maxrss_mb"] for x in runs),
                   "scores": {k: scores.get(k) for k in SCORES},
                   "load_average_before": load_before, "load_average_after": load_average(),
                   "runs": runs}
            results["events"].append(row)
            print(f"PU{pu} ({row['hits']} hits): median {row['wall_median_s']:.1f} s "
                  f"[{row['wall_min_s']:.1f}-{row['wall_max_s']:.1f}], build "
                  f"{row['build_median_s']:.1f} s, peak {row['maxrss_max_mb']:.0f} MB, "
                  f"focused efficiency {scores.get('focused_efficiency')}, fake rate "
                  f"{scores.get('fake_rate')}, load {row['load_average_after']}", flush=True)
    results["build_time_vs_hits"] = [{"pileup": r["pileup"], "hits": r["hits"],
                                      "build_median_s": r["build_median_s"]}
                                     for r in results["events"]]
    write_json(args.out, results)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
