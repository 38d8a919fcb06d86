"""Events per minute through the runner: in-process, and on a local Dask cluster of 1 and 2 workers.

All three solve the same events with the same config (``--force``, so nothing is skipped) into a
scratch directory, outputs and results table included. Clusters are started once and kept for
all repeats (their start-up is reported on its own); the three modes are interleaved in each
repeat so that the machine's load, which other sessions share, hits them alike. The load average
is recorded with every timing. Per-event cluster overhead = (1-worker time - in-process time) /
events.

    python benchmarks/many_events.py DIR [--repeats 5] [--threads 1 2] [-o FILE]

DIR holds the events (anything ``qtrack solve`` takes: a directory of events, a glob). Each
``--threads`` value is a ``solve.threads`` setting measured in all three modes: with the default
of 2, one worker already uses both cores while sampling, which caps what a second worker adds on a
2-core machine; with 1, each worker uses one core.
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
from harness import load_average, provenance  # noqa: E402
from qtrack.io import write_json  # noqa: E402
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
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                   help="solve.threads settings to measure (the config's default is %d)"
                   % qtrack.Config().solve.threads)
    p.add_argument("-o", "--out", type=Path, default=REPO / "benchmarks" / "results" / "many_events.json")
    args = p.parse_args(argv)
    try:
        events = expand_events(args.events)
    except QtrackError as exc:
        print(f"many_events: error: {exc} (give a directory of events, e.g. one made by "
              f"`qtrack simulate`)", file=sys.stderr)
        return 2
    n = len(events)
    configs = {t: qtrack.Config().replace(solve={"threads": t}) for t in args.threads}
    modes = ("in_process", "workers_1", "workers_2")
    runs = {(t, mode): [] for t in configs for mode in modes}
    startup, rows = {}, {}
    measured = provenance("runner over the same events, force=True, outputs and table written; "
                          "clusters started once and kept; modes and thread settings interleaved "
                          "in every repeat; median wall time over repeats")
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        for config in configs.values():
            warm_up(args.sampler, config)
        clients = {}
        for workers in (1, 2):
            t0 = time.perf_counter()
            client = stack.enter_context(connect(workers=workers))
            for config in configs.values():
                prepare(client, args.sampler, config)
            startup[f"workers_{workers}"] = round(time.perf_counter() - t0, 2)
            clients[f"workers_{workers}"] = client
        for repeat in range(args.repeats):
            for (threads, mode), timings in runs.items():
                load = load_average()
                t0 = time.perf_counter()
                report = run_events(events, Path(tmp) / mode, args.sampler, configs[threads], force=True,
                                    client=clients.get(mode))
                wall = time.perf_counter() - t0
                if report.failed:
                    print(f"many_events: error: {report.tally()}", file=sys.stderr)
                    return 1
                timings.append({"wall_s": round(wall, 3), "events_per_min": round(60 * n / wall, 2),
                                "load_before": load, "load_after": load_average(),
                                "event_time_s_median": statistics.median(r["time_total_s"] for r in report.rows)})
                rows[threads] = report.rows
                print(f"repeat {repeat + 1}/{args.repeats} threads {threads} {mode:<10} {wall:7.2f} s  "
                      f"{60 * n / wall:7.1f} events/min  load {load}", flush=True)
    result = {"measured": measured, "events": [str(e) for e in events], "n_events": n,
              "hits_per_event_mean": round(statistics.mean(r["hits"] for r in rows[args.threads[0]]), 1),
              "sampler": args.sampler, "repeats": args.repeats, "cluster_startup_s": startup,
              "target_2_vs_1_workers": TARGET, "by_threads": {}}
    for threads in configs:
        median = {m: statistics.median(r["wall_s"] for r in runs[threads, m]) for m in modes}
        r = {"config_hash": rows[threads][0]["config_hash"],
             "runs": {m: runs[threads, m] for m in modes},
             "median_wall_s": median,
             "events_per_min": {m: round(60 * n / t, 2) for m, t in median.items()},
             "speedup_2_vs_1_workers": round(median["workers_1"] / median["workers_2"], 3),
             "speedup_2_workers_vs_in_process": round(median["in_process"] / median["workers_2"], 3),
             "cluster_overhead_per_event_s": round((median["workers_1"] - median["in_process"]) / n, 4)}
        r["target_reached"] = r["speedup_2_vs_1_workers"] >= TARGET
        result["by_threads"][str(threads)] = r
        print(f"threads {threads}: events/min {r['events_per_min']}  2 vs 1 workers "
              f"{r['speedup_2_vs_1_workers']}x (target {TARGET}x)  cluster overhead/event "
              f"{r['cluster_overhead_per_event_s']} s")
    write_json(args.out, result)
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
