"""Simulated bifurcation against neal (dwave-samplers simulated annealing) on one QUBO.

The QUBO is an ``.npz`` with arrays ``linear``, ``irow``, ``icol``, ``quad`` (BINARY). Every
sampler runs ``--repeats`` times with seeds ``seed, seed+1, ...``; the JSON written to ``-o``
holds the medians over repeats of

* ``best_energy``: lowest energy of any read;
* ``component_best_energy``: sum over connected components of the lowest energy any read reaches
  on that component, which is what qtrack keeps when it picks the best read per component;
* ``seconds`` and ``cpu_seconds``: wall and process CPU time of the ``sample`` call (both
  samplers run on one thread; CPU time is the steadier of the two on a shared machine).

Repeats are interleaved (neal, SB, neal, SB, ...), so a busy spell slows all samplers alike. The
first neal setting is the reference for ``gap_vs_reference`` (relative energy gap, positive =
worse than neal) and the speedups. neal gets the beta range qtrack's pipeline gives it
(``qtrack.components.auto_beta_range``: hot = ln 2 / largest |coefficient|, cold = ln 100 / smallest). The SB
kernels are compiled before any timing.

Usage:
    python benchmarks/sb_vs_neal.py QUBO.npz -o results.json [--repeats 3] [--sb-steps 1000 ...]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import dimod
import numpy as np
from dwave.samplers import SimulatedAnnealingSampler
from scipy import sparse
from scipy.sparse import csgraph

from qtrack.samplers.sb import SimulatedBifurcationSampler


def load_bqm(path: Path) -> tuple[dimod.BinaryQuadraticModel, dict]:
    with np.load(path) as f:
        arrays = {k: f[k] for k in ("linear", "irow", "icol", "quad")}
    bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(
        arrays["linear"], (arrays["irow"], arrays["icol"], arrays["quad"]), 0.0, "BINARY")
    return bqm, arrays


def neal_beta_range(arrays: dict) -> tuple[float, float]:
    """The beta range qtrack's pipeline gives neal (qtrack.components.auto_beta_range)."""
    from qtrack.model.qubo import Qubo
    from qtrack.components import auto_beta_range

    return auto_beta_range(Qubo(arrays["linear"], arrays["irow"], arrays["icol"], arrays["quad"]))


class ComponentEnergy:
    """Per-component energies of BINARY samples, to take the best read per component."""

    def __init__(self, arrays: dict):
        n = len(arrays["linear"])
        graph = sparse.coo_array(
            (np.ones(len(arrays["irow"])), (arrays["irow"], arrays["icol"])), shape=(n, n))
        self.count, self.component = csgraph.connected_components(graph, directed=False)
        self.arrays = arrays

    def best(self, samples: np.ndarray) -> float:
        a = self.arrays
        per_read = []
        for x in samples.astype(float):
            e = np.bincount(self.component, a["linear"] * x, self.count)
            e += np.bincount(self.component[a["irow"]], a["quad"] * x[a["irow"]] * x[a["icol"]],
                             self.count)
            per_read.append(e)
        return float(np.min(per_read, axis=0).sum())


def measure(sampler, bqm, variables, components, seed, params) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    result = sampler.sample(bqm, seed=seed, **params)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    matrix = result.record.sample[:, [result.variables.index(v) for v in variables]]
    return {
        "best_energy": float(result.record.energy.min()),
        "component_best_energy": components.best(matrix),
        "seconds": wall,
        "cpu_seconds": cpu,
    }


def compare(configs, bqm, variables, components, repeats, seed) -> list[dict]:
    """Run every (name, sampler, params) ``repeats`` times, interleaved so that a busy spell on
    the machine slows all of them alike; medians per config."""
    runs = [[] for _ in configs]
    for r in range(repeats):
        for k, (_, sampler, params) in enumerate(configs):
            runs[k].append(measure(sampler, bqm, variables, components, seed + r, params))
    out = []
    for (name, _, params), rs in zip(configs, runs):
        medians = {k: statistics.median(run[k] for run in rs) for k in rs[0]}
        print(f"{name:>16}: best {medians['best_energy']:.4f}  per-component best "
              f"{medians['component_best_energy']:.4f}  {medians['seconds']:.2f} s "
              f"({medians['cpu_seconds']:.2f} s CPU)", file=sys.stderr)
        out.append({"name": name, "params": params, "median": medians, "runs": rs})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("qubo", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--num-reads", type=int, default=10)
    parser.add_argument("--num-sweeps", type=int, nargs="+", default=[1000],
                        help="neal sweeps; the first value is the reference for gaps and speedups")
    parser.add_argument("--sb-steps", type=int, nargs="+", default=[None],
                        help="SB num_steps values to try (default: the sampler's default)")
    parser.add_argument("--sb-dt", type=float, nargs="+", default=[None],
                        help="SB dt values to try (default: the sampler's default)")
    parser.add_argument("--variants", nargs="+", default=["ballistic", "discrete"],
                        choices=["ballistic", "discrete"])
    args = parser.parse_args(argv)

    if not args.qubo.is_file():
        print(f"error: QUBO file {args.qubo} not found", file=sys.stderr)
        return 2
    bqm, arrays = load_bqm(args.qubo)
    variables = list(range(len(arrays["linear"])))
    components = ComponentEnergy(arrays)
    print(f"{args.qubo}: {bqm.num_variables} variables, {bqm.num_interactions} couplers, "
          f"{components.count} components", file=sys.stderr)

    beta_range = neal_beta_range(arrays)
    configs = [(f"neal {sweeps}", SimulatedAnnealingSampler(),
                {"num_reads": args.num_reads, "num_sweeps": sweeps, "beta_range": beta_range})
               for sweeps in args.num_sweeps]
    sb = SimulatedBifurcationSampler()
    # The numba kernels take the same array types whatever the problem: compiling (or loading
    # the cache) once on a toy problem keeps that out of every timing.
    sb.sample(dimod.BinaryQuadraticModel({0: 1.0}, {(0, 1): -1.0}, 0.0, "BINARY"), num_steps=2)
    for variant in args.variants:
        for steps in args.sb_steps:
            for dt in args.sb_dt:
                params = {"num_reads": args.num_reads, "variant": variant}
                if steps is not None:
                    params["num_steps"] = steps
                if dt is not None:
                    params["dt"] = dt
                name = " ".join(["sb", variant] + [f"{k}={params[k]}" for k in ("num_steps", "dt")
                                                   if k in params])
                configs.append((name, sb, params))
    entries = compare(configs, bqm, variables, components, args.repeats, args.seed)
    reference = entries[0]["median"]
    for entry in entries[1:]:
        m = entry["median"]
        entry["gap_vs_reference"] = {
            k: (m[k] - reference[k]) / abs(reference[k]) if reference[k] else 0.0
            for k in ("best_energy", "component_best_energy")
        }
        entry["speedup_vs_reference"] = reference["seconds"] / m["seconds"]
        entry["cpu_speedup_vs_reference"] = reference["cpu_seconds"] / m["cpu_seconds"]
    results = {
        "qubo": str(args.qubo),
        "num_variables": bqm.num_variables,
        "num_interactions": bqm.num_interactions,
        "num_components": int(components.count),
        "repeats": args.repeats,
        "seed": args.seed,
        "reference": entries[0]["name"],
        "neal_beta_range": list(beta_range),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_average_1min": os.getloadavg()[0]},
        "samplers": entries,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
