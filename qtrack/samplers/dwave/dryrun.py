"""What a D-Wave run would use and cost, computed offline: reductions, sub-problems, qubits,
chains, QPU calls and QPU access time, and the Leap hybrid alternative."""
from __future__ import annotations

import time
from collections import Counter

from .decompose import Graph, plan
from .embedding import MOCK_TOPOLOGY, make_embedder, target_graph
from .qpu import check_seed, reduced_problem
from .resources import TimingModel, hybrid_min_time_limit


def plan_report(bqm, settings: dict, *, seed: int | None = None, topology=MOCK_TOPOLOGY,
                embed_workers: int = 2, estimated: bool = False,
                credentials_needed: bool = True, progress: bool = False) -> dict:
    """What a decomposed QPU run on ``bqm`` would use, computed offline: nothing is submitted
    and no credentials are read.

    ``settings`` are the ``[qpu]`` fields (a dict). Reduces and decomposes as
    :class:`~qtrack.samplers.dwave.qpu.DecomposedQPUSampler` does and embeds every sub-problem
    on ``topology`` (Pegasus P16 by default). The call counts assume every split component keeps
    improving for all ``sweeps`` (a real run stops a component earlier once a full cycle of
    block layouts changes nothing): an upper bound. ``estimated`` marks reports in which blocks
    of the same size stand for sub-problems chosen at run time (the dwave-hybrid loop picks them
    by energy impact).
    """
    t0 = time.perf_counter()
    num_reads = int(settings["num_reads"])
    sweeps = max(1, int(settings["sweeps"]))
    size = int(settings["subproblem_size"])
    graph = target_graph(topology)
    cache = make_embedder(settings["embedding"], graph, seed=check_seed(seed),
                          timeout=settings["embedding_timeout"])
    g = Graph(bqm)
    t_reduce = time.perf_counter()
    _, _, core, reduction = reduced_problem(g, settings, check_seed(seed), "zeros")
    t_reduce = time.perf_counter() - t_reduce
    layout = plan(core, cache, size, embed_workers, settings["partitions"], progress=progress)
    timing = TimingModel.from_settings(settings)
    units = layout.units()
    phys = {id(u): sum(len(c) for c in u.embedding.values()) for u in units}
    per_call = {id(u): timing.call_us(phys[id(u)], num_reads) for u in units}
    calls, seconds = [], []
    for s in range(sweeps):
        todo = list(layout.packed) if s == 0 else []
        todo += [u for parts in layout.blocks.values() for u in parts[s % len(parts)]]
        calls.append(len(todo))
        seconds.append(sum(per_call[id(u)] for u in todo) * 1e-6)
    chains = Counter(len(c) for u in units for c in u.embedding.values())
    logical = sum(u.size for u in units)
    physical = sum(phys.values())
    report = {
        "target": f"{topology[0]} {topology[1]} ({graph.number_of_nodes()} qubits)",
        "variables": g.n,
        "interactions": int(g.W.nnz // 2),
        **reduction,
        "subproblem_size": size,
        "embedding": cache.method,
        **layout.summary(),
        "subproblems": len(units),
        "sweeps": sweeps,
        "num_reads": num_reads,
        "qpu_calls_per_sweep": calls,
        "qpu_calls": int(sum(calls)),
        "logical_qubits_max": max((u.size for u in units), default=0),
        "logical_qubits_total": int(logical),
        "physical_qubits_max": max(phys.values(), default=0),
        "physical_qubits_total": int(physical),
        "longest_chain": max(chains, default=0),
        "mean_chain_length": float(physical / logical) if logical else 0.0,
        #: chain length -> number of logical variables with a chain that long
        "chain_lengths": {int(k): int(v) for k, v in sorted(chains.items())},
        "qpu_access_time_estimate_per_sweep_s": [round(t, 3) for t in seconds],
        "qpu_access_time_estimate_s": round(sum(seconds), 3),
        "timing_model": {"programming_us": timing.programming_us, "anneal_us": timing.anneal_us,
                         "readout_us": [timing.readout_small_us, timing.readout_large_us],
                         "delay_us": timing.delay_us},
        "hybrid_alternative": {"calls": 1, "variables": g.n,
                               "min_time_limit_s": hybrid_min_time_limit(g.n)},
        "embedding_cache_hits": cache.hits,
        "embedding_cache_misses": cache.misses,
        "embedding_failures": cache.failures,
        "embedding_time_s": round(cache.time_s, 3),
        "reduction_time_s": round(t_reduce, 3),
        "submitted": 0,
        "credentials_needed": bool(credentials_needed),
        "estimated": bool(estimated),
        "wall_time_s": round(time.perf_counter() - t0, 3),
    }
    return report
