"""Integrated control errors: the physics of mock-qpu against the noise on h and J.

The mock QPU (``--sampler mock-qpu``) anneals every embedded sub-problem exactly as given; a real
QPU solves a slightly different problem, h + delta h and J + delta J (D-Wave's "ICE"). With
``[qpu] control_errors = true`` the mock draws fresh Gaussian delta h and delta J for every call,
of standard deviations ``ice_sigma_h`` and ``ice_sigma_j`` (in units of the QPU's J range). This
script solves the given events at several sigmas (sigma_h = sigma_j = sigma; the default config's
figures are sigma_h 0.02, sigma_j 0.015) with the polish and the exact reductions off, so that
nothing classical repairs what the noise did (the shipped barrel event is solved entirely by the
reductions otherwise: no QPU call at all), and records focused efficiency, TrackML score and QUBO energy, next to
neal's on the same QUBO. ``--path-integral`` adds the mock with dwave-samplers' path-integral
Monte Carlo (a simulated quantum annealer) as its stand-in, without noise, on the same blocks.

Writes to ``--out`` (experiments/results): control_errors.json, control_errors.csv,
control_errors.png.

    python experiments/control_errors.py [EVENT ...] [--sigmas 0 0.01 0.02 0.05 0.1] [--seeds 2]
"""
from __future__ import annotations

import argparse
import csv
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from experiments._common import run_main  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "experiments" / "results"
DEFAULT_EVENTS = [REPO / "data" / "event000001000"]
FIELDS = ["event", "sampler", "sigma", "seed", "focused_efficiency", "trackml_score", "energy",
          "qpu_calls", "wall_s"]


def _solve(built, sampler, name):
    from qtrack import pipeline

    t0 = time.perf_counter()
    result = pipeline.solve_built(built, sampler, name)
    scores = result.scores or {}
    res = result.solution.info.get("resources", {})
    return {"focused_efficiency": scores.get("focused_efficiency"),
            "trackml_score": scores.get("trackml_score"), "energy": result.solution.energy,
            "qpu_calls": res.get("qpu_calls", 0), "wall_s": round(time.perf_counter() - t0, 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events", nargs="*", type=Path, default=DEFAULT_EVENTS,
                    help="event path prefixes (default: the shipped barrel event)")
    ap.add_argument("--sigmas", nargs="+", type=float,
                    default=[0.0, 0.02, 0.05, 0.1, 0.2, 0.5])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--path-integral", action="store_true",
                    help="also run the mock with path-integral Monte Carlo as its stand-in")
    ap.add_argument("--out", type=Path, default=RESULTS / "control_errors")
    args = ap.parse_args(argv)
    missing = [e for e in args.events if not Path(f"{e}-hits.csv").exists()
               and not Path(f"{e}-hits.csv.gz").exists()]
    if missing:
        print(f"control_errors.py: error: no hits file for {missing[0]} "
              f"(expected {missing[0]}-hits.csv[.gz])", file=sys.stderr)
        return 2
    if any(s < 0 or s > 1 for s in args.sigmas) or args.seeds < 1:
        print("control_errors.py: error: --sigmas must lie in [0, 1] and --seeds be >= 1",
              file=sys.stderr)
        return 2
    from qtrack import pipeline
    from qtrack.config import Config
    from qtrack.samplers import get_sampler

    rows = []
    for event in args.events:
        for seed in range(1, args.seeds + 1):
            cfg = Config().replace(solve={"seed": seed})
            built = pipeline.build(event, cfg)
            rows.append({"event": Path(event).name, "sampler": "neal", "sigma": None, "seed": seed,
                         **_solve(built, get_sampler("neal", cfg), "neal")})
            raw = {"polish": False, "roof_duality": False, "exact_max_variables": 0}
            for sigma in args.sigmas:
                qcfg = cfg.replace(qpu={**raw, "control_errors": sigma > 0,
                                        "ice_sigma_h": sigma, "ice_sigma_j": sigma})
                row = {"event": Path(event).name, "sampler": "mock-qpu", "sigma": sigma,
                       "seed": seed, **_solve(built, get_sampler("mock-qpu", qcfg), "mock-qpu")}
                rows.append(row)
                _say(row)
            if args.path_integral:
                qcfg = cfg.replace(qpu={**raw, "mock_annealer": "path-integral"})
                row = {"event": Path(event).name, "sampler": "mock-qpu/path-integral",
                       "sigma": 0.0, "seed": seed,
                       **_solve(built, get_sampler("mock-qpu", qcfg), "mock-qpu")}
                rows.append(row)
                _say(row)
    summary = []
    groups = [("neal", None)] + [("mock-qpu", s) for s in args.sigmas]
    if args.path_integral:
        groups.append(("mock-qpu/path-integral", 0.0))
    for sampler, sigma in groups:
        sel = [r for r in rows if r["sampler"] == sampler and r["sigma"] == sigma]
        summary.append({"sampler": sampler, "sigma": sigma,
                        **{f"{q}_mean": statistics.fmean(r[q] for r in sel)
                           for q in ("focused_efficiency", "trackml_score", "energy")},
                        **{f"{q}_std": (statistics.pstdev(r[q] for r in sel))
                           for q in ("focused_efficiency", "trackml_score")}})
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"method": "mock-qpu (clique embeddings, defaults of [qpu]) with polish and exact "
                      "reductions off and Gaussian control errors of sigma_h = sigma_j = sigma on "
                      "every call; neal on the same QUBO; mean and population standard "
                      "deviation over seeds",
            "events": [str(Path(e).name) for e in args.events], "seeds": args.seeds,
            "python": platform.python_version()}
    Path(f"{out}.json").write_text(json.dumps({"meta": meta, "summary": summary, "rows": rows},
                                              indent=2) + "\n")
    with open(f"{out}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    _plot(summary, Path(f"{out}.png"))
    print(f"wrote {out}.json, {out}.csv and {out}.png")
    return 0


def _say(row) -> None:
    print(f"{row['event']} seed {row['seed']} {row['sampler']} sigma {row['sigma']}: focused "
          f"{row['focused_efficiency']:.4f} TrackML {row['trackml_score']:.4f} "
          f"energy {row['energy']:.3f} ({row['wall_s']} s)", flush=True)


def _plot(summary, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    neal = summary[0]
    mock = [m for m in summary if m["sampler"] == "mock-qpu"]
    pimc = [m for m in summary if m["sampler"] == "mock-qpu/path-integral"]
    xs = [m["sigma"] for m in mock]
    fig, ax = plt.subplots(figsize=(6, 4))
    for q, label, color in (("focused_efficiency", "focused efficiency", "C0"),
                            ("trackml_score", "TrackML score", "C1")):
        ax.errorbar(xs, [m[f"{q}_mean"] for m in mock], yerr=[m[f"{q}_std"] for m in mock],
                    marker="o", color=color, label=f"mock-qpu, {label}")
        ax.axhline(neal[f"{q}_mean"], color=color, ls="--", lw=1, label=f"neal, {label}")
        for m in pimc:
            ax.plot([0.0], [m[f"{q}_mean"]], marker="s", color=color, ls="none",
                    label=f"mock-qpu path-integral, {label}")
    ax.axvline(0.02, color="grey", ls=":", lw=1)
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlim(-0.002, 0.7)
    ax.set_xlabel("control-error sigma (h and J, units of the QPU's J range)")
    ax.set_ylabel("score")
    ax.set_title("mock-qpu (polish and reductions off) against control errors")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    run_main(main)
