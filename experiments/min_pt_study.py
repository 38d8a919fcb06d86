"""The doublets' pT threshold (issue item 6): qtrack at its default ``doublets.min_pt`` and lower,
down to 0.5 GeV, on full-detector simulated events: efficiency, fakes, sizes, time and peak memory.

For every event (the first ``--events`` of ``--data``, required, 2 events) and
every threshold (``--min-pt``, default: the configured ``doublets.min_pt``, 0.75 GeV, and 0.5 GeV),
one fresh child process (this script with ``--child``) first solves the shipped full-detector event
(data/sim/event000000001, pile-up 20) with 2 reads of 50 sweeps at the same threshold, so that
numba's compiled kernels are loaded before anything is timed, then runs
``qtrack.solve(event, sampler="neal", seed=1, min_pt=X)``, every other setting at its default
(or as ``--set NAME=VALUE`` gives it, for every run), and prints its numbers as JSON. Recorded per
run:

* physics, the issue's definitions (``qtrack.scoring``): focused efficiency (pT >= 1 GeV at
  production, vertex r <= 10 mm, hits on >= 5 distinct layers), endcap efficiency (the focused
  particles with a hit on a disk), the efficiency of the particles with 0.5 <= pT < 1 GeV and the
  same other conditions, fake and duplicate rates (qtrack keeps tracks of >= 5 hits only, so these
  are the issue's), TrackML score and the oracle's;
* sizes: hits, doublets, triplets, quadruplets, QUBO variables and couplers, tracks;
* time: every stage of ``Result.timings`` (load .. score), the ``qtrack.solve`` call (load to
  scores) and the child from process start to exit (imports and warm-up included);
* memory: the child's peak resident set size, ``ru_maxrss`` of that child alone
  (``benchmarks.harness.run_child``, ``os.wait4``), and its peak after the warm-up (the floor:
  interpreter, libraries, warm-up event);
* the 1-minute load average before and after each run: the machine (2 cores) is shared.

A child that fails (non-zero exit, killed by a signal, e.g. by the kernel when memory runs out,
or stopped after ``--timeout`` seconds) is recorded with its exit status and the last line of its
error output, and the study goes on; the script then exits 1 after writing its files (0 when
every run finished, 2 on bad arguments or missing data).

Writes min_pt_study.json (every run, a summary per threshold: efficiencies pooled over the events,
medians of the rest, how it was measured) and min_pt_study.csv (one row per run) to ``--out``.

    python experiments/min_pt_study.py                      # PU200 events 0 and 1, 0.75 and 0.5 GeV
    python experiments/min_pt_study.py --data simdata/pu20 --events 1 --out minpt_test
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks.harness
import _common as C  # noqa: E402

#: Solved first in every child at the run's threshold: a full-detector event (endcaps, double
#: hits), so the kernels the measured event needs are the ones loaded.
WARMUP_EVENT = C.REPO / "data" / "sim" / "event000000001"
#: The band below the focused particles' 1 GeV that a lower threshold is meant to reach (GeV).
BAND = (0.5, 1.0)
METHOD = ("one fresh child process per (event, threshold): untimed warm-up on the shipped PU20 "
          "event (2 reads x 50 sweeps), then qtrack.solve(event, sampler='neal', seed, min_pt); "
          "stage times from Result.timings; peak RSS of that child via os.wait4; load average "
          "before and after each run")
SCORES = ("focused_efficiency", "endcap_efficiency", "fake_rate", "duplicate_rate", "trackml_score",
          "oracle_score")
SIZES = ("hits", "doublets", "triplets", "quadruplets", "qubo_variables", "qubo_couplers",
         "qubo_quadruplet_couplers", "qubo_conflict_couplers", "tracks")


def default_min_pt() -> float:
    from qtrack.config import Config

    return Config().doublets.min_pt


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", type=Path, default=None,
                   help="directory of qtrack-simulated events with truth and particles (required)")
    p.add_argument("--events", type=int, default=2, help="events to solve (the first K of --data)")
    p.add_argument("--min-pt", type=float, nargs="+", default=None,
                   help="doublets.min_pt values in GeV (default: the configured one, then 0.5)")
    p.add_argument("--seed", type=int, default=1, help="qtrack's solve seed")
    p.add_argument("--set", dest="settings", metavar="NAME=VALUE", nargs="+", default=[],
                   help="other qtrack settings for every run, by their bare config name (e.g. "
                        "tplet_max_curv=1.2e-3)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds a child may run")
    p.add_argument("--out", type=Path, default=C.RESULTS, help="directory for the results")
    p.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.settings = parse_settings(args.settings)
    if args.child is not None:
        return args
    from qtrack.config import Config
    from qtrack.errors import QtrackError
    from qtrack.runner import expand_events

    if args.min_pt is None:
        args.min_pt = [default_min_pt(), 0.5]
    for value in args.min_pt:
        try:
            Config().with_settings(min_pt=value)
        except QtrackError as exc:
            C.fail(f"--min-pt {value}: {exc}")
    try:
        Config().with_settings(**args.settings)
    except QtrackError as exc:
        C.fail(f"--set: {exc}")
    if args.events < 1:
        C.fail(f"--events {args.events}: expected at least 1")
    if args.timeout <= 0:
        C.fail(f"--timeout {args.timeout}: expected a positive number of seconds")
    C.require_data(args.data, "events made by qtrack simulate")
    try:
        events = expand_events([str(args.data)])
    except QtrackError as exc:
        C.fail(str(exc))
    if len(events) < args.events:
        C.fail(f"{args.data}: {len(events)} event(s), --events asks for {args.events}")
    args.prefixes = events[:args.events]
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def parse_settings(items: list[str]) -> dict:
    """``NAME=VALUE`` strings as settings; a value is read as JSON (numbers, true/false) when it
    can be, else kept as text."""
    out = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            C.fail(f"--set {item}: expected NAME=VALUE")
        if name == "min_pt":
            C.fail("--set min_pt: give the thresholds with --min-pt")
        try:
            out[name] = json.loads(text)
        except json.JSONDecodeError:
            out[name] = text
    return out


# --------------------------------------------------------------------------------------------------
# In the child


def band_counts(event, track_id: np.ndarray, pt_min: float, pt_max: float) -> dict:
    """Particles with pt_min <= pT < pt_max at production and the focused particles' other
    conditions (vertex r <= 10 mm, >= 5 distinct layers), and how many of them a track matches.
    ``track_id``: one per row of ``event.truth``."""
    from qtrack.scoring import focused_particles, matched_particles

    p = focused_particles(event.hits, event.truth, event.particles, min_pt=pt_min)
    p = p[p.pt.to_numpy() < pt_max]
    found = np.isin(p.particle_id.to_numpy(), matched_particles(track_id, event.truth.particle_id.to_numpy()))
    return {"particles": len(p), "found": int(found.sum())}


def child(prefix: Path, min_pt: float, seed: int, settings: dict) -> dict:
    """One solve of ``prefix`` at ``min_pt`` after the warm-up: what the parent records."""
    import resource

    import qtrack
    from qtrack.scoring import align

    t = time.perf_counter()
    qtrack.solve(WARMUP_EVENT, sampler="neal", seed=seed, min_pt=min_pt,
                 **(settings | {"num_reads": 2, "num_sweeps": 50}))
    warmup = time.perf_counter() - t
    rss_warm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    t = time.perf_counter()
    res = qtrack.solve(prefix, sampler="neal", seed=seed, min_pt=min_pt, **settings)
    solve_wall = time.perf_counter() - t
    event, scores = res.event, res.scores
    if not event.has_truth or "focused_efficiency" not in scores:
        raise SystemExit(f"{prefix}: needs truth and a particles file with vx, vy, vz, px, py, pz")
    track_id = align(event.truth.hit_id.to_numpy(), res.submission.hit_id.to_numpy(),
                     res.submission.track_id.to_numpy())
    band = band_counts(event, track_id, *BAND)
    sizes = res.sizes()
    return {
        "min_pt_config": res.config.doublets.min_pt,
        **{k: scores[k] for k in ("focused_particles", "focused_found", "endcap_particles",
                                  "endcap_found")},
        "band_particles": band["particles"], "band_found": band["found"],
        "band_efficiency": band["found"] / band["particles"] if band["particles"] else float("nan"),
        **{k: scores[k] for k in SCORES},
        **{k: sizes[k] for k in ("hits", "doublets", "triplets", "quadruplets", "qubo_variables",
                                 "qubo_quadruplet_couplers", "qubo_conflict_couplers")},
        "qubo_couplers": res.qubo.num_couplers, "tracks": len(res.tracks),
        "stages_s": res.timings, "solve_wall_s": solve_wall, "warmup_s": warmup,
        "rss_after_warmup_mb": rss_warm,
    }


# --------------------------------------------------------------------------------------------------
# In the parent


def failure(r: dict, timeout: float) -> dict:
    """Status and error line of a child that did not finish."""
    last = (r["stderr"].strip().splitlines() or ["(no error output)"])[-1][:300]
    rc = r["returncode"]
    if r["timed_out"]:
        return {"status": "timed out", "error": f"stopped after {timeout:.0f} s"}
    if rc < 0:
        name = signal.Signals(-rc).name
        why = " (the kernel's out-of-memory killer sends this)" if -rc == signal.SIGKILL else ""
        return {"status": "killed", "error": f"killed by {name}{why}; last output: {last}"}
    return {"status": "failed", "error": f"exit {rc}: {last}"}


def run_one(prefix: Path, min_pt: float, args) -> dict:
    from benchmarks.harness import load_average, run_child

    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(prefix), "--min-pt", str(min_pt),
           "--seed", str(args.seed)]
    if args.settings:
        cmd += ["--set", *(f"{k}={json.dumps(v)}" for k, v in args.settings.items())]
    # the child imports this checkout's qtrack, as the parent does
    path = [str(C.REPO), os.environ.get("PYTHONPATH")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in path if p))
    # "default": every setting at its default (no --set), the configured threshold
    row = {"event": prefix.name, "min_pt": min_pt,
           "default": min_pt == default_min_pt() and not args.settings}
    before = load_average()
    r = run_child(cmd, timeout=args.timeout, env=env)
    after = load_average()
    row.update({"status": "ok", "error": "", "returncode": r["returncode"],
                "process_wall_s": r["wall_s"], "peak_rss_mb": r["maxrss_mb"],
                "load_average_1min_before": before[0] if before else None,
                "load_average_1min_after": after[0] if after else None})
    if r["returncode"] != 0 or r["timed_out"]:
        row.update(failure(r, args.timeout))
        return row
    out = json.loads(r["stdout"].strip().splitlines()[-1])
    stages = out.pop("stages_s")
    row.update(out)
    row.update({f"time_{k}_s": v for k, v in stages.items()})
    return row


def _ratio(k: int, n: int) -> float:
    return k / n if n else float("nan")


def summarize(runs: list[dict]) -> list[dict]:
    """Per threshold: efficiencies pooled over the events that finished, medians of the rest."""
    out = []
    for min_pt in dict.fromkeys(r["min_pt"] for r in runs):
        rows = [r for r in runs if r["min_pt"] == min_pt]
        ok = [r for r in rows if r["status"] == "ok"]
        s = {"min_pt": min_pt, "default": rows[0]["default"], "events": len(rows), "events_ok": len(ok),
             "failures": [f"{r['event']}: {r['error']}" for r in rows if r["status"] != "ok"],
             "peak_rss_mb_max": max(r["peak_rss_mb"] for r in rows)}
        if ok:
            total = {k: sum(r[k] for r in ok) for k in ("focused_particles", "focused_found",
                                                        "endcap_particles", "endcap_found",
                                                        "band_particles", "band_found")}
            s.update({"focused_efficiency": _ratio(total["focused_found"], total["focused_particles"]),
                      "endcap_efficiency": _ratio(total["endcap_found"], total["endcap_particles"]),
                      "band_efficiency": _ratio(total["band_found"], total["band_particles"]),
                      **total})
            median = ["fake_rate", "duplicate_rate", "trackml_score", "oracle_score", *SIZES,
                      "solve_wall_s", "process_wall_s", "peak_rss_mb", "rss_after_warmup_mb",
                      "load_average_1min_before"]
            median += [k for k in ok[0] if k.startswith("time_")]
            s.update({f"{k}_median": statistics.median(r[k] for r in ok) for k in median
                      if all(r.get(k) is not None for r in ok)})
        out.append(s)
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        min_pt = args.min_pt[0] if args.min_pt else default_min_pt()
        print(json.dumps(child(args.child, min_pt, args.seed, args.settings), default=float))
        return 0
    import pandas as pd

    from benchmarks.harness import provenance
    from qtrack.io import write_csv, write_json

    measured = provenance(METHOD)
    t0 = time.perf_counter()
    runs = []
    for prefix in args.prefixes:
        for min_pt in args.min_pt:
            row = run_one(prefix, min_pt, args)
            runs.append(row)
            if row["status"] == "ok":
                print(f"{row['event']} min_pt {min_pt}: {row['hits']} hits, {row['doublets']} doublets, "
                      f"{row['qubo_variables']} variables; focused {row['focused_efficiency']:.3f}, endcap "
                      f"{row['endcap_efficiency']:.3f}, 0.5-1 GeV {row['band_efficiency']:.3f}, fake "
                      f"{row['fake_rate']:.4f}, TrackML {row['trackml_score']:.3f}; solve "
                      f"{row['solve_wall_s']:.1f} s, process {row['process_wall_s']:.1f} s, peak "
                      f"{row['peak_rss_mb']:.0f} MB (load {row['load_average_1min_before']})", flush=True)
            else:
                print(f"{row['event']} min_pt {min_pt}: {row['status']}: {row['error']}", flush=True)
    measured["elapsed_s"] = round(time.perf_counter() - t0, 1)
    summary = summarize(runs)
    write_json(args.out / "min_pt_study.json",
               {"measured": measured, "data": str(args.data), "seed": args.seed,
                "settings": args.settings, "band_gev": BAND,
                "warmup_event": str(WARMUP_EVENT), "runs": runs, "summary": summary})
    write_csv(args.out / "min_pt_study.csv", pd.DataFrame(runs))
    for s in summary:
        if s["events_ok"]:
            print(f"min_pt {s['min_pt']}{' (default)' if s['default'] else ''}: {s['events_ok']}/"
                  f"{s['events']} events; efficiency focused {s['focused_efficiency']:.3f}, endcap "
                  f"{s['endcap_efficiency']:.3f}, 0.5-1 GeV {s['band_efficiency']:.3f}; fake "
                  f"{s['fake_rate_median']:.4f}; QUBO variables {s['qubo_variables_median']:.0f}; solve "
                  f"{s['solve_wall_s_median']:.1f} s; peak {s['peak_rss_mb_max']:.0f} MB (medians)")
        else:
            print(f"min_pt {s['min_pt']}: no event finished: {'; '.join(s['failures'])}")
    print(f"wrote min_pt_study.json, min_pt_study.csv in {args.out}")
    return 0 if all(r["status"] == "ok" for r in runs) else 1


if __name__ == "__main__":
    C.run_main(main)
