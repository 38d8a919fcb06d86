"""Minor embeddings of sub-problem graphs onto the QPU graph, computed once per graph."""
from __future__ import annotations

import concurrent.futures
import threading
import time

import numpy as np

from ...errors import SamplerError
from .decompose import Unit, edges_key

#: Time limit (s) of one ``minorminer.find_embedding`` call; it gives up (and the sub-problem is
#: halved) rather than hangs. Reaching it makes the embedding depend on machine speed.
DEFAULT_EMBEDDING_TIMEOUT = 60.0
#: Reads per QPU call.
#: minorminer restarts per embedding (deterministic for a given seed, unlike the timeout).
EMBEDDING_TRIES = 10
MOCK_TOPOLOGY = ("pegasus", 16)
#: Simulated-annealing sweeps the mock QPU spends per read on the embedded (physical) problem.


class EmbeddingCache:
    """minorminer embeddings of sub-problem graphs onto one target graph, keyed by edge list.

    The key is the sub-problem's canonical edge list (variables relabelled 0..k-1 in the
    sub-problem's order), so every later sub-problem with the same graph - the same block in the
    next sweep, another component of the same shape - reuses the embedding. Seeds are derived
    from ``seed`` and the key: a cache hit returns what a recomputation would.
    """

    def __init__(self, target_edges, *, seed: int | None = 0,
                 timeout: float = DEFAULT_EMBEDDING_TIMEOUT, tries: int = EMBEDDING_TRIES):
        self.target_edges = list(target_edges)
        self.seed = 0 if seed is None else int(seed)
        self.timeout = float(timeout)
        self.tries = int(tries)
        self._cache: dict[str, dict[int, tuple]] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.failures = 0
        self.time_s = 0.0

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

    def embed_units(self, units: list[Unit], workers: int = 1) -> list[Unit]:
        """Embed ``units`` (distinct graphs in parallel: minorminer releases the GIL)."""
        todo = {}
        for u in units:
            with self._lock:
                cached = u.key in self._cache
            if not cached and u.key not in todo:
                todo[u.key] = u
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
            return units
        for u in units:
            u.embedding = self.get(u.size, u.edges, u.key)
        return units

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


def target_graph(topology=MOCK_TOPOLOGY):
    """Edge list of the offline target: Pegasus P16 (or ``("zephyr", [m, t])``...)."""
    kind, shape = topology
    try:
        import dwave.graphs as dnx
    except ImportError:  # older Ocean
        import dwave_networkx as dnx
    if kind == "pegasus":
        g = dnx.pegasus_graph(*(shape if isinstance(shape, (list, tuple)) else [shape]))
    elif kind == "zephyr":
        g = dnx.zephyr_graph(*(shape if isinstance(shape, (list, tuple)) else [shape]))
    elif kind == "chimera":
        g = dnx.chimera_graph(*(shape if isinstance(shape, (list, tuple)) else [shape]))
    else:
        raise SamplerError(f"unknown topology {kind!r}; expected pegasus, zephyr or chimera")
    return g.number_of_nodes(), list(g.edges())

