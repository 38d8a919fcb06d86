"""Time `qtrack simulate` at pile-up 200 (ttbar + Poisson(200) minimum bias, seed 1) and check the
events against the issue's targets: 120k-180k hits, all nine volumes, ~10 % noise, double hits.

The events are simulated in this process one after the other (the detector is built once,
timed apart as set-up); the JSON records every event's sizes and per-stage times, and the
medians. Also one run of the same events with --workers 2 in a fresh `qtrack simulate` process,
wall time from process start, to compare against the serial per-event time.

    python benchmarks/simulate.py [--events 5] [--pileup 200] [-o FILE]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qtrack.benchmark import load_average, provenance, write_json
from qtrack.simulate import SimulationConfig, run

REPO = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=5)
    p.add_argument("--pileup", type=float, default=200.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("-o", "--out", type=Path, default=REPO / "benchmarks" / "results" / "simulate.json")
    args = p.parse_args(argv)
    cfg = SimulationConfig(pileup=args.pileup, seed=args.seed)
    results = {"measured": provenance("serial run() in this process: set-up once, then per-event "
                                      "stage times; plus one fresh `qtrack simulate --workers 2` "
                                      "process over the same events, wall time from process start")}
    with tempfile.TemporaryDirectory() as tmp:
        record = run(cfg, Path(tmp) / "serial", events=args.events, progress=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "qtrack", "simulate", "-o", str(Path(tmp) / "parallel"),
                        "--events", str(args.events), "--pileup", str(args.pileup), "--seed", str(args.seed),
                        "--workers", "2", "--no-progress", "-q"], check=True)
        parallel_wall = time.perf_counter() - t0
        same = all((Path(tmp) / "serial" / f.name).read_bytes() == f.read_bytes()
                   for f in sorted((Path(tmp) / "parallel").glob("event*.csv.gz")))
    events = record["per_event"]
    stages = events[0]["timings_s"].keys()
    median = statistics.median
    signal = [e["hits"] - e["noise_hits"] for e in events]
    results.update({
        "config": record["config"],
        "versions": record["versions"],
        "events": len(events),
        "setup_s": record["setup_s"],
        "median": {
            "hits": median(e["hits"] for e in events),
            "noise_fraction": median(e["noise_hits"] / e["hits"] for e in events),
            "double_hit_fraction_of_particle_hits": median(e["double_hits"] / s for e, s in zip(events, signal)),
            "vertices": median(e["vertices"] for e in events),
            "seconds_per_event": {k: median(e["timings_s"][k] for e in events) for k in stages},
        },
        "hits_range": [min(e["hits"] for e in events), max(e["hits"] for e in events)],
        "all_nine_volumes_in_every_event": all(len(e["volumes"]) == 9 for e in events),
        "parallel_workers_2": {"wall_s_from_process_start": parallel_wall,
                               "seconds_per_event": parallel_wall / len(events),
                               "files_identical_to_serial": same},
        "load_average_after": load_average(),
        "per_event": events,
    })
    write_json(args.out, results)
    m = results["median"]
    print(f"{len(events)} events at PU {args.pileup:g}: median {m['hits']:.0f} hits (range {results['hits_range']}), "
          f"noise {m['noise_fraction']:.3f}, double hits {m['double_hit_fraction_of_particle_hits']:.3f}, "
          f"{m['seconds_per_event']['total']:.1f} s/event serial, {parallel_wall / len(events):.1f} s/event "
          f"with 2 workers (same files: {same}) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
