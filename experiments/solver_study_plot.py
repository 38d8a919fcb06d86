"""Figure of the solver study: energy (relative to the best found) and TrackML score vs time.

Reads the JSON that ``experiments/solver_study.py`` writes (default
experiments/results/solver_study.json) and draws experiments/results/solver_study.png: one column per
QUBO, the relative energy gap to the best energy any run found on that QUBO (top, log scale) and
the TrackML score (bottom, only when the runs carry one) against the solve's wall time (log
scale). One colour per sampler; small points are single runs (seeds), large points the medians over
seeds of each setting (sweeps, reads...), joined in order of time when a sampler has several.

Schemas read (extra fields are ignored):

* solver_study.py's: ``{"rows": [{"qubo", "sampler", "seed", "energy", "wall_s", "relative_gap",
  "num_reads", "num_sweeps", "error"?...}], "meta": {...}, "skipped": [...]}``; rows with an error
  (non-finite energy) are left out and counted in the title;
* the generic one: ``{"runs": [{"qubo", "sampler", "seed", "energy", "time_s",
  "relative_energy"?, "trackml_score"?, "setting"?}], "measured"?: benchmarks.harness.provenance()}``.

The relative gap is (E - E_best) / |E_best|, computed from the best energy per QUBO when the file
does not give it; a gap of 0 (the best run) is drawn on a dotted floor line.

    python experiments/solver_study_plot.py [--input FILE] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks.harness
import _common as C  # noqa: E402

SETTING_KEYS = ("setting", "num_sweeps", "sweeps", "num_reads", "reads", "steps", "num_steps",
                "max_steps", "params")
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f"]
GAP_FLOOR = 1e-7


def _setting(run: dict) -> str:
    """Label of a run's settings; num_reads/num_sweeps only where they are not the only setting."""
    parts = []
    for k in SETTING_KEYS:
        if k in run and run[k] is not None:
            v = run[k]
            parts.append(str(v) if k == "setting" else f"{k}={json.dumps(v, sort_keys=True) if isinstance(v, dict) else v}")
    return ", ".join(parts)


def _first(run: dict, *keys):
    for k in keys:
        if run.get(k) is not None:
            return run[k]
    return None


def load_runs(path: Path) -> tuple[list[dict], dict, int]:
    """Normalised runs (qubo, sampler, seed, energy, time_s, relative_energy, trackml_score,
    _setting), a description of how they were measured, and the number of failed runs left out."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        C.fail(f"{path}: not valid JSON ({exc})")
    raw = None
    if isinstance(data, dict):
        raw = data.get("runs", data.get("rows"))
    if not isinstance(raw, list) or not raw:
        C.fail(f"{path}: no \"runs\" or \"rows\" list (see the schemas in this script)")
    runs, failed = [], 0
    for i, r in enumerate(raw):
        run = {"qubo": r.get("qubo"), "sampler": r.get("sampler"), "seed": r.get("seed"),
               "energy": r.get("energy"), "time_s": _first(r, "time_s", "wall_s", "seconds"),
               "relative_energy": _first(r, "relative_energy", "relative_gap"),
               "trackml_score": r.get("trackml_score"), "_setting": _setting(r)}
        missing = [k for k in ("qubo", "sampler") if run[k] is None]
        if missing:
            C.fail(f"{path}: run {i} lacks {', '.join(missing)}")
        e, t = run["energy"], run["time_s"]
        if e is None or t is None or not np.isfinite(float(e)) or not np.isfinite(float(t)):
            failed += 1
            continue
        runs.append(run)
    if not runs:
        C.fail(f"{path}: no run with a finite energy and time")
    best = defaultdict(lambda: np.inf)
    for r in runs:
        best[r["qubo"]] = min(best[r["qubo"]], float(r["energy"]))
    for r in runs:
        if r["relative_energy"] is None or not np.isfinite(float(r["relative_energy"])):
            b = best[r["qubo"]]
            r["relative_energy"] = (float(r["energy"]) - b) / abs(b) if b else float(r["energy"]) - b
    # QUBO labels: file names, with their folder when two share a name
    qs = list(dict.fromkeys(r["qubo"] for r in runs))
    names = {q: Path(str(q)).name.removesuffix(".npz").removesuffix("-qubo") for q in qs}
    if len(set(names.values())) < len(names):
        names = {q: Path(str(q)).parent.name for q in qs}
    if len(set(names.values())) < len(names):
        names = {q: str(q) for q in qs}
    for r in runs:
        r["qubo"] = names[r["qubo"]]
    how = None
    if isinstance(data.get("measured"), dict) and "machine" in data["measured"]:
        how = data["measured"]
    elif isinstance(data.get("meta"), dict):
        m = data["meta"]
        how = {"text": "; ".join(f"{k} {m[k]}" for k in ("python", "cpus", "started", "solve_config")
                                 if k in m)}
    return runs, how, failed


def draw(runs: list[dict], measured: dict | None, path: Path, title: str | None = None,
         failed: int = 0) -> None:
    from matplotlib.lines import Line2D

    from qtrack.plot.figure import new_figure, save_figure

    global GAP_FLOOR
    positive = [r["relative_energy"] for r in runs if r["relative_energy"] > 0]
    if positive:  # draw gap 0 (the best run) one decade and a half below the smallest positive gap
        GAP_FLOOR = 10 ** np.floor(np.log10(min(positive)) - 0.5)
    qubos = list(dict.fromkeys(r["qubo"] for r in runs))
    samplers = list(dict.fromkeys(r["sampler"] for r in runs))
    color = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(samplers)}
    has_score = any(r.get("trackml_score") is not None for r in runs)
    nrow = 2 if has_score else 1
    fig = new_figure(max(6.5 * len(qubos), 9), 5.2 * nrow + 0.8)
    axs = np.atleast_2d(fig.subplots(nrow, len(qubos), squeeze=False))
    for j, q in enumerate(qubos):
        rq = [r for r in runs if r["qubo"] == q]
        for s in samplers:
            rs = [r for r in rq if r["sampler"] == s]
            if not rs:
                continue
            groups = defaultdict(list)
            for r in rs:
                groups[r["_setting"]].append(r)
            med = []
            for setting, g in groups.items():
                t = statistics.median(r["time_s"] for r in g)
                e = statistics.median(r["relative_energy"] for r in g)
                sc = [r["trackml_score"] for r in g if r.get("trackml_score") is not None]
                med.append((t, e, statistics.median(sc) if sc else np.nan, setting))
            med.sort()
            for row, key in ((0, "relative_energy"), (1, "trackml_score")):
                if row >= nrow:
                    continue
                ax = axs[row, j]
                pts = [(r["time_s"], r.get(key)) for r in rs if r.get(key) is not None]
                if pts:
                    x, y = np.array(pts, float).T
                    if key == "relative_energy":
                        y = np.maximum(y, GAP_FLOOR)
                    ax.plot(x, y, ls="", marker="o", ms=3, alpha=0.35, color=color[s])
                mx = np.array([m[0] for m in med])
                my = np.array([m[1] if key == "relative_energy" else m[2] for m in med], float)
                if key == "relative_energy":
                    my = np.maximum(my, GAP_FLOOR)
                ok = np.isfinite(my)
                ax.plot(mx[ok], my[ok], marker="o", ms=6, lw=1.6, color=color[s])
                if len(med) > 1 and row == 0:
                    for (t, e, _, setting), yv in zip(med, my):
                        if setting:
                            ax.annotate(setting, (t, yv), fontsize=6.5, color=color[s],
                                        textcoords="offset points", xytext=(4, 3))
        ax = axs[0, j]
        ax.set(xscale="log", yscale="log", xlabel="solve wall time (s)",
               ylabel="(E - E$_{best}$) / |E$_{best}$|", title=f"{q}: energy gap to the best run")
        ax.axhline(GAP_FLOOR, color="grey", lw=0.6, ls=":")
        ax.annotate(f"gap 0 (the best run) drawn at {GAP_FLOOR:g}", (1, GAP_FLOOR), xycoords=("axes fraction", "data"),
                    ha="right", va="bottom", fontsize=7, color="grey")
        ax.grid(alpha=0.3, which="both")
        if nrow == 2:
            ax = axs[1, j]
            ax.set(xscale="log", xlabel="solve wall time (s)", ylabel="TrackML score",
                   title=f"{q}: TrackML score")
            ax.grid(alpha=0.3, which="both")
    handles = [Line2D([], [], color=color[s], marker="o", lw=1.6, label=s) for s in samplers]
    handles += [Line2D([], [], color="grey", marker="o", ls="", ms=3, alpha=0.5, label="single runs (seeds)"),
                Line2D([], [], color="grey", marker="o", lw=1.6, label="median over seeds per setting")]
    axs[0, 0].legend(handles=handles, fontsize=8.5, loc="best")
    default = "Solver study: QUBO energy" + (" and TrackML score" if has_score else "") + \
        " vs solve wall time (best read per connected component)"
    if failed:
        default += f"; {failed} failed run(s) left out"
    fig.suptitle(title or default, fontsize=13)
    if measured and "machine" in measured:
        C.footer(fig, measured)
    elif measured and measured.get("text"):
        fig.supxlabel(measured["text"], x=0.005, ha="left", fontsize=7, color="#606060")
    save_figure(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--input", type=Path, default=C.RESULTS / "solver_study.json")
    p.add_argument("--out", type=Path, default=C.RESULTS)
    p.add_argument("--title")
    args = p.parse_args(argv)
    if not args.input.is_file():
        C.fail(f"{args.input} not found; run experiments/solver_study.py first")
    runs, measured, failed = load_runs(args.input)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "solver_study.png"
    draw(runs, measured, out, args.title, failed)
    print(f"wrote {out} ({len(runs)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
