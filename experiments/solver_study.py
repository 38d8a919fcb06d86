"""Solver study: every installed local sampler on the same QUBOs, over several seeds.

    python experiments/solver_study.py EVENT_OR_QUBO [...] --seeds 3 --out experiments/results/solver_study

Each input is an event (path prefix: its QUBO is built once with the default config, and every
run's selected triplets are turned into tracks and scored, so rows carry ``trackml_score``) or a
QUBO file (``.npz`` with ``linear``, ``irow``, ``icol``, ``quad``, as ``qtrack build`` writes;
energies only). For each input and each sampler of :data:`qtrack.samplers.SAMPLERS` that is installed and fits, records the
energy, its gap to the best energy any run found on that QUBO, and the wall time, for each seed;
writes ``<out>.json`` (rows, per-sampler summary, settings) and ``<out>.csv`` (rows).

Skipped, with the reason recorded: remote hardware samplers (qpu, hybrid, decomposed: they need
an account); mock-qpu above ``--mock-max-variables`` (its embeddings cost ~20 ms per variable);
samplers whose ``max_variables`` (tabu, exact) is below the QUBO's largest connected component;
exact above ``--exact-max-component`` (it enumerates all 2**k states of a component).
Solving goes through the pipeline's ``qtrack.components.solve_qubo`` (best read per connected
component).

Exits 2 with one line when an input is missing or unreadable.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))



def _die(msg: str) -> None:
    print(f"{Path(sys.argv[0]).name}: error: {msg}", file=sys.stderr)
    sys.exit(2)


def load(path: Path):
    """The Qubo of a QUBO file; exits 2 with one line when unusable."""
    from qtrack.errors import QtrackError
    from qtrack.model.qubo import load_qubo

    try:
        return load_qubo(path)[0]
    except QtrackError as exc:
        _die(str(exc))


def skip_reason(spec, n, largest, args) -> str | None:
    if args.samplers and spec.name not in args.samplers:
        return "not selected"
    if not spec.installed:
        return "not installed"
    caps = spec.capabilities
    if caps.remote:
        return "needs a D-Wave account (remote)"
    if not caps.solve_settings and n > args.mock_max_variables:  # QPU-like: slow offline
        return f"{n} variables > --mock-max-variables {args.mock_max_variables}"
    if caps.max_variables is not None and largest > caps.max_variables:
        return f"largest component {largest} > {caps.max_variables} variables"
    return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("qubos", nargs="+", type=Path, help="event path prefixes or QUBO .npz files")
    p.add_argument("--out", type=Path, default=REPO / "experiments" / "results" / "solver_study",
                   help="results path prefix: writes <out>.json and <out>.csv")
    p.add_argument("--seeds", type=int, default=3, help="seeds 1..N per sampler and QUBO")
    p.add_argument("--samplers", nargs="*", default=None,
                   help="only these samplers (default: every installed local one)")
    p.add_argument("--num-reads", type=int, default=None, help="reads (default: SolveConfig's)")
    p.add_argument("--num-sweeps", type=int, default=None, help="sweeps (default: SolveConfig's)")
    p.add_argument("--mock-max-variables", type=int, default=2000,
                   help="run mock-qpu only on QUBOs up to this many variables")
    p.add_argument("--subproblem-size", type=int, default=None,
                   help="mock-qpu sub-problem size (default: the [qpu] config section's)")
    args = p.parse_args(argv)
    if args.seeds < 1:
        _die("--seeds must be at least 1")
    for path in args.qubos:  # all inputs checked before any work
        if path.suffix == ".npz" and not path.is_file():
            _die(f"QUBO file {path} not found")
        if path.suffix != ".npz" and not Path(f"{path}-hits.csv").is_file():
            _die(f"event {path}: {path}-hits.csv not found")

    from qtrack.components import components, solve_qubo
    from qtrack.config import Config
    from qtrack.errors import QtrackError
    from qtrack.pipeline import solve_built
    from qtrack.samplers import SAMPLERS, get_sampler

    unknown = set(args.samplers or []) - set(SAMPLERS)
    if unknown:
        _die(f"unknown sampler(s) {', '.join(sorted(unknown))}; expected {', '.join(SAMPLERS)}")
    base = Config()
    if args.subproblem_size:
        base = base.replace(qpu={"subproblem_size": args.subproblem_size})
    overrides = {k: v for k, v in (("num_reads", args.num_reads),
                                   ("num_sweeps", args.num_sweeps)) if v is not None}

    rows, skipped = [], []
    for path in args.qubos:
        built = None
        if path.suffix == ".npz":
            qubo = load(path)
        else:
            import qtrack

            built = qtrack.build(path)
            qubo = built.qubo
        n, quad = qubo.num_variables, qubo.quad
        sizes = np.bincount(components(qubo)[1]) if n else np.zeros(0, dtype=int)
        largest = int(sizes.max()) if len(sizes) else 0
        print(f"{path}: {n} variables, {len(quad)} couplers, {len(sizes)} components "
              f"(largest {largest})", flush=True)
        qubo_rows = []
        for name, spec in SAMPLERS.items():
            why = skip_reason(spec, n, largest, args)
            if why:
                skipped.append({"qubo": str(path), "sampler": name, "reason": why})
                continue
            for seed in range(1, args.seeds + 1):
                config = base.replace(solve=dict(overrides, seed=seed))
                row = {"qubo": str(path), "variables": n, "couplers": len(quad),
                       "components": len(sizes), "largest_component": largest,
                       "sampler": name, "seed": seed, "num_reads": config.solve.num_reads,
                       "num_sweeps": config.solve.num_sweeps}
                sampler = None
                try:
                    sampler = get_sampler(name, config)
                    if built is not None:
                        result = solve_built(dataclasses.replace(built, config=config),
                                             sampler, name)
                        solution = result.solution
                        row["wall_s"] = result.timings["solve"]
                        if result.scores:
                            row["trackml_score"] = result.scores["trackml_score"]
                    else:
                        t0 = time.perf_counter()
                        solution = solve_qubo(qubo, sampler, config.solve)
                        row["wall_s"] = time.perf_counter() - t0
                    state = solution.state
                except QtrackError as exc:
                    row.update(error=" ".join(str(exc).split()), energy=math.nan, wall_s=math.nan)
                    qubo_rows.append(row)
                    print(f"  {name:<10} seed {seed}: error: {row['error']}", flush=True)
                    continue
                finally:
                    if hasattr(sampler, "close"):
                        sampler.close()
                row["energy"] = qubo.energy(state)
                row["selected"] = int(state.sum())
                if solution.info.get("resources"):
                    res = solution.info.get("resources", {})
                    for key in ("qpu_calls", "logical_qubits_max", "physical_qubits_max",
                                "physical_qubits_total", "longest_chain", "chain_break_fraction",
                                "embedding_time_s", "embedding_cache_hits",
                                "qpu_access_time_us", "qpu_access_time_is_placeholder"):
                        if key in res:
                            row[key] = res[key]
                qubo_rows.append(row)
                print(f"  {name:<10} seed {seed}: energy {row['energy']:.6f}  "
                      f"{row['wall_s']:.2f} s", flush=True)
        finite = [r["energy"] for r in qubo_rows if np.isfinite(r["energy"])]
        best = min(finite) if finite else math.nan
        for r in qubo_rows:
            r["best_energy"] = best
            r["gap"] = r["energy"] - best
            r["relative_gap"] = (r["energy"] - best) / abs(best) if best else math.nan
        rows.extend(qubo_rows)

    summary = []
    for (qubo, name) in dict.fromkeys((r["qubo"], r["sampler"]) for r in rows):
        rs = [r for r in rows if r["qubo"] == qubo and r["sampler"] == name
              and np.isfinite(r["energy"])]
        if not rs:
            continue
        e = np.array([r["energy"] for r in rs])
        w = np.array([r["wall_s"] for r in rs])
        g = np.array([r["relative_gap"] for r in rs])
        summary.append({"qubo": qubo, "sampler": name, "runs": len(rs),
                        "energy_min": float(e.min()), "energy_mean": float(e.mean()),
                        "energy_std": float(e.std()), "relative_gap_mean": float(g.mean()),
                        "relative_gap_max": float(g.max()), "found_best": int((g <= 1e-9).sum()),
                        "wall_s_mean": float(w.mean()), "wall_s_min": float(w.min())})
        scores = [r["trackml_score"] for r in rs if "trackml_score" in r]
        if scores:
            summary[-1]["trackml_score_median"] = float(np.median(scores))

    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"argv": sys.argv, "python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "solve_config": dict(dataclasses.asdict(base), **overrides),
            "note": "mock-qpu energies come from simulated annealing on the embedded problem; "
                    "its qpu_access_time_us are MockDWaveSampler placeholders"}
    json_path = out.with_name(out.name + ".json")
    csv_path = out.with_name(out.name + ".csv")
    from qtrack.io import write_csv, write_json

    write_json(json_path, {"meta": meta, "summary": summary, "rows": rows, "skipped": skipped})
    write_csv(csv_path, rows, float_format="%.9g")

    print(f"\n{'input':<40} {'sampler':<10} {'runs':>4} {'best E':>12} {'mean gap':>9} "
          f"{'found':>5} {'mean s':>8} {'TrackML':>8}")
    for s in summary:
        label = "/".join(Path(s["qubo"]).parts[-2:])[-40:]
        print(f"{label:<40} {s['sampler']:<10} {s['runs']:>4} "
              f"{s['energy_min']:>12.4f} {100 * s['relative_gap_mean']:>8.3f}% "
              f"{s['found_best']:>5} {s['wall_s_mean']:>8.2f} "
              f"{s.get('trackml_score_median', float('nan')):>8.4f}")
    for s in skipped:
        if s["reason"] != "not selected":
            print(f"skipped {s['sampler']} on {'/'.join(Path(s['qubo']).parts[-2:])}: "
                  f"{s['reason']}")
    print(f"wrote {json_path} and {csv_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
