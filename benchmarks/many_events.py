"""Events per minute through the runner: in-process, and on a local Dask cluster of 1 and 2 workers.

All three solve the same events with the same config (``--force``, so nothing is skipped) into a
scratch directory, outputs and results table included. Clusters are started once and kept for
all repeats (their start-up is reported on its own); the three modes are interleaved in each
repeat so that the machine's load, which other sessions share, hits them alike. The load average
is recorded with every timing. Per-event cluster overhead = (1-worker time - in-process time) /
events.

    python benchmarks/many_events.py DIR [--repeats 5] [--threads N] [-o FILE]

DIR holds the events (anything ``qtrack solve`` takes: a directory of events, a glob).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import qtrack
from qtrack.benchmark import load_average, provenance, write_json
from qtrack.errors import QtrackError
from qtrack.runner import expand_events, run_events
from qtrack.runner.cluster import connect, prepare
from qtrack.runner.task import warm_up

REPO = Path(__file__).resolve().parent.parent
TARGET = 1.6  # 2 workers vs 1 worker, issue 11


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("events", nargs="+", help="directory of events (or globs, prefixes)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--sampler", default="neal")
    p.add_argument("--threads", type=int, default=None,
                   help="solve.threads (default: the config's, %d)" % qtrack.Config().solve.threads)
    p.add_argument("-o", "--out", type=Path, default=REPO / "benchmarks" / "results" / "many_events.json")
    args = p.parse_args(argv)
    try:
        events = expand_events(args.events)
    except QtrackError as exc:
        print(f"many_events: error: {exc} (give a directory of events, e.g. one made by "
              f"`qtrack simulate`)", file=sys.stderr)
        return 2
    config = qtrack.Config()
    if args.threads:
        config = config.replace(solve={"threads": args.threads})
    n = len(events)
    runs = {"in_process": [], "workers_1": [], "workers_2": []}
    startup = {}
    table = None
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        warm_up(args.sampler, config)
        clients = {}
        for workers in (1, 2):
            t0 = time.perf_counter()
            client = stack.enter_context(connect(workers=workers))
            prepare(client, args.sampler, config)
            startup[f"workers_{workers}"] = round(time.perf_counter() - t0, 2)
            clients[f"workers_{workers}"] = client
        for repeat in range(args.repeats):
            for mode in runs:
                load = load_average()
                t0 = time.perf_counter()
                report = run_events(events, Path(tmp) / mode, args.sampler, config, force=True,
                                    client=clients.get(mode))
                wall = time.perf_counter() - t0
                if report.failed:
                    print(f"many_events: error: {report.tally()}", file=sys.stderr)
                    return 1
                runs[mode].append({"wall_s": round(wall, 3), "events_per_min": round(60 * n / wall, 2),
                                   "load_before": load, "load_after": load_average()})
                print(f"repeat {repeat + 1}/{args.repeats} {mode:<10} {wall:7.2f} s  "
                      f"{60 * n / wall:7.1f} events/min  load {load}", flush=True)
                table = report.rows
    median = {mode: statistics.median(r["wall_s"] for r in rs) for mode, rs in runs.items()}
    per_event = [r.get("time_total_s") for r in table]
    result = {
        "measured": provenance("runner over the same events, --force, outputs written; clusters "
                               "started once; modes interleaved per repeat; median wall time"),
        "events": [str(e) for e in events],
        "n_events": n,
        "hits_per_event_mean": round(statistics.mean(r["hits"] for r in table), 1),
        "solve_time_per_event_s_mean": round(statistics.mean(per_event), 3),
        "sampler": args.sampler,
        "threads": config.solve.threads,
        "config_hash": table[0]["config_hash"],
        "repeats": args.repeats,
        "cluster_startup_s": startup,
        "runs": runs,
        "median_wall_s": median,
        "events_per_min": {mode: round(60 * n / t, 2) for mode, t in median.items()},
        "speedup_2_vs_1_workers": round(median["workers_1"] / median["workers_2"], 3),
        "speedup_2_workers_vs_in_process": round(median["in_process"] / median["workers_2"], 3),
        "cluster_overhead_per_event_s": round((median["workers_1"] - median["in_process"]) / n, 4),
        "target_2_vs_1": TARGET,
    }
    result["target_reached"] = result["speedup_2_vs_1_workers"] >= TARGET
    write_json(args.out, result)
    print(f"events/min: {result['events_per_min']}  2 vs 1 workers: {result['speedup_2_vs_1_workers']}x "
          f"(target {TARGET}x)  overhead/event: {result['cluster_overhead_per_event_s']} s  -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
