"""Quantum-hardware samplers: D-Wave QPU, Leap hybrid, a qbsolv-like loop and an offline mock.

A tracking QUBO has far more variables than a QPU holds (a Pegasus P16 embeds at most ~1000
triplet variables, and only slowly), so the QPU path decomposes (see :class:`DecomposedQPUSampler`):

1. the BQM is split into connected components; singletons are solved exactly;
2. components of up to ``subproblem_size`` variables are packed, several to a QPU call;
3. larger components are cut into blocks of up to ``subproblem_size`` variables by growing blocks
   along the negative (track-continuation) couplers first, then the conflict couplers, so that
   neighbouring triplets of a track stay together;
4. each block is solved on the QPU with the rest of its component clamped to the current state
   (their couplings folded into the block's linear biases) and the block's new values are kept
   only when they lower the energy: a block-coordinate descent over a few sweeps, each sweep on
   one of several block layouts whose boundaries are offset (a boundary that freezes the state
   in one layout lies inside a block in the next);
5. every sub-problem's graph is minor-embedded once with ``minorminer`` (seeded) and the
   embedding is reused for every later sub-problem with the same graph (a cache keyed by the
   canonical edge list); chain strength is ``uniform_torque_compensation``.

The returned :class:`dimod.SampleSet` has one read: the final state, whose energy never exceeds
that of the initial state. ``info["resources"]`` reports what the hardware was asked for.

Everything from ``dwave.system``, ``dwave.cloud``, ``minorminer`` and ``hybrid`` is imported
inside functions: ``import dwave.system`` alone takes seconds.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import dimod

from .errors import SamplerError

__all__ = [
    "HARDWARE_SAMPLERS",
    "DEFAULT_SUBPROBLEM_SIZE",
    "DEFAULT_EMBEDDING_TIMEOUT",
    "DEFAULT_NUM_READS",
    "DEFAULT_SWEEPS",
    "CLIENT_OPTIONS",
    "make_sampler",
    "check_credentials",
    "has_credentials",
    "dry_run",
    "merge_resources",
    "DecomposedQPUSampler",
    "HybridLoopSampler",
    "LeapHybridBQMSampler",
    "EmbeddingCache",
]

HARDWARE_SAMPLERS = ("qpu", "hybrid", "decomposed", "mock-qpu")
#: Sampler names that talk to D-Wave's cloud (and so need an API token).
REMOTE_SAMPLERS = ("qpu", "hybrid", "decomposed")

#: Largest number of logical variables sent to the QPU in one call. minorminer on Pegasus P16
#: (2 cores), blocks of the union event's QUBO (97% density, in-block degree ~10-13): 50
#: variables 0.4-0.6 s (chains <= 4 qubits), 100 0.8-1.8 s (<= 5), 150 3-19 s (<= 12), 200
#: 10-41 s (<= 10); packed small components of sparser events cost ~20 ms per variable at any
#: bin size. 100 keeps chains short (fewer breaks on a real QPU) and embedding cheap; on a
#: 1200-variable piece of the union QUBO the mock ends 3.3% above simulated annealing with 100
#: and 8.7% with 150 (its annealer suffers from long chains).
DEFAULT_SUBPROBLEM_SIZE = 100
#: Time limit (s) of one ``minorminer.find_embedding`` call; it gives up (and the sub-problem is
#: halved) rather than hangs. Reaching it makes the embedding depend on machine speed.
DEFAULT_EMBEDDING_TIMEOUT = 60.0
#: Reads per QPU call.
DEFAULT_NUM_READS = 100
#: Block-coordinate-descent sweeps over the blocks of a split component (fewer when a sweep
#: changes nothing).
DEFAULT_SWEEPS = 6
#: Block layouts of a split component, visited in turn; their boundaries are offset by
#: size/partitions. Each layout costs one embedding per block.
DEFAULT_PARTITIONS = 3
#: minorminer restarts per embedding (deterministic for a given seed, unlike the timeout).
EMBEDDING_TRIES = 10
#: dwave-cloud-client options that make network trouble fail in seconds instead of minutes:
#: (connect, read) timeout per request, few retries, and a bound on waiting for results.
#: Measured with a fake token: connection refused fails in 0.2 s, an endpoint that drops
#: connections (no SYN-ACK) in ~9.5 s (3 tries x 3 s); a server that accepts but never answers
#: takes 3 x 20 s. The client's defaults (10 retries, 60 s) take minutes.
CLIENT_OPTIONS = {
    "request_timeout": (3.0, 20.0),
    "polling_timeout": 600.0,
    "http_retry_total": 2,
    "http_retry_backoff_factor": 0.1,
    "http_retry_backoff_max": 2.0,
}
#: Target of dry runs and of the mock: an Advantage-like Pegasus P16 (5640 qubits).
MOCK_TOPOLOGY = ("pegasus", 16)
#: Simulated-annealing sweeps the mock QPU spends per read on the embedded (physical) problem.
MOCK_NUM_SWEEPS = 200

_TOKEN_HINT = "set DWAVE_API_TOKEN or run `dwave config create`"


# --------------------------------------------------------------------------------------------
# Credentials and cloud errors
# --------------------------------------------------------------------------------------------

def _one_line(exc: BaseException | str, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_credentials(name: str, profile: str | None = None, *, mock: bool = False,
                      dry_run: bool = False) -> dict | None:
    """Fail fast (no network, no ``dwave.system`` import) when ``name`` needs a missing token.

    Returns ``None`` for samplers that need no credentials ("mock-qpu", any dry run, the
    "decomposed" loop on the mock) and otherwise a summary of the configuration found (never the
    token). Raises :class:`SamplerError` with one line when no token is configured or the
    configuration cannot be read (missing profile, unreadable ``dwave.conf``).
    """
    if name not in REMOTE_SAMPLERS or mock or dry_run:
        return None
    try:
        from dwave.cloud.config import load_config
    except ImportError:  # pragma: no cover - depends on the installation
        raise SamplerError(
            f"sampler {name!r} needs dwave-cloud-client: pip install 'qtrack[dwave]'") from None
    try:
        config = load_config(profile=profile)
    except Exception as exc:  # ConfigFileReadError, ValueError for an unknown profile, ...
        hint = f"; {_TOKEN_HINT}" if "read" in str(exc).lower() else ""
        raise SamplerError(f"D-Wave configuration for sampler {name!r}: {_one_line(exc)}"
                           f"{hint}") from None
    if not config.get("token"):
        where = f" (profile {profile!r})" if profile else ""
        raise SamplerError(f"no D-Wave API token for sampler {name!r}{where}: {_TOKEN_HINT}")
    return {"profile": profile, "endpoint": config.get("endpoint"), "region": config.get("region"),
            "solver": config.get("solver")}


def has_credentials(profile: str | None = None) -> bool:
    """Whether a D-Wave API token is configured (no network; for ``qtrack samplers``)."""
    try:
        check_credentials("qpu", profile)
    except SamplerError:
        return False
    return True


@contextlib.contextmanager
def _cloud_errors(what: str):
    """Turn anything the D-Wave client raises into a one-line :class:`SamplerError`.

    urllib3's "Retrying ..." warnings are silenced meanwhile: the error says it all.
    """
    quiet = logging.getLogger("urllib3.connectionpool")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        yield
    except SamplerError:
        raise
    except Exception as exc:
        msg = _one_line(exc)
        if "API token" in msg or "token" in msg.lower() and "defined" in msg.lower():
            raise SamplerError(f"{what}: {msg}; {_TOKEN_HINT}") from None
        hint = ""
        if isinstance(exc, (TimeoutError, ConnectionError, OSError)) or "timed out" in msg:
            hint = " (is the D-Wave API endpoint reachable from here?)"
        raise SamplerError(f"{what}: {type(exc).__name__}: {msg}{hint}") from None
    finally:
        quiet.setLevel(level)


def _client_config(profile, client_options):
    cfg = dict(CLIENT_OPTIONS)
    cfg.update(client_options or {})
    if profile is not None:
        cfg["profile"] = profile
    return cfg


# --------------------------------------------------------------------------------------------
# The problem as arrays
# --------------------------------------------------------------------------------------------

class _Graph:
    """A BINARY BQM over positions 0..n-1: linear biases and a symmetric CSR coupling matrix."""

    def __init__(self, bqm: dimod.BinaryQuadraticModel):
        import scipy.sparse as sp

        if bqm.vartype is not dimod.BINARY:
            bqm = bqm.change_vartype(dimod.BINARY, inplace=False)
        self.labels = list(bqm.variables)
        n = len(self.labels)
        h, (r, c, q), off = bqm.to_numpy_vectors(variable_order=self.labels)
        self.n = n
        self.h = np.asarray(h, dtype=np.float64)
        self.offset = float(off)
        r = np.asarray(r, dtype=np.int64)
        c = np.asarray(c, dtype=np.int64)
        q = np.asarray(q, dtype=np.float64)
        self.W = sp.csr_matrix((np.concatenate([q, q]), (np.concatenate([r, c]),
                                                         np.concatenate([c, r]))), shape=(n, n))
        self.W.sort_indices()
        self.degree = np.diff(self.W.indptr)

    def neighbours(self, i):
        a, b = self.W.indptr[i], self.W.indptr[i + 1]
        return self.W.indices[a:b], self.W.data[a:b]

    def components(self) -> list[np.ndarray]:
        from scipy.sparse.csgraph import connected_components

        if self.n == 0:
            return []
        ncomp, lab = connected_components(self.W, directed=False)
        order = np.argsort(lab, kind="stable")
        bounds = np.searchsorted(lab[order], np.arange(ncomp + 1))
        return [order[bounds[k]:bounds[k + 1]] for k in range(ncomp)]

    def energy(self, x: np.ndarray) -> float:
        return float(self.offset + self.h @ x + 0.5 * x @ (self.W @ x))

    def canonical_order(self, nodes: np.ndarray) -> np.ndarray:
        """BFS order of ``nodes`` (one component) from its lowest-degree, lowest-index node,
        neighbours by (degree, index): isomorphic small components (chains...) get equal keys."""
        nodes = np.asarray(nodes)
        if len(nodes) <= 1:
            return nodes
        inset = set(nodes.tolist())
        start = min(nodes.tolist(), key=lambda v: (self.degree[v], v))
        seen = {start}
        out = [start]
        dq = deque([start])
        while dq:
            u = dq.popleft()
            nb, _ = self.neighbours(u)
            for v in sorted((int(v) for v in nb if v in inset and v not in seen),
                            key=lambda v: (self.degree[v], v)):
                seen.add(v)
                out.append(v)
                dq.append(v)
        if len(out) < len(nodes):  # not connected: append the rest by index
            out.extend(sorted(inset - seen))
        return np.asarray(out, dtype=np.int64)

    def grow_blocks(self, nodes: np.ndarray, size: int, first: int | None = None
                    ) -> list[np.ndarray]:
        """Cut one component into blocks of at most ``size`` variables along the track structure.

        Blocks grow breadth-first from a peripheral variable, through negative (track
        continuation) couplers first and conflict couplers only when no negative neighbour is
        left, so a track's consecutive triplets land in the same block. Seeds follow a BFS order
        of the whole component, so consecutive blocks are neighbours. Blocks under a quarter of
        ``size`` are merged into the neighbouring block they couple to most, when it has room.
        ``first`` caps the first block (``size // 2`` shifts every boundary by half a block).
        """
        sweep = self.canonical_order(nodes)
        owner = {int(v): -1 for v in sweep}
        blocks: list[list[int]] = []
        pos = 0
        while True:
            while pos < len(sweep) and owner[int(sweep[pos])] != -1:
                pos += 1
            if pos == len(sweep):
                break
            bid = len(blocks)
            block: list[int] = []
            neg, conf = deque([int(sweep[pos])]), deque()
            cap = first if (bid == 0 and first) else size
            while len(block) < cap:
                if neg:
                    u = neg.popleft()
                elif conf:
                    u = conf.popleft()
                else:  # the block's neighbourhood is exhausted: continue at the next seed
                    while pos < len(sweep) and owner[int(sweep[pos])] != -1:
                        pos += 1
                    if pos == len(sweep):
                        break
                    u = int(sweep[pos])
                if owner[u] != -1:
                    continue
                owner[u] = bid
                block.append(u)
                nb, w = self.neighbours(u)
                for v, wv in zip(nb.tolist(), w.tolist()):
                    if owner.get(v, 0) == -1:
                        (neg if wv < 0 else conf).append(v)
            blocks.append(block)
        # merge small blocks into the neighbour they are most coupled to
        sizes = [len(b) for b in blocks]
        alive = [True] * len(blocks)
        for bid in sorted(range(len(blocks)), key=lambda b: (sizes[b], b)):
            if not alive[bid] or sizes[bid] >= max(1, size // 4):
                continue
            links: dict[int, float] = {}
            for u in blocks[bid]:
                nb, w = self.neighbours(u)
                for v, wv in zip(nb.tolist(), w.tolist()):
                    o = owner.get(v, -1)
                    if o != bid and o != -1:
                        links[o] = links.get(o, 0.0) + abs(wv)
            for o in sorted(links, key=lambda o: (-links[o], o)):
                if alive[o] and sizes[o] + sizes[bid] <= size:
                    blocks[o].extend(blocks[bid])
                    for u in blocks[bid]:
                        owner[u] = o
                    sizes[o] += sizes[bid]
                    alive[bid] = False
                    blocks[bid] = []
                    break
        return [np.asarray(b, dtype=np.int64) for b, a in zip(blocks, alive) if a and b]


def _edges_key(k: int, edges: np.ndarray) -> str:
    h = hashlib.sha1(np.int64(k).tobytes())
    h.update(np.ascontiguousarray(edges, dtype=np.int64).tobytes())
    return h.hexdigest()


@dataclass
class _Unit:
    """One QPU sub-problem: variables (global positions, in local order) and their groups.

    A group is the set of variables whose new values are accepted or rejected together: a whole
    component in a packed unit, the whole block in a block of a split component.
    """

    order: np.ndarray
    groups: np.ndarray            # local position -> group number within the unit
    ngroups: int
    edges: np.ndarray             # (m, 2) local edges, i < j, sorted
    key: str
    component: int = -1           # split component number (-1: packed whole components)
    partition: int = 0            # which of the component's partitions the block belongs to
    rank: tuple = ()              # growth order of the block within its partition
    embedding: dict | None = None

    @property
    def size(self) -> int:
        return len(self.order)


def _make_unit(g: _Graph, parts: list[np.ndarray], component: int = -1,
               partition: int = 0) -> _Unit:
    order = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
    groups = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)]) if parts else \
        np.empty(0, dtype=np.int64)
    sub = g.W[order][:, order].tocoo()
    mask = sub.row < sub.col
    edges = np.stack([sub.row[mask], sub.col[mask]], axis=1).astype(np.int64)
    if len(edges):
        edges = edges[np.lexsort((edges[:, 1], edges[:, 0]))]
    return _Unit(order=order, groups=groups, ngroups=len(parts), edges=edges,
                 key=_edges_key(len(order), edges), component=component, partition=partition)


# --------------------------------------------------------------------------------------------
# Embeddings
# --------------------------------------------------------------------------------------------

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
        key = key or _edges_key(k, edges)
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

    def embed_units(self, units: list[_Unit], workers: int = 1) -> list[_Unit]:
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


def _target_graph(topology=MOCK_TOPOLOGY):
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


# --------------------------------------------------------------------------------------------
# Resource accounting
# --------------------------------------------------------------------------------------------

@dataclass
class _Resources:
    solver: str = ""
    placeholder_timing: bool = False
    qpu_calls: int = 0
    logical: list = field(default_factory=list)
    physical: list = field(default_factory=list)
    longest_chain: int = 0
    cbf: list = field(default_factory=list)
    chain_strength: list = field(default_factory=list)
    qpu_access_time_us: float = 0.0

    def record_call(self, logical: int, embedding: dict | None, sampleset) -> None:
        self.qpu_calls += 1
        self.logical.append(int(logical))
        if embedding:
            self.physical.append(int(sum(len(c) for c in embedding.values())))
            self.longest_chain = max(self.longest_chain, max(len(c) for c in embedding.values()))
        else:  # sampled directly on the qubits (dwave-hybrid's AutoEmbeddingComposite)
            self.physical.append(int(logical))
            self.longest_chain = max(self.longest_chain, 1 if logical else 0)
        rec = sampleset.record
        if "chain_break_fraction" in rec.dtype.names and len(rec):
            w = rec.num_occurrences
            self.cbf.append(float(np.average(rec.chain_break_fraction, weights=w)))
        else:
            self.cbf.append(0.0)
        timing = sampleset.info.get("timing", {}) or {}
        self.qpu_access_time_us += float(timing.get("qpu_access_time", 0.0) or 0.0)

    def to_dict(self, **extra) -> dict:
        out = {
            "solver": self.solver,
            "subproblems": self.qpu_calls,
            "qpu_calls": self.qpu_calls,
            "logical_qubits_max": max(self.logical, default=0),
            "logical_qubits_total": int(sum(self.logical)),
            "physical_qubits_max": max(self.physical, default=0),
            "physical_qubits_total": int(sum(self.physical)),
            "longest_chain": int(self.longest_chain),
            "chain_break_fraction": float(np.mean(self.cbf)) if self.cbf else 0.0,
            "chain_strength_max": float(max(self.chain_strength, default=0.0)),
            "qpu_access_time_us": float(self.qpu_access_time_us),
            "qpu_access_time_is_placeholder": bool(self.placeholder_timing),
        }
        if self.placeholder_timing:
            out["qpu_access_time_note"] = ("MockDWaveSampler reports fixed placeholder timings "
                                           "(8550.28 us per call), not a QPU measurement")
        out.update(extra)
        return out


def merge_resources(items) -> dict:
    """Combine the ``info["resources"]`` of several sample sets (one per batch) into one."""
    items = [r for r in items if r]
    if not items:
        return {}
    out = dict(items[0])
    calls = [r.get("qpu_calls", r.get("subproblems", 0)) or 0 for r in items]
    for key in out:
        vals = [r.get(key) for r in items]
        if key == "chain_break_fraction":
            tot = sum(calls)
            out[key] = (float(sum(c * (v or 0.0) for c, v in zip(calls, vals)) / tot) if tot
                        else 0.0)
        elif key.endswith("_max") or key == "longest_chain":
            out[key] = max(v or 0 for v in vals)
        elif isinstance(out[key], bool) or not isinstance(out[key], (int, float)):
            out[key] = out[key] if all(v == out[key] for v in vals) else vals
        else:
            out[key] = sum(v or 0 for v in vals)
    out["batches"] = len(items)
    return out


# --------------------------------------------------------------------------------------------
# QPU access (real or mock), shared by the samplers below
# --------------------------------------------------------------------------------------------

class _SeededSubstitute(dimod.Sampler):
    """The mock QPU's stand-in: simulated annealing on the physical (embedded) problem, seeded
    from a generator that :meth:`reseed` resets, so runs are reproducible."""

    parameters = {"num_reads": []}
    properties: dict = {}

    def __init__(self, num_sweeps: int = MOCK_NUM_SWEEPS, seed: int = 0):
        from dwave.samplers import SimulatedAnnealingSampler

        self._sa = SimulatedAnnealingSampler()
        self.num_sweeps = int(num_sweeps)
        self.reseed(seed)

    def reseed(self, seed):
        self._rng = np.random.default_rng(seed)

    def sample(self, bqm, num_reads=1, **_):
        return self._sa.sample(bqm, num_reads=num_reads, num_sweeps=self.num_sweeps,
                               seed=int(self._rng.integers(2**31 - 1)))


class _QPU:
    """Lazily opened QPU: a real ``DWaveSampler`` or an offline ``MockDWaveSampler`` (P16)."""

    def __init__(self, *, mock: bool, profile=None, client_options=None, seed=None,
                 embedding_timeout=DEFAULT_EMBEDDING_TIMEOUT, mock_num_sweeps=MOCK_NUM_SWEEPS,
                 dry_run: bool = False, label: str = "qpu"):
        self.label = label
        self.mock = mock or dry_run
        self.dry_run = dry_run
        self.profile = profile
        self.client_options = client_options
        self.seed = seed
        self.embedding_timeout = embedding_timeout
        self.mock_num_sweeps = mock_num_sweeps
        self._sampler = None
        self._substitute = None
        self.cache: EmbeddingCache | None = None
        self.solver_name = ""
        self._lock = threading.Lock()

    def open(self):
        with self._lock:
            if self._sampler is not None:
                return self._sampler
            if self.mock:
                from dwave.system.testing import MockDWaveSampler

                self._substitute = _SeededSubstitute(self.mock_num_sweeps, 0)
                kind, shape = MOCK_TOPOLOGY
                sampler = MockDWaveSampler(topology_type=kind, topology_shape=[shape],
                                           substitute_sampler=self._substitute,
                                           exact_solver_cutoff=0)
                self.solver_name = f"MockDWaveSampler({kind} P{shape})"
            else:
                check_credentials(self.label, self.profile)
                with _cloud_errors("D-Wave QPU"):
                    from dwave.system import DWaveSampler

                    sampler = DWaveSampler(**_client_config(self.profile, self.client_options))
                    self.solver_name = str(sampler.solver.name)
            self.cache = EmbeddingCache(sampler.edgelist, seed=self.seed,
                                        timeout=self.embedding_timeout)
            self._sampler = sampler
            return sampler

    def reseed(self, seed):
        if self._substitute is not None:
            self._substitute.reseed(seed)

    def close(self):
        if self._sampler is not None and hasattr(self._sampler, "close"):
            with contextlib.suppress(Exception):
                self._sampler.close()
        self._sampler = None


@dataclass
class _Plan:
    packed: list[_Unit]
    #: split component -> its partitions (block layouts with offset boundaries) -> blocks
    blocks: dict[int, list[list[_Unit]]]
    singletons: np.ndarray
    components: int
    largest_component: int

    def units(self) -> list[_Unit]:
        return self.packed + [u for parts in self.blocks.values() for b in parts for u in b]

    def summary(self) -> dict:
        units = self.units()
        return {
            "components": self.components,
            "largest_component": self.largest_component,
            "singleton_components": int(len(self.singletons)),
            "packed_subproblems": len(self.packed),
            "split_components": len(self.blocks),
            "blocks": sum(len(b) for parts in self.blocks.values() for b in parts),
            "distinct_subproblem_graphs": len({u.key for u in units}),
        }


def _plan(g: _Graph, qpu: _QPU, size: int, workers: int,
          partitions: int = DEFAULT_PARTITIONS) -> _Plan:
    """Decompose ``g`` and embed every sub-problem (through ``qpu.cache``)."""
    comps = g.components()
    singles = [c for c in comps if len(c) == 1]
    small = [g.canonical_order(c) for c in comps if 1 < len(c) <= size]
    large = [np.sort(c) for c in comps if len(c) > size]
    large.sort(key=lambda c: int(c[0]))
    # pack small components: sorted by (size, shape) so equal shapes share bins (and embeddings)
    keyed = [(len(c), _make_unit(g, [c]).key, int(c.min()), c) for c in small]
    keyed.sort(key=lambda t: (-t[0], t[1], t[2]))
    bins: list[list[np.ndarray]] = []
    cur: list[np.ndarray] = []
    fill = 0
    for n, _, _, c in keyed:
        if fill + n > size and cur:
            bins.append(cur)
            cur, fill = [], 0
        cur.append(c)
        fill += n
    if cur:
        bins.append(cur)
    pending: list[tuple[_Unit, list[np.ndarray] | None]] = [(_make_unit(g, b), b) for b in bins]
    for ci, c in enumerate(large):
        firsts = [None] + [max(1, size * k // partitions) for k in range(1, partitions)]
        for p, first in enumerate(firsts):
            for i, blk in enumerate(g.grow_blocks(c, size, first)):
                u = _make_unit(g, [blk], ci, p)
                u.rank = (i,)
                pending.append((u, None))
    qpu.open()
    done: list[_Unit] = []
    next_component = len(large)
    while pending:
        qpu.cache.embed_units([u for u, _ in pending], workers=workers)
        nxt = []
        for u, parts in pending:
            if u.embedding:
                done.append(u)
            elif u.size <= 1:
                raise SamplerError("minorminer could not embed a single variable: "
                                   "is the QPU graph empty?")
            elif parts is not None and len(parts) > 1:  # a bin: halve its list of components
                half = len(parts) // 2
                nxt += [(_make_unit(g, parts[:half]), parts[:half]),
                        (_make_unit(g, parts[half:]), parts[half:])]
            else:  # one component or one block: cut it into blocks of half the size
                cid = u.component
                if cid < 0:
                    cid, next_component = next_component, next_component + 1
                for i, blk in enumerate(g.grow_blocks(u.order, max(1, (u.size + 1) // 2))):
                    v = _make_unit(g, [blk], cid, u.partition)
                    v.rank = u.rank + (i,)
                    nxt.append((v, None))
        pending = nxt
    packed = [u for u in done if u.component < 0]
    blocks: dict[int, list[list[_Unit]]] = {}
    for u in done:
        if u.component >= 0:
            parts = blocks.setdefault(u.component, [])
            while len(parts) <= u.partition:
                parts.append([])
            parts[u.partition].append(u)
    for parts in blocks.values():  # sweep order: growth order (the seed is the first variable)
        for b in parts:
            b.sort(key=lambda u: u.rank)
    return _Plan(packed=packed, blocks=blocks,
                 singletons=np.asarray([int(c[0]) for c in singles], dtype=np.int64),
                 components=len(comps), largest_component=max((len(c) for c in comps), default=0))


def _sub_bqm(g: _Graph, unit: _Unit, x: np.ndarray):
    """The unit's BQM over local labels 0..k-1, outside variables clamped to ``x``; its
    symmetric local coupling matrix."""
    order = unit.order
    inside = np.zeros(g.n, dtype=bool)
    inside[order] = True
    Wb = g.W[order]
    h_eff = g.h[order] + Wb @ np.where(inside, 0.0, x)
    Wl = Wb[:, order]
    e = unit.edges
    q = np.asarray(Wl[e[:, 0], e[:, 1]]).ravel() if len(e) else np.empty(0)
    bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(
        h_eff, (e[:, 0], e[:, 1], q), 0.0, dimod.BINARY)
    return bqm, h_eff, Wl


def _group_energies(X: np.ndarray, h_eff, Wl, unit: _Unit) -> np.ndarray:
    """(reads, groups) energies of each group of the unit in each read."""
    X = np.atleast_2d(X).astype(np.float64)
    contrib = X * h_eff + 0.5 * X * np.asarray((Wl @ X.T).T)
    G = np.zeros((unit.size, unit.ngroups))
    G[np.arange(unit.size), unit.groups] = 1.0
    return contrib @ G


def _read_matrix(ss, k: int) -> np.ndarray:
    idx = [ss.variables.index(i) for i in range(k)]
    return np.asarray(ss.record.sample[:, idx], dtype=np.int8)


def _polish(bqm, X: np.ndarray) -> np.ndarray:
    """Steepest descent from every read (the usual QPU post-processing)."""
    from dwave.samplers import SteepestDescentSolver

    ss = SteepestDescentSolver().sample(bqm, initial_states=(X, list(range(X.shape[1]))))
    return _read_matrix(ss, X.shape[1])


def _submit(qpu: _QPU, unit: _Unit, bqm, num_reads, qpu_params):
    from dwave.embedding.chain_strength import uniform_torque_compensation
    from dwave.system import FixedEmbeddingComposite

    sampler = qpu.open()
    emb = unit.embedding
    cs = float(uniform_torque_compensation(bqm, emb)) if bqm.num_interactions else 1.0
    comp = FixedEmbeddingComposite(sampler, emb)
    params = dict(qpu_params or {})
    with _cloud_errors(qpu.solver_name or "QPU"):
        ss = comp.sample(bqm, num_reads=num_reads, chain_strength=cs, chain_break_fraction=True,
                         **params)
    return ss, cs


def _solve_units(g, qpu, units, x, res, num_reads, qpu_params, polish) -> list[bool]:
    """Submit every unit (clamped to ``x``), then wait for all; update ``x`` in place where a
    group's best read lowers its energy. Returns, per unit, whether anything was accepted.
    Any failed call raises: no partial result is ever returned."""
    subs = []
    for u in units:
        bqm, h_eff, Wl = _sub_bqm(g, u, x)
        ss, cs = _submit(qpu, u, bqm, num_reads, qpu_params)
        subs.append((u, bqm, h_eff, Wl, ss, cs))
    changed = []
    for u, bqm, h_eff, Wl, ss, cs in subs:
        with _cloud_errors(qpu.solver_name or "QPU"):
            ss.resolve()
        res.chain_strength.append(cs)
        res.record_call(u.size, u.embedding, ss)
        X = _read_matrix(ss, u.size)
        if polish:
            X = _polish(bqm, X)
        E = _group_energies(X, h_eff, Wl, u)
        cur = _group_energies(x[u.order][None, :], h_eff, Wl, u)[0]
        best = E.argmin(axis=0)
        any_change = False
        for k in range(u.ngroups):
            if E[best[k], k] < cur[k] - 1e-9:
                members = u.groups == k
                x[u.order[members]] = X[best[k], members]
                any_change = True
        changed.append(any_change)
    return changed


def _initial_state(g: _Graph, how: str, seed: int) -> np.ndarray:
    if how == "zeros":
        return np.zeros(g.n, dtype=np.int8)
    bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(
        g.h, (*_triu(g), ), 0.0, dimod.BINARY)
    if how == "steepest":
        from dwave.samplers import SteepestDescentSolver

        ss = SteepestDescentSolver().sample(bqm, initial_states=np.zeros((1, g.n), dtype=np.int8))
    elif how == "neal":
        from dwave.samplers import SimulatedAnnealingSampler

        ss = SimulatedAnnealingSampler().sample(bqm, num_reads=1, num_sweeps=100, seed=seed)
    else:
        raise SamplerError(f"unknown initial state {how!r}; expected zeros, steepest or neal")
    return _read_matrix(ss, g.n)[0] if g.n else np.zeros(0, dtype=np.int8)


def _triu(g: _Graph):
    coo = g.W.tocoo()
    m = coo.row < coo.col
    return coo.row[m], coo.col[m], coo.data[m]


def _to_sampleset(bqm, g: _Graph, x: np.ndarray, info: dict) -> dimod.SampleSet:
    vals = x.astype(np.int8)
    if bqm.vartype is dimod.SPIN:
        vals = (2 * vals - 1).astype(np.int8)
    return dimod.SampleSet.from_samples_bqm((vals[None, :], g.labels), bqm, info=info)


def _check_seed(seed):
    if seed is None:
        return 0
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**31:
        raise SamplerError(f"seed must be an integer in [0, 2**31), got {seed!r}")
    return int(seed)


def _block_descent(g, qpu, plan: _Plan, x, res, num_reads, qpu_params, polish, sweeps) -> int:
    """Solve ``plan`` on the QPU, improving ``x`` in place; returns the sweeps done.

    Singletons are set exactly. Sweep 0's first round carries every packed unit. Sweep s visits
    the blocks of partition s % P of every split component still improving (the P layouts'
    boundaries are offset by size/P, so a boundary frozen in one sweep is inside a block in
    the next); round r of a sweep carries the r-th block of each such component (blocks of
    different components are independent, so they are submitted together and their calls
    overlap). A component stops once a full cycle of partitions changed nothing.
    """
    if len(plan.singletons):
        x[plan.singletons] = (g.h[plan.singletons] < 0).astype(np.int8)
    idle = {c: 0 for c in plan.blocks}
    done = 0
    for s in range(max(1, sweeps)):
        active = sorted(c for c in plan.blocks if idle[c] < len(plan.blocks[c]))
        if s > 0 and not active:
            break
        current = {c: plan.blocks[c][s % len(plan.blocks[c])] for c in active}
        improved = set()
        rounds = max((len(b) for b in current.values()), default=0)
        for r in range(max(rounds, 1)):
            units = list(plan.packed) if (s == 0 and r == 0) else []
            owners = [-1] * len(units)
            for c in active:
                if r < len(current[c]):
                    units.append(current[c][r])
                    owners.append(c)
            if units:
                changed = _solve_units(g, qpu, units, x, res, num_reads, qpu_params, polish)
                improved.update(c for c, ch in zip(owners, changed) if c >= 0 and ch)
        for c in active:
            idle[c] = 0 if c in improved else idle[c] + 1
        done = s + 1
    return done


# --------------------------------------------------------------------------------------------
# Samplers
# --------------------------------------------------------------------------------------------

class DecomposedQPUSampler(dimod.Sampler):
    """The "qpu" / "mock-qpu" sampler: decomposition + cached embeddings + block descent.

    ``sample(bqm, num_reads=None, seed=None, sweeps=None, initial_state=None)``: ``num_reads``
    is the number of reads per QPU call (default: the constructor's); ``seed`` seeds the mock's
    annealer and the initial state (the decomposition and the embeddings are seeded by the
    constructor's ``seed``, so the embedding cache stays valid across calls). ``initial_state``
    is "zeros" (default), "steepest" or "neal". ``partitions`` block layouts (default 3), with
    boundaries offset by a fraction of a block, are visited in turn. On a 3000-variable piece of
    the union event's QUBO, with simulated annealing as an ideal sub-solver (blocks of 150, 6
    sweeps), the descent from all-zeros ends 10.7% (1 layout, 1200 variables), 2.0% (2 layouts)
    and 1.1% (3 layouts) above simulated annealing on the whole piece.
    """

    def __init__(self, *, mock: bool = False, profile=None, subproblem_size=None, seed=None,
                 embedding_timeout=DEFAULT_EMBEDDING_TIMEOUT, num_reads=DEFAULT_NUM_READS,
                 sweeps=DEFAULT_SWEEPS, initial_state="zeros", polish=True, qpu_params=None,
                 client_options=None, embed_workers=2, mock_num_sweeps=MOCK_NUM_SWEEPS,
                 dry_run=False, label="qpu", partitions=DEFAULT_PARTITIONS):
        self.partitions = int(partitions)
        if not 1 <= self.partitions <= 8:
            raise SamplerError(f"partitions must be in 1..8, got {partitions!r}")
        self.subproblem_size = int(subproblem_size or DEFAULT_SUBPROBLEM_SIZE)
        if self.subproblem_size < 2:
            raise SamplerError(f"subproblem_size must be at least 2, got {subproblem_size!r}")
        self.seed = _check_seed(seed)
        self.num_reads = int(num_reads or DEFAULT_NUM_READS)
        self.sweeps = int(sweeps)
        self.initial_state = initial_state
        self.polish = bool(polish)
        self.qpu_params = dict(qpu_params or {})
        self.embed_workers = int(embed_workers)
        self.dry_run = bool(dry_run)
        self._qpu = _QPU(mock=mock, profile=profile, client_options=client_options,
                         seed=self.seed, embedding_timeout=embedding_timeout,
                         mock_num_sweeps=mock_num_sweeps, dry_run=dry_run, label=label)
        self.name = "mock-qpu" if mock else label

    #: ``num_reads`` is deliberately not listed: the pipeline passes the parameters a sampler
    #: lists, and its default (10 reads, tuned for neal over whole batches) would set the reads of
    #: every QPU call. Reads per call are set by ``make_sampler(num_reads=...)`` (default 100;
    #: programming a QPU costs far more than a read) or by passing ``num_reads`` to ``sample``.
    parameters = {"seed": [], "sweeps": [], "initial_state": []}

    @property
    def properties(self):
        return {"subproblem_size": self.subproblem_size, "mock": self._qpu.mock,
                "dry_run": self.dry_run, "sweeps": self.sweeps, "polish": self.polish}

    @property
    def embedding_cache(self) -> EmbeddingCache | None:
        return self._qpu.cache

    def close(self):
        self._qpu.close()

    def plan(self, bqm) -> _Plan:
        return _plan(_Graph(bqm), self._qpu, self.subproblem_size, self.embed_workers,
                     self.partitions)

    def sample(self, bqm, num_reads=None, seed=None, sweeps=None, initial_state=None,
               **kwargs):
        if kwargs:
            raise SamplerError(f"{self.name}: unknown sampling option(s) {sorted(kwargs)}")
        t0 = time.perf_counter()
        seed = _check_seed(self.seed if seed is None else seed)
        num_reads = int(num_reads or self.num_reads)
        sweeps = int(self.sweeps if sweeps is None else sweeps)
        g = _Graph(bqm)
        x = _initial_state(g, initial_state or self.initial_state, seed)
        e_init = g.energy(x)
        qpu = self._qpu
        qpu.open()
        qpu.reseed(seed)
        cache = qpu.cache
        hits0, misses0, t_emb0, fail0 = cache.hits, cache.misses, cache.time_s, cache.failures
        plan = _plan(g, qpu, self.subproblem_size, self.embed_workers, self.partitions)
        res = _Resources(solver=qpu.solver_name, placeholder_timing=qpu.mock)
        sweeps_done = _block_descent(g, qpu, plan, x, res, num_reads, self.qpu_params,
                                     self.polish, sweeps)
        energy = g.energy(x)
        assert energy <= e_init + 1e-6 * max(1.0, abs(e_init)), "block descent raised the energy"
        info = {"resources": res.to_dict(
            **plan.summary(),
            sweeps=sweeps_done,
            num_reads=num_reads,
            subproblem_size=self.subproblem_size,
            embedding_cache_hits=cache.hits - hits0,
            embedding_cache_misses=cache.misses - misses0,
            embedding_failures=cache.failures - fail0,
            embedding_time_s=round(cache.time_s - t_emb0, 3),
            initial_state=initial_state or self.initial_state,
            initial_energy=e_init,
            polish=self.polish,
            mock=qpu.mock,
            dry_run=self.dry_run,
            deterministic=qpu.mock,
            wall_time_s=round(time.perf_counter() - t0, 3),
        )}
        return _to_sampleset(bqm, g, x, info)


class HybridLoopSampler(dimod.Sampler):
    """The "decomposed" sampler: a qbsolv-like dwave-hybrid loop per large component.

    Components of at most ``subproblem_size`` variables are packed and solved as in
    :class:`DecomposedQPUSampler` (one pass); each larger component runs
    ``LoopUntilNoImprovement((Identity, EnergyImpactDecomposer(size, rolling=True, traversal=
    "bfs") | QPUSubproblemAutoEmbeddingSampler | SplatComposer) | ArgMin)`` from a quick
    simulated-annealing state, so its energy never rises above that state's. Embeddings go
    through the same seeded cache.
    """

    parameters = {"seed": [], "sweeps": []}  # num_reads: see DecomposedQPUSampler

    def __init__(self, *, mock: bool = False, profile=None, subproblem_size=None, seed=None,
                 embedding_timeout=DEFAULT_EMBEDDING_TIMEOUT, num_reads=DEFAULT_NUM_READS,
                 sweeps=2, initial_state="neal", polish=True, qpu_params=None,
                 client_options=None, embed_workers=2, mock_num_sweeps=MOCK_NUM_SWEEPS,
                 dry_run=False):
        self._inner = DecomposedQPUSampler(
            mock=mock, profile=profile, subproblem_size=subproblem_size, seed=seed,
            embedding_timeout=embedding_timeout, num_reads=num_reads, sweeps=1,
            initial_state=initial_state, polish=polish, qpu_params=qpu_params,
            client_options=client_options, embed_workers=embed_workers,
            mock_num_sweeps=mock_num_sweeps, dry_run=dry_run, label="decomposed")
        self.sweeps = int(sweeps)
        self.name = "decomposed"

    @property
    def properties(self):
        return dict(self._inner.properties, sweeps=self.sweeps, loop="dwave-hybrid")

    @property
    def embedding_cache(self):
        return self._inner.embedding_cache

    def close(self):
        self._inner.close()

    def sample(self, bqm, num_reads=None, seed=None, sweeps=None, **kwargs):
        if kwargs:
            raise SamplerError(f"decomposed: unknown sampling option(s) {sorted(kwargs)}")
        self._inner._qpu.open()  # credentials and connection first: fail before heavy imports
        import hybrid
        from dwave.embedding.chain_strength import uniform_torque_compensation

        t0 = time.perf_counter()
        inner = self._inner
        seed = _check_seed(inner.seed if seed is None else seed)
        num_reads = int(num_reads or inner.num_reads)
        sweeps = int(self.sweeps if sweeps is None else sweeps)
        size = inner.subproblem_size
        g = _Graph(bqm)
        x = _initial_state(g, inner.initial_state, seed)
        e_init = g.energy(x)
        qpu = inner._qpu
        sampler = qpu.open()
        qpu.reseed(seed)
        cache = qpu.cache
        hits0, misses0, t_emb0, fail0 = cache.hits, cache.misses, cache.time_s, cache.failures
        res = _Resources(solver=qpu.solver_name, placeholder_timing=qpu.mock)

        comps = g.components()
        small_nodes = np.concatenate([c for c in comps if len(c) <= size] or [np.empty(0, int)])
        large = sorted((np.sort(c) for c in comps if len(c) > size), key=lambda c: int(c[0]))

        # small components: packed QPU calls, as in the qpu path
        small_plan = None
        if len(small_nodes):
            sub_g = _Subgraph(g, small_nodes)
            small_plan = _plan(sub_g, qpu, size, inner.embed_workers)
            xs = x[small_nodes].copy()
            _block_descent(sub_g, qpu, small_plan, xs, res, num_reads, inner.qpu_params,
                           inner.polish, 1)
            x[small_nodes] = xs

        polish = inner.polish

        class _Recording(hybrid.QPUSubproblemAutoEmbeddingSampler):
            def next(self, state, **runopts):
                with _cloud_errors(qpu.solver_name or "QPU"):
                    out = super().next(state, **runopts)
                    ss = out.subsamples
                    ss.resolve()
                ctx = ss.info.get("embedding_context", {}) or {}
                emb = ctx.get("embedding")
                res.chain_strength.append(float(ctx.get("chain_strength", 0.0) or 0.0))
                res.record_call(len(state.subproblem), dict(emb) if emb else None, ss)
                if polish:  # steepest descent from every read, as in the qpu path
                    from dwave.samplers import SteepestDescentSolver

                    ss = SteepestDescentSolver().sample(state.subproblem, initial_states=ss)
                    out = out.updated(subsamples=ss)
                return out

        for ci, c in enumerate(large):
            cg_ = _Subgraph(g, c)
            cbqm = dimod.BinaryQuadraticModel.from_numpy_vectors(
                cg_.h, _triu(cg_), 0.0, dimod.BINARY)
            qsampler = _Recording(
                num_reads=num_reads, qpu_sampler=sampler,
                sampling_params=dict(inner.qpu_params, chain_strength=uniform_torque_compensation,
                                     chain_break_fraction=True, return_embedding=True),
                auto_embedding_params={"find_embedding": cache.find_embedding})
            branch = (hybrid.EnergyImpactDecomposer(size=size, rolling=True, rolling_history=1.0,
                                                    traversal="bfs")
                      | qsampler | hybrid.SplatComposer())
            iteration = hybrid.Parallel(hybrid.Identity(), branch) | hybrid.ArgMin()
            per_sweep = math.ceil(len(c) / size)
            loop = hybrid.LoopUntilNoImprovement(iteration, convergence=per_sweep + 1,
                                                 max_iter=max(1, sweeps) * per_sweep)
            state = hybrid.State.from_sample(
                {i: int(v) for i, v in enumerate(x[c])}, cbqm)
            try:
                final = loop.run(state).result()
            except SamplerError:
                raise
            except Exception as exc:
                raise SamplerError(f"decomposed: dwave-hybrid loop failed: "
                                   f"{type(exc).__name__}: {_one_line(exc)}") from None
            best = final.samples.first.sample
            xc = np.asarray([best[i] for i in range(len(c))], dtype=np.int8)
            if cg_.energy(xc) <= cg_.energy(x[c]) + 1e-9:
                x[c] = xc

        energy = g.energy(x)
        assert energy <= e_init + 1e-6 * max(1.0, abs(e_init)), "hybrid loop raised the energy"
        extra = small_plan.summary() if small_plan else {}
        info = {"resources": res.to_dict(
            components=len(comps),
            largest_component=max((len(c) for c in comps), default=0),
            packed_subproblems=extra.get("packed_subproblems", 0),
            hybrid_loop_components=len(large),
            num_reads=num_reads,
            subproblem_size=size,
            embedding_cache_hits=cache.hits - hits0,
            embedding_cache_misses=cache.misses - misses0,
            embedding_failures=cache.failures - fail0,
            embedding_time_s=round(cache.time_s - t_emb0, 3),
            initial_state=inner.initial_state,
            initial_energy=e_init,
            mock=qpu.mock,
            dry_run=inner.dry_run,
            deterministic=qpu.mock,
            wall_time_s=round(time.perf_counter() - t0, 3),
        )}
        return _to_sampleset(bqm, g, x, info)


class _Subgraph(_Graph):
    """The restriction of a :class:`_Graph` to some positions (relabelled 0..k-1)."""

    def __init__(self, g: _Graph, nodes: np.ndarray):  # noqa: D401 - no super().__init__
        nodes = np.asarray(nodes, dtype=np.int64)
        self.labels = nodes.tolist()
        self.n = len(nodes)
        self.h = g.h[nodes]
        self.offset = 0.0
        self.W = g.W[nodes][:, nodes].tocsr()
        self.W.sort_indices()
        self.degree = np.diff(self.W.indptr)


class LeapHybridBQMSampler(dimod.Sampler):
    """The "hybrid" sampler: Leap's hybrid BQM solver on the batch as it is."""

    parameters = {"time_limit": []}

    def __init__(self, *, profile=None, client_options=None, time_limit=None, dry_run=False):
        self.profile = profile
        self.client_options = client_options
        self.time_limit = time_limit
        self.dry_run = bool(dry_run)
        self._sampler = None

    @property
    def properties(self):
        return {"dry_run": self.dry_run}

    def _open(self):
        if self._sampler is None:
            check_credentials("hybrid", self.profile)
            with _cloud_errors("Leap hybrid"):
                from dwave.system import LeapHybridSampler

                self._sampler = LeapHybridSampler(**_client_config(self.profile,
                                                                   self.client_options))
        return self._sampler

    def close(self):
        if self._sampler is not None:
            with contextlib.suppress(Exception):
                self._sampler.close()
        self._sampler = None

    def sample(self, bqm, time_limit=None, **kwargs):
        if kwargs:
            raise SamplerError(f"hybrid: unknown sampling option(s) {sorted(kwargs)}")
        t0 = time.perf_counter()
        time_limit = time_limit or self.time_limit
        if self.dry_run:  # nothing is submitted: a local annealer stands in
            from dwave.samplers import SimulatedAnnealingSampler

            ss = SimulatedAnnealingSampler().sample(bqm, num_reads=1, seed=0).truncate(1)
            ss.info["resources"] = {
                "solver": "dry run (simulated annealing stands in)", "hybrid_calls": 1,
                "variables": bqm.num_variables, "interactions": bqm.num_interactions,
                "qpu_access_time_us": 0.0, "run_time_us": 0.0, "dry_run": True,
                "wall_time_s": round(time.perf_counter() - t0, 3)}
            return ss
        sampler = self._open()
        params = {"time_limit": time_limit} if time_limit else {}
        with _cloud_errors("Leap hybrid"):
            ss = sampler.sample(bqm, **params)
            ss.resolve()
        info = ss.info
        ss.info["resources"] = {
            "solver": str(sampler.solver.name),
            "hybrid_calls": 1,
            "variables": bqm.num_variables,
            "interactions": bqm.num_interactions,
            "qpu_access_time_us": float(info.get("qpu_access_time", 0.0) or 0.0),
            "run_time_us": float(info.get("run_time", 0.0) or 0.0),
            "charge_time_us": float(info.get("charge_time", 0.0) or 0.0),
            "dry_run": False,
            "wall_time_s": round(time.perf_counter() - t0, 3),
        }
        return ss


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------

def make_sampler(name: str, *, profile: str | None = None, subproblem_size: int | None = None,
                 seed: int | None = None, embedding_timeout: float = DEFAULT_EMBEDDING_TIMEOUT,
                 num_reads: int | None = None, dry_run: bool = False, mock: bool = False,
                 sweeps: int | None = None, initial_state: str | None = None,
                 polish: bool = True, qpu_params: dict | None = None,
                 client_options: dict | None = None, time_limit: float | None = None,
                 partitions: int = DEFAULT_PARTITIONS, **unknown) -> dimod.Sampler:
    """The hardware sampler registered as ``name`` ("qpu", "hybrid", "decomposed", "mock-qpu").

    Nothing is contacted here: the QPU / Leap connection opens on the first ``sample`` call
    (after :func:`check_credentials`). ``dry_run=True`` (or "mock-qpu") swaps the QPU for the
    offline ``MockDWaveSampler`` on Pegasus P16: decomposition and embeddings are those of a real
    run, nothing is submitted and no credentials are needed ("hybrid": a local annealer stands
    in). ``mock=True`` runs "decomposed" on the mock. Options meant for other samplers
    (``**unknown``) are ignored, as the local samplers' factories do.
    """
    del unknown
    common = dict(profile=profile, subproblem_size=subproblem_size, seed=seed,
                  embedding_timeout=embedding_timeout,
                  num_reads=num_reads or DEFAULT_NUM_READS, polish=polish, qpu_params=qpu_params,
                  client_options=client_options, dry_run=dry_run)
    if name in ("qpu", "mock-qpu"):
        return DecomposedQPUSampler(mock=(name == "mock-qpu" or mock), partitions=partitions,
                                    sweeps=DEFAULT_SWEEPS if sweeps is None else sweeps,
                                    initial_state=initial_state or "zeros", **common)
    if name == "decomposed":
        return HybridLoopSampler(mock=mock, sweeps=2 if sweeps is None else sweeps,
                                 initial_state=initial_state or "neal", **common)
    if name == "hybrid":
        return LeapHybridBQMSampler(profile=profile, client_options=client_options,
                                    time_limit=time_limit, dry_run=dry_run)
    raise SamplerError(f"unknown hardware sampler {name!r}; expected one of "
                       f"{', '.join(HARDWARE_SAMPLERS)}")


def dry_run(bqm, name: str = "qpu", *, subproblem_size: int | None = None,
            seed: int | None = None, embedding_timeout: float = DEFAULT_EMBEDDING_TIMEOUT,
            num_reads: int | None = None, sweeps: int | None = None,
            topology=MOCK_TOPOLOGY, embed_workers: int = 2, partitions: int = DEFAULT_PARTITIONS,
            profile: str | None = None, **ignored) -> dict:
    """What a hardware run on ``bqm`` would use, computed offline: nothing is submitted and no
    credentials are read.

    Decomposes as the "qpu" sampler does and embeds every sub-problem on ``topology`` (Pegasus
    P16 by default). For "decomposed", the large components' sub-problems are chosen at run
    time by energy impact; the report embeds blocks of the same size in their place
    (``"estimated": True``). For "hybrid", reports the problem size only. ``profile`` and other
    sampler options are accepted and ignored (nothing is contacted), so the CLI can pass the
    options it gives :func:`make_sampler`.
    """
    del profile, ignored
    t0 = time.perf_counter()
    num_reads = int(num_reads or DEFAULT_NUM_READS)
    sweeps = DEFAULT_SWEEPS if sweeps is None else int(sweeps)
    if name not in HARDWARE_SAMPLERS:
        raise SamplerError(f"unknown hardware sampler {name!r}; expected one of "
                           f"{', '.join(HARDWARE_SAMPLERS)}")
    if name == "hybrid":
        return {"sampler": name, "variables": bqm.num_variables,
                "interactions": bqm.num_interactions, "hybrid_calls": 1, "submitted": 0,
                "credentials_needed": True}
    size = int(subproblem_size or DEFAULT_SUBPROBLEM_SIZE)
    nqubits, tedges = _target_graph(topology)
    qpu = _QPU(mock=True, seed=_check_seed(seed), embedding_timeout=embedding_timeout)
    qpu._sampler = object()  # never opened: embeddings go to the offline target
    qpu.cache = EmbeddingCache(tedges, seed=qpu.seed, timeout=embedding_timeout)
    g = _Graph(bqm)
    plan = _plan(g, qpu, size, embed_workers, partitions)
    units = plan.units()
    phys = [sum(len(c) for c in u.embedding.values()) for u in units]
    chains = [max(len(c) for c in u.embedding.values()) for u in units]
    calls_max = len(plan.packed) + sum(len(parts[s % len(parts)]) for parts in plan.blocks.values()
                                       for s in range(max(1, sweeps)))
    report = {
        "sampler": name,
        "target": f"{topology[0]} {topology[1]} ({nqubits} qubits)",
        "variables": g.n,
        "interactions": int(g.W.nnz // 2),
        "subproblem_size": size,
        **plan.summary(),
        "subproblems": len(units),
        "qpu_calls_first_sweep": len(plan.packed) + sum(len(p[0]) for p in plan.blocks.values()),
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
        "embedding_cache_hits": qpu.cache.hits,
        "embedding_cache_misses": qpu.cache.misses,
        "embedding_failures": qpu.cache.failures,
        "embedding_time_s": round(qpu.cache.time_s, 3),
        "submitted": 0,
        "credentials_needed": name != "mock-qpu",
        "estimated": name == "decomposed",
        "wall_time_s": round(time.perf_counter() - t0, 3),
    }
    return report
