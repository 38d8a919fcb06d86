"""Pile-up scan: focused efficiency, fake rate, TrackML score and time per event against the mean
pile-up, over several simulated events per point, solved with the runner (qtrack.runner).

DATA holds one directory of events per pile-up point, named ``pu<N>`` (``pu0``, ``pu20``, ...),
as made by ``qtrack simulate --pileup N --events K -o DATA/puN``; every hit of each event is
solved (barrel and endcaps) with the default config. Efficiencies are the issue's focused ones
(``qtrack.scoring.score_tracks``). The events are solved on a local Dask cluster
(``--workers``, default 2); per-event outputs go to ``--work`` and are reused by a rerun with the
same settings (the runner's resume). Time per event is the worker's wall time from reading the
files to the scores (``time_total_s``), measured while the other workers run too.

Writes to ``--out`` (experiments/results): pileup_scan.json (per point: mean, standard deviation,
min and max over events; how it was measured), pileup_scan.csv (every event), pileup_scan.png.

    python experiments/pileup_scan.py DATA [--pileups 0 20 60 140 200] [--workers 2]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks.harness

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "experiments" / "results"
QUANTITIES = {"focused_efficiency": "focused efficiency", "endcap_efficiency": "endcap efficiency",
              "fake_rate": "fake rate", "duplicate_rate": "duplicate rate",
              "trackml_score": "TrackML score", "oracle_score": "oracle TrackML score",
              "time_total_s": "time per event (s)", "hits": "hits",
              "qubo_variables": "QUBO variables", "peak_rss_mb": "peak RSS (MB)"}
METHOD = ("qtrack.runner on a local Dask cluster (single-threaded workers, solve.threads from the "
          "default config), default config, sampler neal; per event: the worker's wall time from "
          "reading the files to the scores, peak RSS of the worker process; statistics over events")


def _stats(values) -> dict:
    values = [float(v) for v in values if pd.notna(v)]
    if not values:
        return {}
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path, help="directory holding pu<N>/ directories of events")
    p.add_argument("--pileups", type=int, nargs="+", default=[0, 20, 60, 140, 200])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--max-events", type=int, default=None, help="at most this many events per point")
    p.add_argument("--work", type=Path, default=RESULTS / "tmp" / "pileup_scan",
                   help="per-event outputs (kept, so a rerun resumes)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)

    import qtrack
    from benchmarks.harness import provenance
    from qtrack.io import write_json
    from qtrack.errors import QtrackError
    from qtrack.runner import expand_events, run_events
    from qtrack.runner.cluster import connect

    points = {}
    for pu in args.pileups:
        directory = args.data / f"pu{pu}"
        try:
            points[pu] = expand_events([str(directory)])[: args.max_events]
        except QtrackError as exc:
            print(f"pileup_scan: error: {exc} (make it with: qtrack simulate --pileup {pu} --events 5 "
                  f"-o {directory})", file=sys.stderr)
            return 2
    measured = provenance(METHOD)
    frames = []
    with connect(workers=args.workers) as client:
        for pu, events in points.items():
            report = run_events(events, args.work / f"pu{pu}", "neal", qtrack.Config(), client=client,
                                progress=sys.stderr.isatty())
            print(f"PU {pu}: {report.tally()}", flush=True)
            frame = pd.DataFrame(report.rows)
            frame.insert(0, "pileup", pu)
            frames.append(frame)
    runs = pd.concat(frames, ignore_index=True)
    ok = runs[runs.status.isin(["ok", "skipped"])]
    summary = {pu: {q: _stats(g[q]) for q in QUANTITIES if q in g} | {"events": len(g)}
               for pu, g in ok.groupby("pileup")}
    args.out.mkdir(parents=True, exist_ok=True)
    columns = ["pileup", "event", "status", "error"] + [q for q in QUANTITIES if q in runs] + ["worker"]
    runs[columns].to_csv(args.out / "pileup_scan.csv", index=False)
    write_json(args.out / "pileup_scan.json", {
        "measured": measured, "data": str(args.data), "workers": args.workers,
        "config_hash": runs.config_hash.dropna().iloc[0] if runs.config_hash.notna().any() else None,
        "failed_events": runs[runs.status == "failed"][["pileup", "event", "error"]].to_dict("records"),
        "points": {str(k): v for k, v in summary.items()}})
    plot(runs, summary, args.out / "pileup_scan.png", measured)
    for pu, s in summary.items():
        print(f"PU {pu:>3}: {s['events']} events, {s['hits']['mean']:.0f} hits, focused efficiency "
              f"{s['focused_efficiency']['mean']:.3f} ± {s['focused_efficiency']['std']:.3f}, fake rate "
              f"{s['fake_rate']['mean']:.3f} ± {s['fake_rate']['std']:.3f}, "
              f"{s['time_total_s']['mean']:.2f} ± {s['time_total_s']['std']:.2f} s/event")
    return 0


def plot(runs: pd.DataFrame, summary: dict, path: Path, measured: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmarks.harness import short_machine

    ok = runs[runs.status.isin(["ok", "skipped"])]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.8))
    for ax, q in zip(axes, ["focused_efficiency", "fake_rate", "trackml_score", "time_total_s"]):
        ax.plot(ok.pileup, ok[q], "o", color="0.7", ms=3, label="events")
        pus = sorted(summary)
        ax.errorbar(pus, [summary[p][q]["mean"] for p in pus], [summary[p][q]["std"] for p in pus],
                    fmt="s-", color="C0", capsize=3, label="mean ± std")
        ax.set_xlabel("mean pile-up")
        ax.set_title(QUANTITIES[q])
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.text(0.01, 0.01, f"{METHOD}; {short_machine(measured['machine'])}; load at start "
             f"{measured['load_average_1_5_15min']}", fontsize=6, color="0.4", wrap=True)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
