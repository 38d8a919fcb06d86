"""Efficiency and fake rate vs pT and pseudorapidity on the union event (event000001000, ~97 % of the
barrel hits, with truth).

The union event is solved in this process (default sampler neal, seed 1) for each model; then

* efficiency vs the particle's pT and eta at production: focused particles (primaries, pT >= 1
  GeV, hits on >= 5 layers) and, vs pT, the primaries on >= 5 layers at any pT (the turn-on
  around the seeding's 0.75 GeV window shows there);
* fake rate vs the track's eta (straight-line fit of z vs r of its hits) and vs its pT (circle fit
  of its hits in x-y, 2 T).

The sets, found particles and fake tracks are qtrack.scoring's (the README's "What the numbers
mean"). Error bars: Clopper-Pearson 68 %.

Writes efficiency_pt_eta_<model>.png (curves), union_display_<model>.png (event display of one
phi sector), efficiency_pt_eta.csv (every bin of every curve) and efficiency_pt_eta.json.

    python experiments/efficiency_pt_eta.py              # models mp and d0, seed 1 (~1 min quiet)
    python experiments/efficiency_pt_eta.py --models mp
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks.harness
import _common as C  # noqa: E402

METHOD = ("in-process solve of the union event after a warm-up; neal (dwave-samplers), default solve "
          "settings; scores and bins from qtrack.plot (definitions of qtrack.scoring)")


def main(argv=None) -> int:
    p = C.parser(__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", choices=("mp", "d0"), default=["mp", "d0"])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--event", type=Path, default=None,
                   help="another event prefix with truth instead of the union event")
    args = p.parse_args(argv)
    C.check_args(args)
    from qtrack import pipeline
    from qtrack.plot.display import draw_event_display
    from qtrack.plot.efficiency import draw_efficiency
    from qtrack.plot.tables import efficiency_tables, particle_table, track_table
    from benchmarks.harness import model_config, provenance, short_machine
    from qtrack.io import write_json
    from qtrack.event import load_event
    from qtrack.samplers import get_sampler

    prefix = args.event or (args.data / C.UNION)
    if not Path(f"{prefix}-hits.csv").exists():
        C.fail(f"{prefix}-hits.csv not found")
    t0 = time.perf_counter()
    measured = provenance(METHOD)
    C.warm_up()
    event = load_event(prefix)
    if not event.has_truth:
        C.fail(f"{prefix}-truth.csv not found; efficiency needs truth")
    note = f"{METHOD}\n{short_machine(measured['machine'])}; {measured['started']}"
    rows, results = [], {}
    for model in args.models:
        cfg = model_config(model).replace(solve={"seed": args.seed})
        res = pipeline.solve_built(pipeline.build(event, cfg), get_sampler("neal"), "neal")
        track_id = res.submission.set_index("hit_id").track_id.reindex(event.hits.hit_id).to_numpy()
        tables = efficiency_tables(event, track_id)
        parts = particle_table(event, track_id)
        tracks = track_table(event, track_id)
        name = "QallseMp weights (default)" if model == "mp" else "QallseD0 weights (--model d0)"
        title = (f"{event.name} union event ({event.n_hits} hits), model {name}, seed {args.seed}: "
                 f"TrackML {res.scores['trackml_score']:.4f}, efficiency (focused) "
                 f"{res.scores['focused_efficiency']:.4f}, "
                 f"fake rate {res.scores['fake_rate']:.4f}\nfound = a track holds > 50 % of the particle's "
                 "hits, > 50 % of its hits the particle's; fake = no particle has > 50 % of the "
                 "track's hits\n"
                 "bars: Clopper-Pearson 68 %; steps: entries per bin (right axis, log)")
        draw_efficiency(event, track_id, args.out / f"efficiency_pt_eta_{model}.png", title=title,
                             tables=tables, note=note)
        draw_event_display(event, track_id, args.out / f"union_display_{model}.png", note=note)
        for curve, t in tables.items():
            for r in t.to_dict("records"):
                rows.append({"model": model, "curve": curve, **r})
        results[model] = {
            "scores": res.scores, "timings_s": res.timings,
            "focused_particles": int(parts.focused.sum()),
            "focused_found": int((parts.focused & parts.found).sum()),
            "tracks": len(tracks), "fake_tracks": int(tracks.fake.sum()),
            "focused_efficiency_check": float((parts.focused & parts.found).sum() / max(parts.focused.sum(), 1)),
        }
        print(f"{model}: TrackML {res.scores['trackml_score']:.4f}, efficiency (focused) "
              f"{res.scores['focused_efficiency']:.4f} "
              f"(per-particle table: {results[model]['focused_efficiency_check']:.4f}), fake rate "
              f"{res.scores['fake_rate']:.4f} ({results[model]['fake_tracks']} of {len(tracks)} tracks)",
              flush=True)
    measured["elapsed_s"] = round(time.perf_counter() - t0, 1)
    C.write_csv(args.out / "efficiency_pt_eta.csv", rows)
    write_json(args.out / "efficiency_pt_eta.json",
               {"measured": measured, "event": str(prefix), "seed": args.seed, "results": results,
                "bins": rows})
    print(f"wrote efficiency_pt_eta_*.png, union_display_*.png, efficiency_pt_eta.csv/json in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
