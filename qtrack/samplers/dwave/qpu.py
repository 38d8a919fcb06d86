"""The "qpu" and "mock-qpu" samplers: decomposition, cached embeddings and block descent.

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
"""
from __future__ import annotations

import contextlib
import threading
import time

import dimod
import numpy as np

from ...errors import SamplerError
from .credentials import check_credentials, client_config, cloud_errors
from .decompose import DEFAULT_PARTITIONS, Graph, Plan, Unit, plan, triu
from .embedding import DEFAULT_EMBEDDING_TIMEOUT, MOCK_TOPOLOGY, EmbeddingCache
from .resources import Resources


#: Largest number of logical variables sent to the QPU in one call. minorminer on Pegasus P16
#: (2 cores), blocks of the union event's QUBO (97% density, in-block degree ~10-13): 50
#: variables 0.4-0.6 s (chains <= 4 qubits), 100 0.8-1.8 s (<= 5), 150 3-19 s (<= 12), 200
#: 10-41 s (<= 10); packed small components of sparser events cost ~20 ms per variable at any
#: bin size. 100 keeps chains short (fewer breaks on a real QPU) and embedding cheap; on a
#: 1200-variable piece of the union QUBO the mock ends 3.3% above simulated annealing with 100
#: and 8.7% with 150 (its annealer suffers from long chains).
DEFAULT_SUBPROBLEM_SIZE = 100
#: Reads per QPU call.
DEFAULT_NUM_READS = 100
#: Block-coordinate-descent sweeps over the blocks of a split component (fewer when a sweep
#: changes nothing).
DEFAULT_SWEEPS = 6
#: Simulated-annealing sweeps the mock QPU spends per read on the embedded (physical) problem.
MOCK_NUM_SWEEPS = 200



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

    def open_offline(self, target_edges) -> EmbeddingCache:
        """Embed on ``target_edges`` without opening any sampler (dry runs): no QPU, no mock."""
        with self._lock:
            if self.cache is None:
                self.cache = EmbeddingCache(target_edges, seed=self.seed,
                                            timeout=self.embedding_timeout)
            return self.cache

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
                check_credentials(f"sampler {self.label!r}", self.profile)
                with cloud_errors("D-Wave QPU"):
                    from dwave.system import DWaveSampler

                    sampler = DWaveSampler(**client_config(self.profile, self.client_options))
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



def _sub_bqm(g: Graph, unit: Unit, x: np.ndarray):
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


def _group_energies(X: np.ndarray, h_eff, Wl, unit: Unit) -> np.ndarray:
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


def _submit(qpu: _QPU, unit: Unit, bqm, num_reads, qpu_params):
    from dwave.embedding.chain_strength import uniform_torque_compensation
    from dwave.system import FixedEmbeddingComposite

    sampler = qpu.open()
    emb = unit.embedding
    cs = float(uniform_torque_compensation(bqm, emb)) if bqm.num_interactions else 1.0
    comp = FixedEmbeddingComposite(sampler, emb)
    params = dict(qpu_params or {})
    with cloud_errors(qpu.solver_name or "QPU"):
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
        with cloud_errors(qpu.solver_name or "QPU"):
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


def initial_state_of(g: Graph, how: str, seed: int) -> np.ndarray:
    if how == "zeros":
        return np.zeros(g.n, dtype=np.int8)
    bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(
        g.h, (*triu(g), ), 0.0, dimod.BINARY)
    if how == "descent":
        from dwave.samplers import SteepestDescentSolver

        ss = SteepestDescentSolver().sample(bqm, initial_states=np.zeros((1, g.n), dtype=np.int8))
    elif how == "anneal":
        from dwave.samplers import SimulatedAnnealingSampler

        ss = SimulatedAnnealingSampler().sample(bqm, num_reads=1, num_sweeps=100, seed=seed)
    else:
        raise SamplerError(f"unknown initial state {how!r}; expected zeros, descent or anneal")
    return _read_matrix(ss, g.n)[0] if g.n else np.zeros(0, dtype=np.int8)


def to_sampleset(bqm, g: Graph, x: np.ndarray, info: dict) -> dimod.SampleSet:
    vals = x.astype(np.int8)
    if bqm.vartype is dimod.SPIN:
        vals = (2 * vals - 1).astype(np.int8)
    return dimod.SampleSet.from_samples_bqm((vals[None, :], g.labels), bqm, info=info)


def check_descent(energy: float, initial: float, what: str) -> None:
    """A descent only accepts improvements: a higher final energy is qtrack's own bug."""
    if energy > initial + 1e-6 * max(1.0, abs(initial)):
        raise RuntimeError(f"{what} raised the energy from {initial} to {energy}")


def check_seed(seed):
    if seed is None:
        return 0
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**31:
        raise SamplerError(f"seed must be an integer in [0, 2**31), got {seed!r}")
    return int(seed)


def block_descent(g, qpu, plan: Plan, x, res, num_reads, qpu_params, polish, sweeps) -> int:
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
    is "zeros" (default), "descent" (steepest descent from zeros) or "anneal" (a short
    simulated anneal). ``partitions`` block layouts (default 3), with
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
        self.seed = check_seed(seed)
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
        self.mock = bool(mock)
        self.embedding_timeout = embedding_timeout

    #: ``num_reads`` is the reads of every QPU call (default: the constructor's, 100: programming
    #: a QPU costs far more than a read); qtrack's solve stage passes it from the ``[qpu]``
    #: config section, not from ``[solve]`` (see the registry's capabilities).
    parameters = {"num_reads": [], "seed": [], "sweeps": [], "initial_state": []}

    @property
    def qtrack_capabilities(self):
        from .. import OFFLINE_QPU, REMOTE

        return OFFLINE_QPU if self._qpu.mock else REMOTE

    @property
    def properties(self):
        return {"subproblem_size": self.subproblem_size, "mock": self._qpu.mock,
                "dry_run": self.dry_run, "sweeps": self.sweeps, "polish": self.polish}

    @property
    def embedding_cache(self) -> EmbeddingCache | None:
        return self._qpu.cache

    def close(self):
        self._qpu.close()

    def offline_report(self, bqm, estimated: bool = False) -> dict:
        """What :meth:`sample` would ask of the QPU for ``bqm``, computed offline (a dry run)."""
        from .dryrun import plan_report

        return plan_report(bqm, subproblem_size=self.subproblem_size, seed=self.seed,
                           embedding_timeout=self.embedding_timeout, num_reads=self.num_reads,
                           sweeps=self.sweeps, embed_workers=self.embed_workers,
                           partitions=self.partitions, estimated=estimated,
                           credentials_needed=not self.mock)

    def plan(self, bqm) -> Plan:
        self._qpu.open()
        return plan(Graph(bqm), self._qpu.cache, self.subproblem_size, self.embed_workers,
                     self.partitions)

    def sample(self, bqm, num_reads=None, seed=None, sweeps=None, initial_state=None,
               **kwargs):
        self.remove_unknown_kwargs(**kwargs)
        t0 = time.perf_counter()
        seed = check_seed(self.seed if seed is None else seed)
        num_reads = int(num_reads or self.num_reads)
        sweeps = int(self.sweeps if sweeps is None else sweeps)
        g = Graph(bqm)
        x = initial_state_of(g, initial_state or self.initial_state, seed)
        e_init = g.energy(x)
        qpu = self._qpu
        qpu.open()
        qpu.reseed(seed)
        cache = qpu.cache
        hits0, misses0, t_emb0, fail0 = cache.hits, cache.misses, cache.time_s, cache.failures
        layout = plan(g, cache, self.subproblem_size, self.embed_workers, self.partitions)
        res = Resources(solver=qpu.solver_name, placeholder_timing=qpu.mock)
        sweeps_done = block_descent(g, qpu, layout, x, res, num_reads, self.qpu_params,
                                    self.polish, sweeps)
        check_descent(g.energy(x), e_init, "block descent")
        info = {"resources": res.to_dict(
            **layout.summary(),
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
        return to_sampleset(bqm, g, x, info)

