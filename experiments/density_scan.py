"""Density scan: scores, sizes and time per stage on every barrel subset of event000001000 and on
the union event (~97 % of the barrel), for qtrack's two models, against the reference's numbers.

For every dataset, model and seed the event is built and solved in this process (after a warm-up
that loads numba's compiled kernels); time per stage is the pipeline's own ``Result.timings``
(``time.perf_counter`` around each stage), the median over seeds is reported with the min-max
range. The build is redone for every seed, so build times are medians over the seeds too.

Models: ``mp`` = the default config (the reference's QallseMp), ``d0`` =
``config.replace(model={"use_d0_weights": True})`` (the reference's QallseD0). The reference's
numbers are parsed from ``baseline-qallse.md`` at run time.

Writes to ``--out`` (experiments/results): density_scan.json (everything, with how it was
measured), density_scan.csv (medians per dataset and model), density_scan_runs.csv (every run),
density_scan_scores.png, density_scan_timing.png. It also is the benchmark of the issue: the JSON's
``build_fit`` holds the fitted exponent of build time (doublets + triplets + model + qubo) vs hits.

    python experiments/density_scan.py                 # seeds 1 2 3, both models (~5 min quiet)
    python experiments/density_scan.py --quick         # seed 1 only
    python experiments/density_scan.py --replot        # redraw the figures from the JSON
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks.harness
import _common as C  # noqa: E402
from qtrack.config import SolveConfig  # noqa: E402

SOLVE = SolveConfig()

STAGES = ("doublets", "triplets", "couplers", "qubo", "solve", "tracks", "score")
BUILD = ("doublets", "triplets", "couplers", "qubo")
SCORES = ("trackml_score", "doublet_precision", "doublet_recall", "focused_efficiency", "fake_rate",
          "duplicate_rate", "tracks")
SIZES = ("hits", "doublets", "triplets", "quadruplets", "qubo_variables", "qubo_couplers",
         "qubo_quadruplet_couplers", "qubo_conflict_couplers", "components", "largest_component")
METHOD = ("in-process, after a warm-up solve of the shipped event; time.perf_counter per pipeline "
          "stage (Result.timings); build redone for every seed; medians over seeds (load: median of "
          "3 reads); sampler neal (dwave-samplers SimulatedAnnealingSampler), default solve settings")
FIT_MIN_HITS = 5000


def run(args) -> dict:
    from qtrack import pipeline
    from benchmarks.harness import measure, model_config, provenance
    from qtrack.event import load_event
    from qtrack.samplers import get_sampler

    measured = provenance(METHOD)
    C.warm_up()
    sampler = get_sampler("neal")
    runs = []
    sets = [d for d in C.datasets(args.data, union=not args.no_union)
            if not args.datasets or any(s in d.name for s in args.datasets)]
    if not sets:
        C.fail("no dataset found under --data matching --datasets")
    for ds in sets:
        timed = measure(lambda: load_event(ds.prefix), repeats=3, warmup=0, keep=True)
        event, load_s = timed["results"][-1], timed["median"]
        for model in args.models:
            for seed in args.seeds:
                cfg = model_config(model).replace(solve={"seed": seed})
                built = pipeline.build(event, cfg)
                res = pipeline.solve_built(built, sampler, "neal")
                s = res.summary()
                sizes = s["sizes"]
                sizes["qubo_couplers"] = sizes["qubo_quadruplet_couplers"] + sizes["qubo_conflict_couplers"]
                row = {"dataset": ds.name, "density": ds.density, "model": model, "seed": seed}
                row |= {k: sizes.get(k) for k in SIZES}
                row |= {f"{k}_s": res.timings.get(k, float("nan")) for k in STAGES}
                row["load_s"] = load_s
                row["build_s"] = sum(res.timings[k] for k in BUILD)
                row |= {k: res.scores[k] for k in SCORES}
                row["energy"] = res.solution.energy
                runs.append(row)
                print(f"{ds.name:<16} {model:<3} seed {seed}: {sizes['hits']:>6} hits, "
                      f"build {row['build_s']:6.2f} s, solve {row['solve_s']:6.2f} s, "
                      f"TrackML {row['trackml_score']:.4f}, precision {row['doublet_precision']:.4f}, "
                      f"recall {row['doublet_recall']:.4f}", flush=True)
                del built, res
        del event
    summary = summarize(runs)
    ref = C.parse_baseline(C.baseline_path(args))
    fits = {}
    for model in args.models:
        rows = [r for r in summary if r["model"] == model]
        fits[model] = {st: C.fit_power([r["hits"] for r in rows], [r[f"{st}_s"] for r in rows],
                                       FIT_MIN_HITS) for st in BUILD + ("build", "solve")}
    ref_fit = {m: C.fit_power([r["hits"] for r in C.reference_rows(ref, m)],
                              [r["build_s"] for r in C.reference_rows(ref, m)], FIT_MIN_HITS)
               for m in ("Mp", "D0")}
    main = fits.get("mp") or next(iter(fits.values()))
    bf = main["build"]
    build_fit = {
        "what": "build time (doublets + triplets + model + qubo, median over seeds) = c * hits^k, "
                f"least squares in log-log over the datasets with >= {FIT_MIN_HITS} hits",
        "model": "mp" if "mp" in fits else next(iter(fits)),
        **(bf or {}),
        "at_most_1_5": bool(bf and bf["exponent"] <= 1.5),
        "per_stage": main,
        "reference_build": ref_fit,
    }
    return {"measured": measured,
            "settings": {"seeds": args.seeds, "models": args.models, "sampler": "neal",
                         "data": str(args.data), "fit_min_hits": FIT_MIN_HITS},
            "summary": summary, "runs": runs, "build_fit": build_fit, "reference": ref}


def summarize(runs: list[dict]) -> list[dict]:
    out = []
    keys = sorted({(r["dataset"], r["model"]) for r in runs},
                  key=lambda k: (next(r["hits"] for r in runs if r["dataset"] == k[0]), k[0], k[1]))
    for name, model in keys:
        rs = [r for r in runs if r["dataset"] == name and r["model"] == model]
        row = {"dataset": name, "density": rs[0]["density"], "model": model, "seeds": len(rs)}
        for k in SIZES:
            row[k] = rs[0][k] if k in ("hits", "doublets", "triplets", "quadruplets") else \
                statistics.median(r[k] for r in rs)
        for k in [f"{s}_s" for s in STAGES] + ["build_s", "load_s"] + list(SCORES) + ["energy"]:
            vals = [r[k] for r in rs if r[k] is not None and not np.isnan(r[k])]
            if not vals:
                continue
            row[k] = statistics.median(vals)
            if k in SCORES or k in ("build_s", "solve_s"):
                row[f"{k}_min"], row[f"{k}_max"] = min(vals), max(vals)
        out.append(row)
    return out


# --------------------------------------------------------------------------------------------------
# Figures

COLORS = {"mp": "#1f77b4", "d0": "#ff7f0e"}
REF_MODEL = {"mp": "Mp", "d0": "D0"}
LABEL = {"mp": "QallseMp weights (default)", "d0": "QallseD0 weights (--model d0)"}


def _xdens(ax):
    ax.set_xscale("log")
    ticks = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xlim(0.008, 1.25)


def draw_scores(data: dict, path: Path) -> None:
    from qtrack.plot.figure import new_figure, save_figure

    summary, ref = data["summary"], data["reference"]
    fig = new_figure(15, 9.5)
    axs = fig.subplots(2, 3)
    panels = [("trackml_score", "trackml", "TrackML score"),
              ("doublet_precision", "precision", "doublet precision"),
              ("doublet_recall", "recall", "doublet recall"),
              ("focused_efficiency", None, "efficiency (focused)"),
              ("fake_rate", None, "fake rate (tracks with no > 50 % particle)"),
              ("tracks", "tracks", "tracks found (>= 5 hits)")]
    models = [m for m in ("mp", "d0") if any(r["model"] == m for r in summary)]
    for ax, (key, rkey, title) in zip(axs.ravel(), panels):
        if key not in summary[0]:  # a JSON written before the score was defined
            ax.text(0.5, 0.5, f"no {key} in this JSON:\nrerun density_scan.py", ha="center",
                    transform=ax.transAxes)
            ax.set_title(title)
            continue
        for m in models:
            rows = sorted((r for r in summary if r["model"] == m), key=lambda r: (r["density"], r["hits"]))
            x = np.array([r["density"] for r in rows])
            y = np.array([r[key] for r in rows], float)
            if f"{key}_min" in rows[0]:
                lo = y - np.array([r[f"{key}_min"] for r in rows])
                hi = np.array([r[f"{key}_max"] for r in rows]) - y
                ax.errorbar(x, y, yerr=[lo, hi], color=COLORS[m], marker="o", ms=5, lw=1.5, capsize=2,
                            label=f"qtrack, {LABEL[m]}")
            else:
                ax.plot(x, y, color=COLORS[m], marker="o", ms=5, lw=1.5, label=f"qtrack, {LABEL[m]}")
            for r in rows:
                if r["dataset"] == "union" and m == models[0]:
                    ax.axvline(r["density"], color="grey", lw=0.8, ls=":")
            if rkey:
                rr = sorted(C.reference_rows(ref, REF_MODEL[m]), key=lambda r: (r["density"], r["hits"]))
                if rr:
                    rx = np.array([r["density"] for r in rr])
                    ry = np.array([r[rkey] for r in rr], float)
                    kw = dict(color=COLORS[m], marker="s", mfc="white", ms=5, lw=1.2, ls="--",
                              label=f"reference hepqpr-qallse, Qallse{REF_MODEL[m]}")
                    if f"{rkey}_lo" in rr[0]:
                        ax.errorbar(rx, ry, yerr=[ry - [r[f"{rkey}_lo"] for r in rr],
                                                  np.array([r[f"{rkey}_hi"] for r in rr]) - ry],
                                    capsize=2, **kw)
                    else:
                        ax.plot(rx, ry, **kw)
        _xdens(ax)
        ax.set(xlabel="density (fraction of the barrel's particles)", title=title)
        ax.grid(alpha=0.3, which="both")
        if key == "tracks":
            ax.set_yscale("log")
            ax.set_ylabel("tracks")
        elif key == "fake_rate":
            ax.set_ylabel("fraction of tracks")
        else:
            ax.set_ylabel("fraction")
    handles, labels = axs[0, 0].get_legend_handles_labels()
    axs[1, 2].legend(handles, labels, loc="upper left", fontsize=8.5)
    seeds = data["settings"]["seeds"]
    union_density = next((r["density"] for r in summary if r["dataset"] == "union"), 0.97)
    fig.suptitle(f"qtrack vs the reference on event000001000 barrel subsets: median over seeds "
                 f"{', '.join(map(str, seeds))} (bars: min-max); qtrack: neal, {SOLVE.num_reads} "
                 f"reads x {SOLVE.num_sweeps} sweeps (the reference: 10 x 1000)\n"
                 "both 0.2 samples (ez-0.2 and 20-density) drawn at 0.2; dotted line: the union event "
                 f"({union_density:.0%} of the barrel hits), which the reference never finished",
                 fontsize=12)
    C.footer(fig, data["measured"])
    save_figure(fig, path)


def draw_timing(data: dict, path: Path) -> None:
    from qtrack.plot.figure import new_figure, save_figure

    summary, ref, fit = data["summary"], data["reference"], data["build_fit"]
    model = fit.get("model", "mp")
    rows = sorted((r for r in summary if r["model"] == model), key=lambda r: r["hits"])
    fig = new_figure(15, 7.5)
    ax = fig.subplots()
    hits = np.array([r["hits"] for r in rows], float)
    styles = {"doublets": "#1f77b4", "triplets": "#2ca02c", "model": "#9467bd", "qubo": "#8c564b",
              "solve": "#ff7f0e", "tracks": "#17becf", "score": "#7f7f7f"}
    for st, c in styles.items():
        y = np.array([r.get(f"{st}_s", np.nan) for r in rows], float)
        ax.plot(hits, np.maximum(y, 1e-5), marker="o", ms=4, lw=1.2, color=c, label=f"qtrack {st}")
    y = np.array([r["build_s"] for r in rows])
    lo, hi = y - [r["build_s_min"] for r in rows], np.array([r["build_s_max"] for r in rows]) - y
    ax.errorbar(hits, y, yerr=[lo, hi], marker="o", ms=6, lw=2.5, color="black", capsize=2,
                label="qtrack build = doublets + triplets + model + qubo")
    if fit.get("exponent") is not None:
        xs = np.geomspace(fit["n_min"], fit["n_max"], 20)
        ax.plot(xs, fit["prefactor"] * xs ** fit["exponent"], color="black", ls=":", lw=2,
                label=f"fit of qtrack build: $\\propto N^{{{fit['exponent']:.2f}}}$ "
                      f"({fit['points']} datasets with $\\geq$ {data['settings']['fit_min_hits']} hits)")
    rr = C.reference_rows(ref, REF_MODEL.get(model, "Mp"))
    if rr:
        rh = np.array([r["hits"] for r in rr])
        rf = fit.get("reference_build", {}).get(REF_MODEL.get(model, "Mp"))
        lab = "reference build (QUBO model), as measured"
        if rf:
            lab += f", fit $\\propto N^{{{rf['exponent']:.2f}}}$"
        ax.plot(rh, [r["build_s"] for r in rr], color="black", ls="--", marker="s", mfc="white",
                label=lab)
        ax.plot(rh, [r["seeding_s"] for r in rr], color="#1f77b4", ls="--", marker="s", mfc="white",
                label="reference seeding (doublets)")
        ax.plot(rh, [r["neal_s"] for r in rr], color="#ff7f0e", ls="--", marker="s", mfc="white",
                label="reference neal (solve)")
        full = ref.get("full_density", {})
        for st in full.get("stages", []):
            if "unfinished_after_s" in st:
                ax.annotate("", xy=(full["hits"], st["unfinished_after_s"] * 1.8),
                            xytext=(full["hits"], st["unfinished_after_s"]),
                            arrowprops=dict(arrowstyle="->", color="black"))
                ax.plot([full["hits"]], [st["unfinished_after_s"]], marker="^", ms=9, color="black",
                        mfc="white", ls="",
                        label=f"reference full barrel: {st['stage']} unfinished after "
                              f"{st['unfinished_after_s'] / 60:.0f} min")
    ax.set(xscale="log", yscale="log", xlabel="hits in the event (barrel)", ylabel="wall time (s)",
           title=f"time per stage vs event size (qtrack model {model}; median over seeds)")
    ax.grid(alpha=0.3, which="both")
    top = ax.secondary_xaxis("top", functions=(lambda n: n / 55446, lambda d: d * 55446))
    top.set_xlabel("density (hits / 55,446 barrel hits)")
    from matplotlib.ticker import FixedLocator, FormatStrFormatter

    top.xaxis.set_major_locator(FixedLocator([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]))
    top.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.set_ylim(top=max(ax.get_ylim()[1], 1e4))
    fig.legend(*ax.get_legend_handles_labels(), loc="outside right center", fontsize=9, frameon=False)
    verdict = "yes" if fit.get("at_most_1_5") else "no"
    k = fit.get("exponent")
    fig.suptitle("qtrack build time (doublets + triplets + model + qubo) grows as "
                 + (f"$N^{{{k:.2f}}}$" if k is not None else "(no fit)")
                 + f" with the number of hits N; exponent <= 1.5: {verdict}", fontsize=13)
    C.footer(fig, data["measured"])
    save_figure(fig, path)


def main(argv=None) -> int:
    p = C.parser(__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--models", nargs="+", choices=("mp", "d0"), default=["mp", "d0"])
    p.add_argument("--datasets", nargs="+", help="only datasets whose name contains one of these")
    p.add_argument("--no-union", action="store_true", help="leave out the union event (~97 %% barrel)")
    p.add_argument("--quick", action="store_true", help="seed 1 only")
    p.add_argument("--replot", action="store_true", help="redraw the figures from density_scan.json")
    args = p.parse_args(argv)
    C.check_args(args)
    out_json = args.out / "density_scan.json"
    if args.quick:
        args.seeds = args.seeds[:1]
    data, fresh = C.run_or_load(args, out_json, run)
    if fresh:
        C.write_csv(args.out / "density_scan.csv", data["summary"])
        C.write_csv(args.out / "density_scan_runs.csv", data["runs"])
    draw_scores(data, args.out / "density_scan_scores.png")
    draw_timing(data, args.out / "density_scan_timing.png")
    f = data["build_fit"]
    if f.get("exponent") is not None:
        print(f"build time ~ hits^{f['exponent']:.2f} over {f['points']} datasets "
              f"({f['n_min']:.0f}-{f['n_max']:.0f} hits): <= 1.5: {'yes' if f['at_most_1_5'] else 'no'}")
    print(f"wrote {out_json} and figures in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
