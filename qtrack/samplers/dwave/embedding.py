"""Minor embeddings of sub-problem graphs onto the QPU graph.

Two strategies, chosen by ``[qpu] embedding``:

* ``"clique"`` (default): one clique embedding per size bucket from minorminer's ``busclique``,
  shared by every sub-problem of that size. A clique embeds any graph on as many variables, so
  nothing is searched per block; chains are longer than a per-graph search finds (Pegasus P16:
  longest chain 3 for 20 variables, 6 for 50, 10 for 100, 14 for 150).
* ``"minorminer"``: ``minorminer.find_embedding`` per distinct sub-problem graph (shorter chains
  on sparse graphs, but 7-21 qubits on 100-variable blocks of a PU60 QUBO; 0.5-2 s per block
  on 2 cores).
"""
from __future__ import annotations

import concurrent.futures
import math
import threading
import time

import numpy as np

from ...errors import SamplerError
from .decompose import Unit, edges_key

#: minorminer restarts per embedding (deterministic for a given seed, unlike the timeout).
EMBEDDING_TRIES = 10
#: Target of dry runs and of the mock: an Advantage-like Pegasus P16 (5640 qubits).
MOCK_TOPOLOGY = ("pegasus", 16)
#: Clique embeddings are computed for sizes rounded up to a multiple of this: a few busclique
#: calls (~0.2 s each on P16) cover every sub-problem size, for chains at most one qubit longer.
CLIQUE_BUCKET = 8


class _Counters:
    def __init__(self):
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.failures = 0
        self.time_s = 0.0

    def find_embedding(self, S, T, **_ignored):
        """``find_embedding(S, T)`` hook for ``EmbeddingComposite`` (used by dwave-hybrid).

        ``S`` is the sub-problem's edge list with (v, v) loops for its variables; the target is
        this cache's (``T`` is the same graph).
        """
        labels = sorted({v for e in S for v in e}, key=lambda v: (str(type(v)), v))
        index = {v: i for i, v in enumerate(labels)}
        edges = sorted({(min(index[a], index[b]), max(index[a], index[b])) for a, b in S if a != b})
        edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        emb = self.get(len(labels), edges)
        return {labels[i]: chain for i, chain in emb.items()}


class CliqueEmbeddings(_Counters):
    """Clique embeddings (minorminer's busclique) of every size, one per size bucket.

    ``graph`` is the target as a dwave-networkx graph (it carries the topology busclique needs).
    A sub-problem of k variables gets the first k chains of the clique embedding of
    ``ceil(k / CLIQUE_BUCKET) * CLIQUE_BUCKET`` variables; one larger than the target's largest
    clique gets ``{}`` (the planner halves it).
    """

    method = "clique"

    def __init__(self, graph):
        super().__init__()
        self.graph = graph
        self._cliques: dict[int, dict[int, tuple]] = {}

    def __len__(self):
        return len(self._cliques)

    def _clique(self, size: int) -> dict[int, tuple]:
        from minorminer import busclique

        with self._lock:
            if size in self._cliques:
                self.hits += 1
                return self._cliques[size]
        t0 = time.perf_counter()
        emb = busclique.find_clique_embedding(size, self.graph, use_cache=False)
        emb = {int(v): tuple(int(q) for q in chain) for v, chain in emb.items()}
        with self._lock:
            self.time_s += time.perf_counter() - t0
            self.misses += 1
            if len(emb) != size:
                self.failures += 1
                emb = {}
            self._cliques[size] = emb
        return emb

    def get(self, k: int, edges=None, key=None) -> dict[int, tuple]:
        del edges, key  # a clique embeds every graph on k variables
        if k == 0:
            return {}
        emb = self._clique(CLIQUE_BUCKET * math.ceil(k / CLIQUE_BUCKET))
        if not emb:
            emb = self._clique(k)  # the bucket may exceed the largest clique while k fits
        return {i: emb[i] for i in range(k)} if emb else {}

    def embed_units(self, units: list[Unit], workers: int = 1, progress=None) -> list[Unit]:
        del workers
        for u in units:
            u.embedding = self.get(u.size)
            if progress is not None:
                progress(1)
        return units


class EmbeddingCache(_Counters):
    """minorminer embeddings of sub-problem graphs onto one target graph, keyed by edge list.

    The key is the sub-problem's canonical edge list (variables relabelled 0..k-1 in the
    sub-problem's order), so every later sub-problem with the same graph - the same block in the
    next sweep, another component of the same shape - reuses the embedding. Seeds are derived
    from ``seed`` and the key: a cache hit returns what a recomputation would.
    """

    method = "minorminer"

    def __init__(self, target_edges, *, seed: int | None = 0, timeout: float = 60.0,
                 tries: int = EMBEDDING_TRIES):
        super().__init__()
        self.target_edges = list(target_edges)
        self.seed = 0 if seed is None else int(seed)
        self.timeout = float(timeout)
        self.tries = int(tries)
        self._cache: dict[str, dict[int, tuple]] = {}

    def __len__(self):
        return len(self._cache)

    def _seed_for(self, key: str) -> int:
        return (self.seed * 1_000_003 + int(key[:8], 16)) % (2**31 - 1)

    def _compute(self, k: int, edges: np.ndarray, key: str) -> dict[int, tuple]:
        import minorminer

        source = [(int(a), int(b)) for a, b in edges]
        # isolated variables need a qubit too: a self-loop makes minorminer place them
        touched = set(np.unique(edges).tolist()) if len(edges) else set()
        source += [(v, v) for v in range(k) if v not in touched]
        t0 = time.perf_counter()
        emb = minorminer.find_embedding(source, self.target_edges, random_seed=self._seed_for(key),
                                        timeout=self.timeout, tries=self.tries)
        dt = time.perf_counter() - t0
        emb = {int(v): tuple(int(q) for q in chain) for v, chain in emb.items()}
        ok = len(emb) == k and all(emb.values())
        with self._lock:
            self.time_s += dt
            if not ok:
                self.failures += 1
        return emb if ok else {}

    def get(self, k: int, edges: np.ndarray, key: str | None = None) -> dict[int, tuple]:
        """Embedding of a graph on 0..k-1 with ``edges``; ``{}`` when minorminer fails."""
        key = key or edges_key(k, edges)
        with self._lock:
            if key in self._cache:
                self.hits += 1
                return self._cache[key]
        emb = self._compute(k, edges, key)
        with self._lock:
            if key in self._cache:  # computed concurrently: count as a hit, keep the first
                self.hits += 1
                return self._cache[key]
            self.misses += 1
            if emb:
                self._cache[key] = emb
        return emb

    def embed_units(self, units: list[Unit], workers: int = 1, progress=None) -> list[Unit]:
        """Embed ``units`` (distinct graphs in parallel: minorminer releases the GIL)."""
        todo = {}
        for u in units:
            with self._lock:
                cached = u.key in self._cache
            if not cached and u.key not in todo:
                todo[u.key] = u
        results = {}
        if todo and workers > 1 and len(todo) > 1:
            with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
                results = dict(zip(todo, pool.map(lambda u: self._compute(u.size, u.edges, u.key),
                                                  todo.values())))
            with self._lock:
                for key, emb in results.items():
                    self.misses += 1
                    if emb:
                        self._cache[key] = emb
        for u in units:
            if u.key in results:
                u.embedding = self._cache.get(u.key, {})
                results.pop(u.key)
            else:
                u.embedding = self.get(u.size, u.edges, u.key)
            if progress is not None:
                progress(1)
        return units


def make_embedder(method: str, graph, *, seed=0, timeout=60.0):
    """The embedder of ``[qpu] embedding`` for the target ``graph`` (a dwave-networkx graph)."""
    if method == "clique":
        return CliqueEmbeddings(graph)
    if method == "minorminer":
        return EmbeddingCache(list(graph.edges()), seed=seed, timeout=timeout)
    raise SamplerError(f"unknown embedding method {method!r}; expected clique or minorminer")


def target_graph(topology=MOCK_TOPOLOGY):
    """The offline target as a dwave-networkx graph: Pegasus P16 (or ``("zephyr", [m, t])``...)."""
    kind, shape = topology
    try:
        import dwave.graphs as dnx
    except ImportError:  # older Ocean
        import dwave_networkx as dnx
    shape = list(shape) if isinstance(shape, (list, tuple)) else [shape]
    makers = {"pegasus": dnx.pegasus_graph, "zephyr": dnx.zephyr_graph,
              "chimera": dnx.chimera_graph}
    if kind not in makers:
        raise SamplerError(f"unknown topology {kind!r}; expected pegasus, zephyr or chimera")
    return makers[kind](*shape)
