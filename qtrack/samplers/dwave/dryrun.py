"""What a D-Wave run would use, computed offline: sub-problems, qubits, chains."""
from __future__ import annotations

import time

from .decompose import DEFAULT_PARTITIONS, Graph, plan
from .embedding import DEFAULT_EMBEDDING_TIMEOUT, MOCK_TOPOLOGY, EmbeddingCache, target_graph
from .qpu import DEFAULT_NUM_READS, DEFAULT_SUBPROBLEM_SIZE, DEFAULT_SWEEPS, check_seed

def plan_report(bqm, *, subproblem_size: int | None = None, seed: int | None = None,
                embedding_timeout: float = DEFAULT_EMBEDDING_TIMEOUT,
                num_reads: int | None = None, sweeps: int | None = None,
                topology=MOCK_TOPOLOGY, embed_workers: int = 2,
                partitions: int = DEFAULT_PARTITIONS, estimated: bool = False,
                credentials_needed: bool = True) -> dict:
    """What a decomposed QPU run on ``bqm`` would use, computed offline: nothing is submitted
    and no credentials are read.

    Decomposes as :class:`~qtrack.samplers.dwave.qpu.DecomposedQPUSampler` does and embeds
    every sub-problem on ``topology`` (Pegasus P16 by default). ``estimated`` marks reports in
    which blocks of the same size stand for sub-problems chosen at run time (the dwave-hybrid
    loop picks them by energy impact).
    """
    t0 = time.perf_counter()
    num_reads = int(num_reads or DEFAULT_NUM_READS)
    sweeps = DEFAULT_SWEEPS if sweeps is None else int(sweeps)
    size = int(subproblem_size or DEFAULT_SUBPROBLEM_SIZE)
    nqubits, tedges = target_graph(topology)
    cache = EmbeddingCache(tedges, seed=check_seed(seed), timeout=embedding_timeout)
    g = Graph(bqm)
    layout = plan(g, cache, size, embed_workers, partitions)
    units = layout.units()
    phys = [sum(len(c) for c in u.embedding.values()) for u in units]
    chains = [max(len(c) for c in u.embedding.values()) for u in units]
    calls_max = len(layout.packed) + sum(len(parts[s % len(parts)]) for parts in layout.blocks.values()
                                       for s in range(max(1, sweeps)))
    report = {
        "target": f"{topology[0]} {topology[1]} ({nqubits} qubits)",
        "variables": g.n,
        "interactions": int(g.W.nnz // 2),
        "subproblem_size": size,
        **layout.summary(),
        "subproblems": len(units),
        "qpu_calls_first_sweep": len(layout.packed) + sum(len(p[0]) for p in layout.blocks.values()),
        "qpu_calls_max": calls_max,
        "sweeps_max": max(1, sweeps),
        "num_reads": int(num_reads),
        "logical_qubits_max": max((u.size for u in units), default=0),
        "logical_qubits_total": int(sum(u.size for u in units)),
        "physical_qubits_max": max(phys, default=0),
        "physical_qubits_total": int(sum(phys)),
        "longest_chain": max(chains, default=0),
        "mean_chain_length": (float(sum(phys) / max(1, sum(u.size for u in units)))
                              if units else 0.0),
        "embedding_cache_hits": cache.hits,
        "embedding_cache_misses": cache.misses,
        "embedding_failures": cache.failures,
        "embedding_time_s": round(cache.time_s, 3),
        "submitted": 0,
        "credentials_needed": bool(credentials_needed),
        "estimated": bool(estimated),
        "wall_time_s": round(time.perf_counter() - t0, 3),
    }
    return report
