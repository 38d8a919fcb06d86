"""Full-detector events end to end: time, peak memory and physics of `qtrack solve` versus pile-up.

For each simulated event (``qtrack simulate`` output, one folder per pile-up: ``<data>/pu<N>``),
one untimed run warms the numba cache, then ``--repeats`` fresh processes are timed from process
start to exit (files written), with each process's peak resident memory (os.wait4). Recorded per
event: hits, median/min/max wall time, peak RSS, the pipeline's own stage times (build = luminous
region + doublets + triplets + couplers + QUBO), the QUBO's size and the focused-particle scores.
The load average before and after each event goes with it: the machine is shared.

    python benchmarks/full_detector.py [--data ../simdata] [--pileups 0 60 200] [--event 0]
                                       [--repeats 3] [--config fast] [--baseline DIR]
                                       [-o benchmarks/results/full_detector.json]

``--config`` is passed to every ``qtrack solve``. ``--baseline DIR`` (another checkout of qtrack,
e.g. ``git worktree add ../base <commit>``) times the same commands with that checkout's qtrack,
its runs alternating with this one's, and records each event's ratio of medians.
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
    p.add_argument("--config", help="passed to qtrack solve --config (a TOML file or preset)")
    p.add_argument("--baseline", type=Path,
                   help="another qtrack checkout to time the same commands with")
    p.add_argument("-o", "--out", type=Path,
                   default=REPO / "benchmarks" / "results" / "full_detector.json")
    args = p.parse_args(argv)
    args.data = args.data.resolve()
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
    if args.baseline and not (args.baseline / "qtrack" / "__init__.py").exists():
        print(f"full_detector: error: --baseline {args.baseline}: not a qtrack checkout "
              f"(no qtrack/__init__.py)", file=sys.stderr)
        return 2
    envs = {"this": _env(REPO)}
    if args.baseline:
        envs["baseline"] = _env(args.baseline.resolve())
    config = args.config
    if config and Path(config).exists():
        config = str(Path(config).resolve())
    extra = ["--config", config] if config else []
    results["config"] = args.config
    with tempfile.TemporaryDirectory() as tmp:
        for pu, event in events.items():
            cmd = [sys.executable, "-m", "qtrack", "solve", str(event), "-o", tmp, *extra]
            load_before = load_average()
            runs = {name: [] for name in envs}
            for k in range(args.repeats + 1):
                for name, env in envs.items():
                    # From the temporary folder: ``python -m`` puts the working directory
                    # first on sys.path, before PYTHONPATH's checkout.
                    r = run_child(cmd, env=env, cwd=tmp)
                    if r["returncode"] != 0:
                        print(f"full_detector: error: {' '.join(cmd)} ({name}) failed:\n"
                              f"{r['stderr'][-2000:]}", file=sys.stderr)
                        return 1
                    if k:  # the first run only warms the numba cache
                        summary = json.loads((Path(tmp) / f"{event.name}-summary.json").read_text())
                        t = summary["timings_s"]
                        runs[name].append({"wall_s": r["wall_s"], "maxrss_mb": r["maxrss_mb"],
                                           "build_s": sum(t.get(s, 0.0) for s in BUILD_STAGES),
                                           "stages_s": t,
                                           "trackml_score": (summary["scores"] or {}).get(
                                               "trackml_score")})
                        if name == "this":
                            this_summary = summary
            summary = this_summary
            walls = [x["wall_s"] for x in runs["this"]]
            scores = summary["scores"] or {}
            row = {"pileup": pu, "event": f"<simdata>/{event.relative_to(args.data)}", "hits": summary["sizes"]["hits"],
                   "sizes": summary["sizes"], "passes": summary.get("passes"),
                   "wall_median_s": statistics.median(walls), "wall_min_s": min(walls),
                   "wall_max_s": max(walls),
                   "build_median_s": statistics.median(x["build_s"] for x in runs["this"]),
                   "maxrss_max_mb": max(x["maxrss_mb"] for x in runs["this"]),
                   "scores": {k: scores.get(k) for k in SCORES},
                   "load_average_before": load_before, "load_average_after": load_average(),
                   "runs": runs["this"]}
            if "baseline" in runs:
                base = [x["wall_s"] for x in runs["baseline"]]
                row["baseline"] = {"wall_median_s": statistics.median(base),
                                   "maxrss_max_mb": max(x["maxrss_mb"] for x in runs["baseline"]),
                                   "trackml_score": runs["baseline"][-1]["trackml_score"],
                                   "runs": runs["baseline"]}
                row["speedup_median"] = statistics.median(base) / row["wall_median_s"]
            results["events"].append(row)
            print(f"PU{pu} ({row['hits']} hits): median {row['wall_median_s']:.1f} s "
                  f"[{row['wall_min_s']:.1f}-{row['wall_max_s']:.1f}], build "
                  f"{row['build_median_s']:.1f} s, peak {row['maxrss_max_mb']:.0f} MB, "
                  f"TrackML {scores.get('trackml_score')}, focused efficiency "
                  f"{scores.get('focused_efficiency')}, fake rate {scores.get('fake_rate')}"
                  + (f", baseline {row['baseline']['wall_median_s']:.1f} s "
                     f"({row['speedup_median']:.2f}x)" if "baseline" in row else "")
                  + f", load {row['load_average_after']}", flush=True)
    results["build_time_vs_hits"] = [{"pileup": r["pileup"], "hits": r["hits"],
                                      "build_median_s": r["build_median_s"]}
                                     for r in results["events"]]
    write_json(args.out, results)
    print(f"wrote {args.out}")
    return 0


def _env(checkout: Path) -> dict:
    return dict(os.environ, PYTHONPATH=str(checkout) + os.pathsep + os.environ.get("PYTHONPATH", ""))


if __name__ == "__main__":
    sys.exit(main())
