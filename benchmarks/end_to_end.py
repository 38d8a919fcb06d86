"""End-to-end time and peak memory of `qtrack solve`, process start to files written.

Each event is solved once untimed (so the numba cache is warm), then ``--repeats`` times in fresh
processes; the JSON records every run, the median and range, the peak resident memory of each
process, and the machine. Default events: the ~97 % barrel event with truth and the full-density
barrel hits without truth, as the core issue's targets name them.

    python benchmarks/end_to_end.py [--data ../shared/data/trackml] [--repeats 3] [-o FILE]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from harness import provenance, run_child  # noqa: E402
from qtrack.io import write_json  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
EVENTS = {
    "union (97 % barrel, truth)": "qallse_e1000_barrel_union/event000001000",
    "ez-1.0 (barrel, no truth)": "qallse_e1000_barrel_subsets/ez-1.0_hpt-1.0_notruth/event000001000",
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "trackml")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sampler", default="neal")
    p.add_argument("-o", "--out", type=Path, default=REPO / "benchmarks" / "results" / "end_to_end.json")
    args = p.parse_args(argv)
    if not args.data.is_dir():
        print(f"end_to_end: error: data directory {args.data} not found (give --data DIR)", file=sys.stderr)
        return 2
    results = {"measured": provenance("fresh `qtrack solve` process per run after one untimed warm-up "
                                      "run; wall time from process start to exit; peak RSS via os.wait4"),
               "sampler": args.sampler, "events": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for label, rel in EVENTS.items():
            event = args.data / rel
            if not Path(f"{event}-hits.csv").exists():
                print(f"end_to_end: error: {event}-hits.csv not found", file=sys.stderr)
                return 2
            cmd = [sys.executable, "-m", "qtrack", "solve", str(event), "--sampler", args.sampler,
                   "-o", tmp]
            runs = []
            for k in range(args.repeats + 1):
                r = run_child(cmd)
                if r["returncode"] != 0:
                    print(f"end_to_end: error: {' '.join(cmd)} failed:\n{r['stderr'][-2000:]}", file=sys.stderr)
                    return 1
                if k:  # the first run only warms the numba cache
                    summary = json.loads((Path(tmp) / f"{event.name}-summary.json").read_text())
                    runs.append({"wall_s": r["wall_s"], "maxrss_mb": r["maxrss_mb"],
                                 "stages_s": summary["timings_s"],
                                 "trackml_score": (summary["scores"] or {}).get("trackml_score")})
            walls = [r["wall_s"] for r in runs]
            results["events"][label] = {
                "event": str(event), "runs": runs, "wall_median_s": statistics.median(walls),
                "wall_min_s": min(walls), "wall_max_s": max(walls),
                "maxrss_max_mb": max(r["maxrss_mb"] for r in runs),
            }
            e = results["events"][label]
            print(f"{label}: median {e['wall_median_s']:.2f} s [{e['wall_min_s']:.2f}-{e['wall_max_s']:.2f}], "
                  f"peak {e['maxrss_max_mb']:.0f} MB, TrackML {runs[-1]['trackml_score']}")
    write_json(args.out, results)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
