"""Scaling: time per stage and peak memory vs number of hits, log-log, with fitted exponents, against
the reference's measured times and memory.

Events: every barrel subset of event000001000 (density 0.01-0.5), the union event (~97 % of the
barrel, with truth), the full-density barrel hits without truth (55,446 hits) and the two complete
Kaggle events without truth (event000001001 and event000001003: all volumes are read, the barrel
part is solved, the endcaps are left out).

Each point is a fresh child process (``benchmarks/harness.py pipeline_child``): it first solves the shipped
tiny event (numba cache loading not counted), then loads, builds and solves the event with the
default model and seed 1; time per stage is the pipeline's ``Result.timings`` (perf_counter), peak
memory is the child's ``ru_maxrss`` read by the parent with ``os.wait4``. A child that only imports
and warms up gives the baseline memory. ``--repeats`` children per event: median time (min-max
bars), largest peak memory. Exponents are fitted over the events with >= 5,000 hits.

    python experiments/scaling.py               # 3 repeats (~8 min on a quiet 2-core machine)
    python experiments/scaling.py --quick       # 1 repeat
    python experiments/scaling.py --replot
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks.harness
import _common as C  # noqa: E402

STAGES = ("load", "doublets", "triplets", "couplers", "qubo", "solve", "tracks")
BUILD = ("doublets", "triplets", "couplers", "qubo")
FIT_MIN_HITS = 5000
METHOD = ("one fresh child process per run (python benchmarks/harness.py child): warm-up solve of the "
          "shipped event, then load + build + solve, default model, seed 1; time.perf_counter per "
          "stage; peak memory = the child's ru_maxrss via os.wait4 (includes interpreter and imports)")


def run(args) -> dict:
    from benchmarks.harness import pipeline_child, provenance

    measured = provenance(METHOD)
    base = [pipeline_child(None)["maxrss_mb"]]
    points = []
    sets = [d for d in C.datasets(args.data, union=True, extra=not args.no_extra)
            if not args.datasets or any(s in d.name for s in args.datasets)]
    if not sets:
        C.fail("no dataset found under --data matching --datasets")
    for ds in sets:
        runs = [pipeline_child(ds.prefix, seed=1, timeout=args.timeout) for _ in range(args.repeats)]
        r0 = runs[0]
        row = {"dataset": ds.name, "kind": ds.kind, "density": ds.density, "truth": ds.truth,
               "hits": r0["sizes"]["hits"], "hits_in_file": r0["sizes"]["hits_in_file"],
               "doublets": r0["sizes"]["doublets"], "triplets": r0["sizes"]["triplets"],
               "qubo_variables": r0["sizes"]["qubo_variables"],
               "qubo_couplers": r0["sizes"]["qubo_quadruplet_couplers"] + r0["sizes"]["qubo_conflict_couplers"],
               "repeats": len(runs)}
        for st in STAGES:
            vals = [r["timings_s"][st] for r in runs]
            row[f"{st}_s"], row[f"{st}_s_min"], row[f"{st}_s_max"] = statistics.median(vals), min(vals), max(vals)
        for name, parts in (("build", BUILD), ("total", STAGES)):
            vals = [sum(r["timings_s"][k] for k in parts) for r in runs]
            row[f"{name}_s"], row[f"{name}_s_min"], row[f"{name}_s_max"] = statistics.median(vals), min(vals), max(vals)
        # CPU seconds of the whole child (imports and warm-up included), and its wall time
        row["child_cpu_s"] = statistics.median(r["user_s"] + r["sys_s"] for r in runs)
        row["child_wall_s"] = statistics.median(r["wall_s"] for r in runs)
        row["maxrss_mb"] = max(r["maxrss_mb"] for r in runs)
        row["trackml_score"] = r0["scores"]["trackml_score"] if r0.get("scores") else None
        points.append(row)
        print(f"{ds.name:<44} {row['hits']:>6} hits: build {row['build_s']:7.2f} s, solve "
              f"{row['solve_s']:7.2f} s, peak {row['maxrss_mb']:6.0f} MB", flush=True)
    ref = C.parse_baseline(C.baseline_path(args))
    # all events: the pipeline's work does not depend on truth (the score stage is not fitted)
    fits = {st: C.fit_power([p["hits"] for p in points], [p[f"{st}_s"] for p in points], FIT_MIN_HITS)
            for st in STAGES + ("build", "total")}
    fits["maxrss_mb_above_baseline"] = C.fit_power(
        [p["hits"] for p in points], [p["maxrss_mb"] - min(base) for p in points], FIT_MIN_HITS)
    ref_fits = {}
    for m in ("Mp", "D0"):
        rr = C.reference_rows(ref, m)
        ref_fits[m] = {k: C.fit_power([r["hits"] for r in rr], [r[k] for r in rr], FIT_MIN_HITS)
                       for k in ("seeding_s", "build_s", "neal_s", "peak_rss_mb")}
    return {"measured": measured,
            "settings": {"repeats": args.repeats, "model": "mp", "seed": 1, "sampler": "neal",
                         "fit_min_hits": FIT_MIN_HITS, "data": str(args.data)},
            "baseline_maxrss_mb": min(base), "points": points, "fits": fits,
            "reference_fits": ref_fits, "reference": ref}


# --------------------------------------------------------------------------------------------------

COLORS = {"doublets": "#1f77b4", "triplets": "#2ca02c", "couplers": "#9467bd", "qubo": "#8c564b",
          "solve": "#ff7f0e", "tracks": "#17becf", "load": "#bcbd22", "build": "black", "total": "#d62728"}
MARK = {"subset": "o", "union": "D", "full-barrel": "P", "kaggle-full": "*"}
KIND_LABEL = {"subset": "barrel subsets (truth)", "union": "union event, 97 % of barrel (truth)",
              "full-barrel": "full barrel, 55,446 hits (no truth)",
              "kaggle-full": "full Kaggle events 1001/1003, barrel part solved (no truth)"}


def _fit_label(fit):
    return f"$\\propto N^{{{fit['exponent']:.2f}}}$" if fit else "(no fit)"


def draw(data: dict, path: Path) -> None:
    from matplotlib.lines import Line2D

    from qtrack.plot.figure import new_figure, save_figure

    pts = sorted(data["points"], key=lambda p: p["hits"])
    fits, ref = data["fits"], data["reference"]
    fig = new_figure(16, 7.8)
    ax_t, ax_m = fig.subplots(1, 2, width_ratios=[1.35, 1])
    hits = np.array([p["hits"] for p in pts], float)
    kinds = [p["kind"] for p in pts]
    for st in ("doublets", "triplets", "couplers", "solve", "load", "build", "total"):
        y = np.array([p[f"{st}_s"] for p in pts])
        lo = y - np.array([p[f"{st}_s_min"] for p in pts])
        hi = np.array([p[f"{st}_s_max"] for p in pts]) - y
        lw = 2.5 if st in ("build", "total") else 1.2
        line = np.array([k in ("subset", "union") for k in kinds])
        ax_t.plot(hits[line], y[line], color=COLORS[st], lw=lw, alpha=0.8,
                  label=f"qtrack {st}: fit {_fit_label(fits.get(st))}")
        for k in MARK:
            sel = np.array([kk == k for kk in kinds])
            if sel.any():
                ax_t.errorbar(hits[sel], y[sel], yerr=[lo[sel], hi[sel]], color=COLORS[st], ls="",
                              marker=MARK[k], ms=7 if k == "kaggle-full" else 5, capsize=2)
    rr = C.reference_rows(ref, "Mp")
    rf = data.get("reference_fits", {}).get("Mp", {})
    if rr:
        rh = [r["hits"] for r in rr]
        for key, color, name in (("build_s", "black", "build (model + QUBO)"),
                                 ("seeding_s", "#1f77b4", "seeding"), ("neal_s", "#ff7f0e", "neal")):
            ax_t.plot(rh, [r[key] for r in rr], color=color, ls="--", marker="s", mfc="white", ms=5,
                      label=f"reference {name} (QallseMp), fit {_fit_label(rf.get(key))}")
    full = ref.get("full_density", {})
    for st in full.get("stages", []):
        if "unfinished_after_s" in st:
            ax_t.plot([full["hits"]], [st["unfinished_after_s"]], marker="^", ms=10, mfc="white",
                      color="black", ls="", label=f"reference full barrel: {st['stage']} "
                                                  f"unfinished after {st['unfinished_after_s'] / 60:.0f} min")
        elif "wall_s" in st:
            ax_t.plot([full["hits"]], [st["wall_s"]], marker="v", ms=8, mfc="white", color="#1f77b4",
                      ls="", label=f"reference full barrel: {st['stage']}")
    ax_t.set(xscale="log", yscale="log", xlabel="hits solved (barrel)", ylabel="wall time (s)",
             title=f"time per stage (median of {data['settings']['repeats']} fresh process(es); bars: min-max)")
    ax_t.grid(alpha=0.3, which="both")
    ax_t.legend(fontsize=8, loc="upper left", ncol=2)

    mem = np.array([p["maxrss_mb"] for p in pts])
    line = np.array([k in ("subset", "union") for k in kinds])
    ax_m.plot(hits[line], mem[line], color="#d62728", lw=2, label="qtrack peak RSS (whole process)")
    for k in MARK:
        sel = np.array([kk == k for kk in kinds])
        if sel.any():
            ax_m.plot(hits[sel], mem[sel], color="#d62728", ls="", marker=MARK[k], ms=8 if k == "kaggle-full" else 6)
    ax_m.axhline(data["baseline_maxrss_mb"], color="#d62728", ls=":", lw=1.2,
                 label=f"qtrack baseline: imports + warm-up only ({data['baseline_maxrss_mb']:.0f} MB)")
    if rr:
        ok = [r for r in rr if r["peak_rss_mb"] == r["peak_rss_mb"] and r["peak_rss_mb"]]
        rfm = rf.get("peak_rss_mb")
        ax_m.plot([r["hits"] for r in ok], [r["peak_rss_mb"] for r in ok], color="black", ls="--",
                  marker="s", mfc="white", label=f"reference peak RSS (QallseMp), fit {_fit_label(rfm)}")
    for st in full.get("stages", []):
        if "peak_gb" in st:
            ax_m.plot([full["hits"]], [st["peak_gb"] * 1024], marker="^" if "unfinished_after_s" in st else "v",
                      ms=8, mfc="white", color="black", ls="")
            ax_m.annotate(f"ref. {st['stage'].split('(')[0].strip()}", (full["hits"], st["peak_gb"] * 1024),
                          fontsize=7, textcoords="offset points", xytext=(-8, 0), ha="right", va="center")
    fm = fits.get("maxrss_mb_above_baseline")
    ax_m.set(xscale="log", yscale="log", xlabel="hits solved (barrel)", ylabel="peak resident memory (MB)",
             title="peak memory" + (f"; qtrack above baseline {_fit_label(fm)}" if fm else ""))
    ax_m.grid(alpha=0.3, which="both")
    handles = [Line2D([], [], color="grey", marker=m, ls="", ms=8 if k == "kaggle-full" else 6,
                      label=KIND_LABEL[k]) for k, m in MARK.items() if k in kinds]
    ax_m.add_artist(ax_m.legend(handles=handles, loc="lower right", fontsize=8, title="marker = event",
                                title_fontsize=8))
    ax_m.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"qtrack scaling with event size: time per stage and peak memory; exponents fitted "
                 f"over events with >= {data['settings']['fit_min_hits']} hits; reference = "
                 "hepqpr-qallse as measured", fontsize=12)
    C.footer(fig, data["measured"])
    save_figure(fig, path)


def main(argv=None) -> int:
    p = C.parser(__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3, help="fresh processes per event")
    p.add_argument("--datasets", nargs="+", help="only events whose name contains one of these")
    p.add_argument("--no-extra", action="store_true", help="leave out the events without truth")
    p.add_argument("--timeout", type=float, default=900, help="seconds per child process")
    p.add_argument("--quick", action="store_true", help="1 repeat")
    p.add_argument("--replot", action="store_true", help="redraw the figure from scaling.json")
    args = p.parse_args(argv)
    C.check_args(args)
    out_json = args.out / "scaling.json"
    if args.quick:
        args.repeats = 1
    data, fresh = C.run_or_load(args, out_json, run)
    if fresh:
        C.write_csv(args.out / "scaling.csv", data["points"])
    draw(data, args.out / "scaling.png")
    for k, f in data["fits"].items():
        if f:
            print(f"{k:<26} ~ hits^{f['exponent']:.2f} ({f['points']} events, {f['n_min']:.0f}-{f['n_max']:.0f} hits)")
    print(f"wrote {out_json} and {args.out / 'scaling.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
