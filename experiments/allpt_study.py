"""Every particle the detector sees: where qtrack's TrackML score comes from, and what it misses.

For every (event, config) given, solves the event with ``qtrack solve``'s default pipeline (or a
``--config`` TOML) and compares the submission with the truth:

* the TrackML score next to the perfect tracker of all particles above a pT threshold (each with
  all its hits) for every threshold of ``--thresholds``;
* efficiency against pT from 0.1 GeV for primaries (production vertex within 10 mm of the beam line,
  hits on >= 5 distinct layers), and against production radius for particles of pT >= 0.3 GeV;
* fake rate against the track's pT (from a circle fit of its hits);
* time, peak memory and QUBO sizes per pass.

Usage::

    python experiments/allpt_study.py EVENT [EVENT ...] [--config my.toml] [--out DIR]

``EVENT`` is an event prefix with truth and a particles table (``qtrack simulate`` output). Writes
``allpt_study.json``, ``allpt_study.csv`` (one row per event and bin) and ``allpt_study.png``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

PT_EDGES = np.array([0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 1e9])
R_EDGES = np.array([0.0, 10.0, 30.0, 100.0, 300.0, 1e9])
THRESHOLDS = (0.1, 0.2, 0.3, 0.5, 1.0)
METHOD = ("qtrack.solve with neal in a fresh child process per (event, config), numba cache warm; "
          "wall time from the event loaded to the scores; peak memory = the child's max RSS")
#: The stages of one pass, as the pipeline names them (``doublets/2``: the second pass's).
PASS_STAGES = ("doublets", "triplets", "couplers", "qubo", "solve", "merge", "tracks")


def particle_table(event) -> pd.DataFrame:
    """One row per particle with hits: pT, production radius, hits and distinct layers."""
    truth, hits, particles = event.truth, event.hits, event.particles
    p = particles.drop_duplicates("particle_id").set_index("particle_id")
    h = pd.DataFrame({"particle_id": truth.particle_id.to_numpy(),
                      "layer": hits.volume_id.to_numpy() * 100 + hits.layer_id.to_numpy(),
                      "w": truth.weight.to_numpy()})
    h = h[h.particle_id != 0]
    g = h.groupby("particle_id")
    out = pd.DataFrame({"n_hits": g.size(), "n_layers": g.layer.nunique(), "weight": g.w.sum()})
    p = p.reindex(out.index)
    out["pt"] = np.hypot(p.px, p.py).to_numpy()
    out["vr"] = np.hypot(p.vx, p.vy).to_numpy()
    return out


def perfect_score(event, select: np.ndarray) -> float:
    from qtrack.scoring import trackml_score

    pid = event.truth.particle_id.to_numpy()
    hid, w = event.truth.hit_id.to_numpy(), event.truth.weight.to_numpy()
    return trackml_score(hid, pid, w, hid, np.where(np.isin(pid, select), pid, 0))


def truth_convention_score(event, track_id: np.ndarray, min_pt: float = 0.1) -> float:
    """The TrackML score as TrackML's own truth would give it: its events list no particle below
    0.1 GeV (the 12,263 of event 1000 start at 0.1001 GeV), so those particles' hits are noise and
    the weights (:func:`qtrack.simulate.weights.truth_weights`) are those of the rest."""
    from qtrack.scoring import trackml_score
    from qtrack.simulate.weights import truth_weights

    p = event.particles.drop_duplicates("particle_id")
    pt = np.hypot(p.px, p.py).to_numpy()
    ids = p.particle_id.to_numpy()
    pid = event.truth.particle_id.to_numpy()
    pid = np.where(np.isin(pid, ids[pt >= min_pt]), pid, 0)
    w = truth_weights(pid, event.truth.tz.to_numpy(), ids, p.vz.to_numpy(), pt,
                      p.nhits.to_numpy())
    hid = event.truth.hit_id.to_numpy()
    return trackml_score(hid, pid, w, hid, track_id)


def track_pt(event, track_id: np.ndarray, field_tesla: float = 2.0) -> pd.Series:
    """pT (GeV) of each track from an algebraic circle fit of its hits in x-y."""
    df = pd.DataFrame({"t": track_id, "x": event.hits.x.to_numpy(), "y": event.hits.y.to_numpy()})
    df = df[df.t != 0]
    out = {}
    for t, g in df.groupby("t"):
        x, y = g.x.to_numpy(), g.y.to_numpy()
        a = np.stack([x, y, np.ones_like(x)], axis=1)
        sol, *_ = np.linalg.lstsq(a, x * x + y * y, rcond=None)
        cx, cy = sol[0] / 2, sol[1] / 2
        rad = np.sqrt(max(sol[2] + cx * cx + cy * cy, 0.0))
        out[t] = 0.3e-3 * field_tesla * rad if rad > 0 else np.inf
    return pd.Series(out)


def analyse(event, track_id: np.ndarray) -> dict:
    from qtrack.scoring import majority, matched_particles

    pid = event.truth.particle_id.to_numpy()
    parts = particle_table(event)
    matched = parts.index.isin(matched_particles(track_id, pid))
    parts = parts.assign(found=matched)
    prim = parts[(parts.vr <= 10.0) & (parts.n_layers >= 5)]
    by_pt = []
    for lo, hi in zip(PT_EDGES[:-1], PT_EDGES[1:]):
        sel = prim[(prim.pt >= lo) & (prim.pt < hi)]
        by_pt.append({"pt_lo": lo, "pt_hi": hi, "particles": len(sel),
                      "efficiency": float(sel.found.mean()) if len(sel) else None})
    sec = parts[(parts.pt >= 0.3) & (parts.n_layers >= 5)]
    by_r = []
    for lo, hi in zip(R_EDGES[:-1], R_EDGES[1:]):
        sel = sec[(sec.vr >= lo) & (sec.vr < hi)]
        by_r.append({"r_lo": lo, "r_hi": hi, "particles": len(sel),
                     "efficiency": float(sel.found.mean()) if len(sel) else None})
    on = track_id != 0
    maj = majority(track_id[on], pid[on], np.ones(on.sum()))
    maj = maj[maj.nhits >= 3]
    fake = ((maj.n / maj.nhits <= 0.5) | (maj.particle_id == 0)).to_numpy()
    tpt = track_pt(event, track_id).reindex(maj.track_id).to_numpy()
    fakes_by_pt = []
    for lo, hi in zip(PT_EDGES[:-1], PT_EDGES[1:]):
        sel = (tpt >= lo) & (tpt < hi)
        fakes_by_pt.append({"pt_lo": lo, "pt_hi": hi, "tracks": int(sel.sum()),
                            "fake_rate": float(fake[sel].mean()) if sel.any() else None})
    perfect = {str(t): perfect_score(event, parts.index[parts.pt >= t].to_numpy())
               for t in THRESHOLDS}
    band = prim[(prim.pt >= 0.3) & (prim.pt < 1.0)]
    return {"trackml_score_truth_from_0p1": truth_convention_score(event, track_id),"efficiency_vs_pt": by_pt, "efficiency_vs_production_r": by_r,
            "fake_rate_vs_track_pt": fakes_by_pt, "perfect_score_above_pt": perfect,
            "efficiency_primaries_0p3_1": float(band.found.mean()) if len(band) else None,
            "fake_rate_3hits": float(fake.mean()) if len(fake) else 0.0,
            "tracks_3hits": int(len(fake))}


def run_one(prefix: str, config_path: str | None, seed: int) -> dict:
    import resource

    import qtrack
    from qtrack.config import Config

    config = Config.from_toml(config_path) if config_path else Config()
    event = qtrack.load_event(prefix)
    t0 = time.perf_counter()
    result = qtrack.solve(event, sampler="neal", config=config, seed=seed)
    wall = time.perf_counter() - t0
    track_id = result.submission.set_index("hit_id").track_id.reindex(
        event.truth.hit_id.to_numpy()).to_numpy()
    out = {"event": str(prefix), "config": config_path or "default", "wall_s": round(wall, 2),
           "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 3),
           "load": open("/proc/loadavg").read().split()[:3] if Path("/proc/loadavg").exists() else None,
           "scores": result.scores, "sizes": result.summary()["sizes"],
           "timings_s": result.summary()["timings_s"], "passes": result.passes}
    out.update(analyse(event, track_id))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("events", nargs="+", help="event prefixes with truth and particles")
    ap.add_argument("--config", action="append", default=None,
                    help="TOML config(s) to compare (default: the defaults)")
    ap.add_argument("--lowest", type=float, nargs="+", default=None,
                    help="scan the lowest pass threshold (GeV): for each value, the default passes "
                         "down to it (0.75 = the first pass alone)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args(argv)
    for e in args.events:
        if not any(Path(e + "-hits" + suffix).exists() for suffix in (".csv", ".csv.gz", ".parquet")):
            print(f"allpt_study.py: error: {e}: no hits file {e}-hits.csv[.gz] (make events with "
                  f"qtrack simulate)", file=sys.stderr)
            return 2
    import subprocess

    rows = []
    configs = args.config or [None]
    if args.lowest:
        configs = [scan_config(v, Path(args.out) / "tmp") for v in args.lowest]
    for cfg in configs:
        for e in args.events:
            # A fresh process per run: peak memory is the run's own.
            cmd = [sys.executable, __file__, "--one", e, "--seed", str(args.seed)]
            if cfg:
                cmd += ["--one-config", cfg]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                print(res.stderr[-3000:], file=sys.stderr)
                return res.returncode
            r = json.loads(res.stdout.strip().splitlines()[-1])
            rows.append(r)
            print(f"{Path(e).parent.name}/{Path(e).name} [{r['config']}]: "
                  f"TrackML {r['scores']['trackml_score']:.4f} (TrackML's truth "
                  f"{r['trackml_score_truth_from_0p1']:.4f}) focused "
                  f"{r['scores'].get('focused_efficiency', float('nan')):.4f} 0.3-1 GeV "
                  f"{r['efficiency_primaries_0p3_1']:.3f} fakes {r['fake_rate_3hits']:.4f} "
                  f"dup {r['scores']['duplicate_rate']:.4f} {r['wall_s']:.1f} s "
                  f"{r['peak_rss_gb']:.2f} GB", flush=True)
    from benchmarks.harness import provenance
    from qtrack.io import write_csv, write_json

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "allpt_study.json", {"measured": provenance(METHOD), "runs": rows})
    write_csv(out / "allpt_study.csv", table(rows))
    if not args.no_plot:
        plot(rows, out / "allpt_study.png")
    return 0


def table(rows) -> pd.DataFrame:
    """One row per run and bin: efficiency against pT and production radius, fakes against
    track pT, with the run's scores."""
    out = []
    for r in rows:
        head = {"event": r["event"], "config": Path(r["config"]).stem,
                "trackml_score": r["scores"]["trackml_score"],
                "trackml_score_truth_from_0p1": r["trackml_score_truth_from_0p1"],
                "wall_s": r["wall_s"],
                "peak_rss_gb": r["peak_rss_gb"]}
        for key, lo, hi, value in (("efficiency_vs_pt", "pt_lo", "pt_hi", "efficiency"),
                                   ("efficiency_vs_production_r", "r_lo", "r_hi", "efficiency"),
                                   ("fake_rate_vs_track_pt", "pt_lo", "pt_hi", "fake_rate")):
            for b in r[key]:
                out.append(head | {"figure": key, "lo": b[lo], "hi": b[hi], "value": b[value]})
    return pd.DataFrame(out)


def scan_config(lowest: float, directory: Path) -> str:
    """A TOML file with the default passes down to ``lowest`` GeV (``lowest-<v>.toml``)."""
    from qtrack.config import Config

    directory.mkdir(parents=True, exist_ok=True)
    first = Config().doublets.min_pt
    pts = [p for p in Config().passes.min_pts if p > lowest] + ([lowest] if lowest < first else [])
    path = directory / f"lowest-{lowest:g}.toml"
    path.write_text(f"[passes]\nmin_pts = {pts!r}\n")
    return str(path)


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 5, figsize=(25, 4.5))
    ax = axes[1:4]
    # Time per pass and peak memory against the event's hits (the pile-up scan).
    scan = sorted((r["sizes"]["hits"], r) for r in rows if r["config"] == rows[0]["config"])
    if len(scan) > 1:
        hits = [h for h, _ in scan]
        n_passes = max(len(r["passes"]) for _, r in scan)
        bottom = np.zeros(len(scan))
        for k in range(n_passes):
            suffix = "" if k == 0 else f"/{k + 1}"
            t = np.array([sum(v for name, v in r["timings_s"].items()
                              if name.split("/")[0] in PASS_STAGES
                              and (name.endswith(suffix) if suffix else "/" not in name))
                          for _, r in scan])
            axes[4].bar(range(len(scan)), t, bottom=bottom, label=f"pass {k + 1}")
            bottom += t
        axes[4].set_xticks(range(len(scan)), [f"{h // 1000}k" for h in hits])
        axes[4].set_xlabel("hits")
        axes[4].set_ylabel("time per pass (s)")
        mem = axes[4].twinx()
        mem.plot(range(len(scan)), [r["peak_rss_gb"] for _, r in scan], "ko-", label="peak memory")
        mem.set_ylabel("peak memory (GB)")
        axes[4].legend(fontsize=7, loc="upper left")
    # TrackML against the lowest threshold searched, next to the perfect tracker of the particles
    # above each threshold.
    by_event = {}
    for r in rows:
        lowest = min(p["min_pt"] for p in r["passes"] if p["from_luminous_region"])
        by_event.setdefault(r["event"], []).append((lowest, r["scores"]["trackml_score"],
                                                    r["perfect_score_above_pt"]))
    for e, pts in by_event.items():
        pts.sort()
        name = f"{Path(e).parent.name}/{Path(e).name[-3:]}"
        axes[0].plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"qtrack {name}")
        perfect = pts[0][2]
        axes[0].plot([float(k) for k in perfect], list(perfect.values()), "k--", alpha=0.5,
                     label=f"perfect tracker, pT >= threshold ({name})")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("lowest pT threshold (GeV)")
    axes[0].set_ylabel("TrackML score")
    axes[0].grid(alpha=0.3)
    axes[0].legend(fontsize=6)
    for r in rows:
        label = f"{Path(r['event']).parent.name} [{Path(r['config']).stem}]"
        e = pd.DataFrame(r["efficiency_vs_pt"]).dropna()
        ax[0].step(e.pt_lo, e.efficiency, where="post", label=label)
        e = pd.DataFrame(r["efficiency_vs_production_r"]).dropna()
        ax[1].step(e.r_lo.clip(lower=1), e.efficiency, where="post", label=label)
        f = pd.DataFrame(r["fake_rate_vs_track_pt"]).dropna()
        ax[2].step(f.pt_lo, f.fake_rate, where="post", label=label)
    for a, xl, yl in ((ax[0], "pT (GeV), primaries on >= 5 layers", "efficiency"),
                      (ax[1], "production radius (mm), pT >= 0.3 GeV", "efficiency"),
                      (ax[2], "track pT (GeV, circle fit)", "fake rate")):
        a.set_xscale("log")
        a.set_xlabel(xl)
        a.set_ylabel(yl)
        a.grid(alpha=0.3)
    ax[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks.harness
    if "--one" in sys.argv:
        i = sys.argv.index("--one")
        prefix = sys.argv[i + 1]
        seed = int(sys.argv[sys.argv.index("--seed") + 1])
        cfg = sys.argv[sys.argv.index("--one-config") + 1] if "--one-config" in sys.argv else None
        from qtrack.io import jsonable

        print(json.dumps(jsonable(run_one(prefix, cfg, seed))))
        sys.exit(0)
    sys.exit(main())
