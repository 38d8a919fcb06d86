"""qtrack next to ACTS (seeding + combinatorial Kalman filter, through pyacts) on the same simulated
events, pile-up 0 to 200: efficiency, fake rate, duplicate rate, TrackML score and time per event,
and efficiency versus pT and eta and fake rate versus eta at every pile-up point.

The events are ``qtrack simulate``'s (Pythia8 ttbar + pile-up, ACTS Fatras on the generic detector,
2 T), read from ``DATA/pu<MU>/event<k>-{hits,truth,particles}.csv.gz`` with ``detectors.csv.gz``;
make them with ``python -m qtrack simulate -o DATA/pu<MU> --events K --pileup MU --seed 1``.
On each event, after an untimed warm-up of both:

* qtrack: ``qtrack.solve(event, sampler="neal", seed=1)``, default settings (the whole detector:
  barrel and endcaps, every hit of the event);
* ACTS: ``experiments/_acts.py`` (ACTS's generic-detector chain from full_chain_test.py: grid
  triplet seeding on the pixel layers, track parameter estimation, CKF with track selection,
  greedy ambiguity resolution), scored after the ambiguity resolution ("ACTS") and straight
  after the CKF ("ACTS CKF only").

Both submissions are scored with qtrack's scorer (TrackML score) and with the issue's definitions,
those of ``qtrack.scoring`` (``focused_particles``, ``matched_particles``; the oracle score is
``score_tracks``'s): a focused particle has pT >= 1 GeV at production, a production vertex
within 10 mm of the beam line (r) and hits on >= 5 distinct layers (volume, layer); it is found
when a track holds > 50 % of its hits and > 50 % of the track's hits are its. Fake and duplicate
rates are ``qtrack.scoring``'s, over all tracks: fake = no particle (noise excluded) holds > 50 %
of its hits; duplicate = a further such track of an already matched-majority particle. Efficiencies are pooled over the events of a
pile-up point (found / focused), as are the track rates; times are medians over events.

Versus pT and eta (events of a pile-up point pooled): efficiency of the focused particles against
their pT and eta at production, and fake rate of the tracks against their eta
(straight-line fit of z vs r of its hits, ``qtrack.plot.tables.track_table``); error bars are
Clopper-Pearson 68 % intervals (``qtrack.plot.tables.binned_rate``, as in efficiency_pt_eta.py).

Time per event is the wall time from the in-memory hits table to the submission: qtrack's stages
doublets..tracks (``Result.timings`` without load and score); ACTS's stages measurements (hits
to ACTS measurements) .. submission (tracks to hit ids). Both run single-process on this machine
while other jobs run: the 1-minute load average is recorded before every run.

Writes acts_comparison.json (every event, every stage, the summary, the pT and eta bins, how it
was measured), acts_comparison.csv (one row per pile-up and tracker), acts_comparison.png (versus
pile-up), acts_comparison_pt_eta.csv (every bin: pile-up, tracker, curve, edges, n, k, rate and its
interval) and acts_comparison_pt_eta.png (one row of panels per pile-up point). ``--replot``
redraws both figures from the JSON.

    python experiments/acts_comparison.py --data simdata --pileups 0 20 60 140 200 --events 2
    python experiments/acts_comparison.py --replot
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks.harness
import _common as C  # noqa: E402

METHOD = ("in-process, one event after the other, qtrack then ACTS on each, after an untimed warm-up "
          "of both; time = wall time from the loaded hits to the submission, median over events")
TRACKERS = {"qtrack": "qtrack (neal, default settings)", "acts": "ACTS seeding + CKF + ambiguity resolution",
            "acts_ckf": "ACTS seeding + CKF (no ambiguity resolution)"}
#: Focused particles' pT bins (GeV; they start at 1 GeV, the last bin runs from 10 GeV to 1 TeV)
#: and the eta bins of every curve (the detector reaches |eta| 4, fitted track etas a little more).
PT_EDGES = np.array([1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 1000.0])
ETA_EDGES = np.arange(-4.5, 4.5 + 0.25, 0.5)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", type=Path, default=None,
                   help="directory with one pu<MU> directory of qtrack-simulated events per pile-up "
                        "(required unless --replot)")
    p.add_argument("--pileups", type=int, nargs="+", default=[0, 20, 60, 140, 200])
    p.add_argument("--events", type=int, default=2, help="events per pile-up point (the first K)")
    p.add_argument("--seed", type=int, default=1, help="qtrack's solve seed")
    p.add_argument("--out", type=Path, default=C.RESULTS, help="directory for results and figures")
    p.add_argument("--replot", action="store_true", help="redraw the figure from the JSON")
    args = p.parse_args(argv)
    if args.events < 1:
        C.fail(f"--events {args.events}: expected at least 1")
    if not args.replot:
        C.require_data(args.data, "pu<MU>/ event directories made by qtrack simulate")
        for mu in args.pileups:
            d = args.data / f"pu{mu}"
            have = sorted(d.glob("event*-hits.csv*")) if d.is_dir() else []
            detectors = (d / "detectors.csv.gz").exists()
            if len(have) < args.events or not detectors:
                C.fail(f"{d}: {len(have)} event(s){'' if detectors else ' and no detectors.csv.gz'}, "
                       f"need {args.events} events and detectors.csv.gz; make them with: python -m "
                       f"qtrack simulate -o {d} --events {args.events} --pileup {mu} --seed 1")
    args.out.mkdir(parents=True, exist_ok=True)
    return args


# --------------------------------------------------------------------------------------------------
# The definitions


def rates(event, focused: pd.DataFrame, submission: pd.DataFrame) -> tuple[dict, np.ndarray, pd.DataFrame]:
    """One submission against the focused particles (``qtrack.scoring.focused_particles``): the
    counts behind efficiency (all focused, barrel-only, reaching an endcap), fake and duplicate
    rates; whether each focused particle (row of ``focused``) is found; and the tracks (``eta``
    fitted to their hits, ``fake``)."""
    from qtrack.plot.tables import track_table
    from qtrack.scoring import align, matched_particles

    pid = event.truth.particle_id.to_numpy()
    track_id = align(event.truth.hit_id.to_numpy(), submission.hit_id.to_numpy(),
                     submission.track_id.to_numpy())
    found = np.isin(focused.particle_id.to_numpy(), matched_particles(track_id, pid))
    endcap = focused.endcap.to_numpy(bool)
    tracks = track_table(event, track_id)
    pure = tracks.particle_id[~tracks.fake].value_counts()
    counts = {"focused": len(focused), "found": int(found.sum()),
              "focused_barrel": int((~endcap).sum()), "found_barrel": int((found & ~endcap).sum()),
              "focused_endcap": int(endcap.sum()), "found_endcap": int((found & endcap).sum()),
              "tracks": len(tracks), "fakes": int(tracks.fake.sum()),
              "duplicates": int((pure - 1).sum())}
    return counts, found, tracks[["eta", "fake"]].reset_index(drop=True)


def pt_eta_rows(mu: int, particles: pd.DataFrame, tracks: dict[str, pd.DataFrame]) -> list[dict]:
    """The binned curves of one pile-up point, its events pooled: efficiency vs pT and vs eta
    (``particles``: pt, eta, found_<tracker>) and fake rate vs track eta (``tracks[tracker]``:
    eta, fake), with Clopper-Pearson 68 % intervals."""
    from qtrack.plot.tables import binned_rate

    rows = []
    for name in TRACKERS:
        found = particles[f"found_{name}"].to_numpy(bool)
        t = tracks[name]
        for curve, table in (("efficiency_vs_pt", binned_rate(particles.pt, found, PT_EDGES)),
                             ("efficiency_vs_eta", binned_rate(particles.eta, found, ETA_EDGES)),
                             ("fake_rate_vs_eta", binned_rate(t.eta, t.fake, ETA_EDGES))):
            rows += [{"pileup": mu, "tracker": name, "curve": curve, **r} for r in table.to_dict("records")]
    return rows


def module_pitch(detectors: pd.DataFrame, hits: pd.DataFrame) -> np.ndarray:
    """(n, 2) readout pitch (u, v) of each hit's module, from detectors.csv."""
    from qtrack.simulate.fatras import module_key

    k = module_key(detectors.volume_id, detectors.layer_id, detectors.module_id)
    h = module_key(hits.volume_id, hits.layer_id, hits.module_id)
    order = np.argsort(k)
    row = np.searchsorted(k[order], h).clip(max=len(k) - 1)
    if (k[order][row] != h).any():
        raise ValueError("hits on modules that detectors.csv does not list")
    return detectors[["pitch_u", "pitch_v"]].to_numpy(np.float64)[order][row]


# --------------------------------------------------------------------------------------------------
# The run


def run(args) -> dict:
    import qtrack
    from qtrack.scoring import focused_particles, score_submission
    from _acts import ActsConfig, ActsTracker
    from benchmarks.harness import provenance
    import dataclasses

    measured = provenance(METHOD)
    t = time.perf_counter()
    acts_tracker = ActsTracker()
    acts_setup = time.perf_counter() - t
    C.warm_up()
    events, pt_eta, warmed = [], [], False
    for mu in args.pileups:
        d = args.data / f"pu{mu}"
        detectors = pd.read_csv(d / "detectors.csv.gz")
        prefixes = sorted(str(p).split("-hits.csv")[0] for p in d.glob("event*-hits.csv*"))[:args.events]
        particles, tracks_of = [], {name: [] for name in TRACKERS}  # pooled over this point's events
        for prefix in prefixes:
            event = qtrack.load_event(prefix)
            if event.particles is None or not {"vx", "vy"} <= set(event.particles.columns):
                C.fail(f"{prefix}-particles.csv.gz: needed with columns vx, vy (production vertex)")
            pitch = module_pitch(detectors, event.hits)
            if not warmed:  # ACTS's first event pays one-off costs (page faults, lazy tables)
                acts_tracker.reconstruct(event.hits, pitch)
                warmed = True
            focused = focused_particles(event.hits, event.truth, event.particles)
            found_by = {}
            row = {"pileup": mu, "event": Path(prefix).name, "hits": len(event.hits),
                   "hits_solved_by_qtrack": event.n_hits, "focused": len(focused)}

            load = os.getloadavg()[0]
            t = time.perf_counter()
            result = qtrack.solve(event, sampler="neal", seed=args.seed)
            wall = time.perf_counter() - t - result.timings.get("score", 0.0)
            stages = {k: v for k, v in result.timings.items() if k not in ("load", "score")}
            row["oracle_score"] = result.scores["oracle_score"]
            counts, found_by["qtrack"], track_rows = rates(event, focused, result.submission)
            tracks_of["qtrack"].append(track_rows)
            row["qtrack"] = {"time_s": wall, "stages_s": stages, "load_average_1min": round(load, 2),
                             "trackml_score": result.scores["trackml_score"], **counts}

            load = os.getloadavg()[0]
            t = time.perf_counter()
            tracks = acts_tracker.reconstruct(event.hits, pitch)
            wall = time.perf_counter() - t
            for name, after in (("acts", True), ("acts_ckf", False)):
                sub = tracks.submission(after_ambiguity=after)
                stages = dict(tracks.timings)
                if not after:  # the CKF-only variant stops before the ambiguity resolution
                    stages.pop("ambiguity")
                counts, found_by[name], track_rows = rates(event, focused, sub)
                tracks_of[name].append(track_rows)
                row[name] = {"time_s": wall - (0.0 if after else tracks.timings["ambiguity"]),
                             "stages_s": stages, "counts": tracks.counts, "load_average_1min": round(load, 2),
                             "trackml_score": score_submission(event.hits, event.truth, sub)["trackml_score"],
                             **counts}
            events.append(row)
            particles.append(focused[["pt", "eta"]].assign(
                **{f"found_{name}": found for name, found in found_by.items()}))
            q, a = row["qtrack"], row["acts"]
            print(f"PU{mu:<4d} {row['event']}: {row['hits']} hits, {len(focused)} focused | qtrack eff "
                  f"{q['found'] / max(q['focused'], 1):.3f} fakes {q['fakes']}/{q['tracks']} "
                  f"{q['time_s']:.1f} s | ACTS eff {a['found'] / max(a['focused'], 1):.3f} "
                  f"fakes {a['fakes']}/{a['tracks']} "
                  f"{a['time_s']:.1f} s (load {load:.1f})", flush=True)
        pt_eta += pt_eta_rows(mu, pd.concat(particles, ignore_index=True),
                              {name: pd.concat(t, ignore_index=True) for name, t in tracks_of.items()})
    return {"measured": measured, "trackers": TRACKERS, "acts_config": dataclasses.asdict(ActsConfig()),
            "acts_setup_s": acts_setup, "events": events, "summary": summarize(events),
            "pt_eta_bins": {"pt_edges_gev": PT_EDGES, "eta_edges": ETA_EDGES}, "pt_eta": pt_eta}


def _ratio(a: int, b: int) -> float:
    return a / b if b else float("nan")


def summarize(events: list[dict]) -> list[dict]:
    """One row per pile-up and tracker: pooled rates, median time and load."""
    out = []
    for mu in sorted({e["pileup"] for e in events}):
        rows = [e for e in events if e["pileup"] == mu]
        for name in TRACKERS:
            r = [e[name] for e in rows]
            s = {k: sum(x[k] for x in r) for k in ("focused", "found", "focused_barrel", "found_barrel",
                                                   "focused_endcap", "found_endcap", "tracks", "fakes",
                                                   "duplicates")}
            out.append({
                "pileup": mu, "tracker": name, "events": len(rows),
                "hits": statistics.median(e["hits"] for e in rows),
                "efficiency": _ratio(s["found"], s["focused"]),
                "efficiency_barrel_only": _ratio(s["found_barrel"], s["focused_barrel"]),
                "efficiency_endcap": _ratio(s["found_endcap"], s["focused_endcap"]),
                "fake_rate": _ratio(s["fakes"], s["tracks"]),
                "duplicate_rate": _ratio(s["duplicates"], s["tracks"]),
                "trackml_score": statistics.mean(x["trackml_score"] for x in r),
                "oracle_score": statistics.mean(e["oracle_score"] for e in rows),
                "time_s_median": statistics.median(x["time_s"] for x in r),
                "time_s_min": min(x["time_s"] for x in r), "time_s_max": max(x["time_s"] for x in r),
                "load_average_1min_median": statistics.median(x["load_average_1min"] for x in r),
                **s})
    return out


# --------------------------------------------------------------------------------------------------
# The figure


STYLE = {"qtrack": dict(color="C0", marker="o", ls="-"), "acts": dict(color="C3", marker="s", ls="-"),
         "acts_ckf": dict(color="C3", marker="s", ls=":", mfc="none")}


def draw(data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qtrack.io import atomic_open

    summary = pd.DataFrame(data["summary"])
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5), layout="constrained")
    (ax_eff, ax_fake), (ax_time, ax_score) = axes
    for name, label in data["trackers"].items():
        s = summary[summary.tracker == name].sort_values("pileup")
        st = STYLE[name]
        ax_eff.plot(s.pileup, s.efficiency, label=label, **st)
        if name == "acts_ckf":  # same hits as after the ambiguity resolution to within a few per mille
            continue
        ax_eff.plot(s.pileup, s.efficiency_barrel_only, color=st["color"], marker="^", ls="--", lw=0.8,
                    mfc="none", label=f"{name}: particles that stay in the barrel")
        ax_fake.plot(s.pileup, s.fake_rate, label=f"{name}: fake", **st)
        ax_fake.plot(s.pileup, s.duplicate_rate, color=st["color"], marker="x", ls="-.", lw=0.8,
                     label=f"{name}: duplicate")
        ax_time.plot(s.pileup, s.time_s_median, label=label, **st)
        ax_time.fill_between(s.pileup, s.time_s_min, s.time_s_max, color=st["color"], alpha=0.12, lw=0)
        ax_score.plot(s.pileup, s.trackml_score, label=label, **st)
    s = summary[summary.tracker == "qtrack"].sort_values("pileup")
    ax_score.plot(s.pileup, s.oracle_score, color="k", ls="--", lw=0.8,
                  label="oracle: exactly the focused particles")
    n_events = int(summary.events.max())
    ax_eff.set(ylabel="efficiency (focused particles)", ylim=(0, 1.02),
               title="found focused particles / focused particles")
    ax_fake.set(ylabel="fraction of tracks", ylim=(0, None),
                title="fake and duplicate rates")
    ax_time.set(ylabel="s per event (median; band: min-max)", yscale="log",
                title="time per event, hits to submission")
    ax_score.set(ylabel="TrackML score", ylim=(0, 1.02), title="TrackML score (qtrack's scorer)")
    for ax in axes.flat:
        ax.set_xlabel("pile-up <mu>")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    loads = summary.load_average_1min_median
    fig.suptitle(f"qtrack vs ACTS on qtrack-simulated ttbar events ({n_events} per pile-up point); "
                 "focused: pT >= 1 GeV, r0 <= 10 mm, >= 5 layers", fontsize=10)
    C.footer(fig, data["measured"],
             extra=f"1-min load average before the runs {loads.min():.1f}-{loads.max():.1f}")
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=120)
    plt.close(fig)


#: Panels of the pT / eta figure: curve, x label, y label, log x.
PT_ETA_PANELS = (("efficiency_vs_pt", "focused particle's pT at production (GeV)", "efficiency", True),
                 ("efficiency_vs_eta", "focused particle's eta at production", "efficiency", False),
                 ("fake_rate_vs_eta", "track eta (line fit of z vs r)", "fake rate",
                  False))
#: Trackers drawn versus pT and eta: ACTS's CKF-only tracks differ from its final ones by a few per
#: mille and are in the CSV only.
PT_ETA_DRAWN = ("qtrack", "acts")


def draw_pt_eta(data: dict, path: Path) -> None:
    """Efficiency vs pT and eta, fake rate vs eta: one row of panels per pile-up point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qtrack.io import atomic_open

    bins = pd.DataFrame(data["pt_eta"])
    pileups = sorted(bins.pileup.unique())
    n_events = {r["pileup"]: r["events"] for r in data["summary"]}
    fig, axes = plt.subplots(len(pileups), 3, figsize=(13, 1.2 + 2.8 * len(pileups)), squeeze=False,
                             layout="constrained")
    for i, mu in enumerate(pileups):
        for j, (curve, xlabel, ylabel, log) in enumerate(PT_ETA_PANELS):
            ax = axes[i, j]
            for k, name in enumerate(PT_ETA_DRAWN):
                t = bins[(bins.pileup == mu) & (bins.tracker == name) & (bins.curve == curve)]
                total_k, total_n = int(t.k.sum()), int(t.n.sum())
                t = t[t.n > 0]
                lo, hi = t.lo_edge.to_numpy(), t.hi_edge.to_numpy()
                # the two trackers side by side inside each bin
                side = 1 if k else -1
                x = np.sqrt(lo * hi) * (1 + 0.04 * side) if log else (lo + hi) / 2 + 0.06 * side
                what = "found" if curve.startswith("eff") else "fakes"
                ax.errorbar(x, t.rate, yerr=[t.rate - t.err_lo, t.err_hi - t.rate], xerr=[x - lo, hi - x],
                            fmt=STYLE[name]["marker"], color=STYLE[name]["color"], ms=4, capsize=2,
                            elinewidth=0.9, label=f"{name}: {total_k}/{total_n} {what}")
            ax.set(xscale="log" if log else "linear")
            if curve.startswith("eff"):
                ax.set_ylim(-0.03, 1.05)
            else:
                ax.set_ylim(bottom=-0.01)
            ax.set_xlabel(xlabel, fontsize=8)
            ax.set_ylabel(f"PU {mu} ({n_events[mu]} ev.): {ylabel}" if j == 0 else ylabel, fontsize=8)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="lower center" if curve.startswith("eff") else "upper center")
    fig.suptitle("qtrack vs ACTS (seeding + CKF + ambiguity resolution) versus pT and eta, events of a "
                 "pile-up point pooled; focused: pT >= 1 GeV, r0 <= 10 mm, >= 5 layers; bars: "
                 "Clopper-Pearson 68 %", fontsize=9)
    C.footer(fig, data["measured"])
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    args_json = args.out / "acts_comparison.json"
    data, fresh = C.run_or_load(args, args_json, run)
    if fresh:
        C.write_csv(args.out / "acts_comparison.csv", data["summary"])
        C.write_csv(args.out / "acts_comparison_pt_eta.csv", data["pt_eta"])
    draw(data, args.out / "acts_comparison.png")
    if "pt_eta" in data:
        draw_pt_eta(data, args.out / "acts_comparison_pt_eta.png")
    else:
        print(f"note: {args_json} predates the pT / eta bins; run without --replot to get "
              "acts_comparison_pt_eta.png", file=sys.stderr)
    for r in data["summary"]:
        print(f"PU{r['pileup']:<4d} {r['tracker']:9s} efficiency {r['efficiency']:.3f} (barrel-only "
              f"{r['efficiency_barrel_only']:.3f}) fake {r['fake_rate']:.3f} "
              f"duplicate {r['duplicate_rate']:.3f} "
              f"TrackML {r['trackml_score']:.3f} time {r['time_s_median']:.2f} s "
              f"(load {r['load_average_1min_median']:.1f})")
    return 0


if __name__ == "__main__":
    C.run_main(main)
