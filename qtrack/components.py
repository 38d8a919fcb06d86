"""The solve stage: a QUBO solved with any dimod sampler, one connected component at a time.

Tracking QUBOs fall apart into hundreds or thousands of independent components. Each is solved on
its own in the sense that matters: its state is taken from whichever read gave *that component*
its lowest energy. How the sampler is called follows its :class:`~qtrack.samplers.Capabilities`:

* samplers that ``pack`` get every component in one call (a call per component would cost more in
  Python overhead than in annealing); the others get one call per component;
* samplers that ``split_reads`` (local ones) have their work split into :data:`READ_CALLS` calls:
  their components in groups of about equal size, or, when one component outweighs the rest,
  their reads. Each call has its own seed, spawned from ``(seed, call, part)``; with ``threads``
  the calls share the threads out. The split depends on the QUBO alone, so neither the number of
  threads nor their timing can change the answer: one seed, one answer.

:func:`solve_qubo` works on arrays (what the pipeline holds); :class:`ComponentComposite` is the
same thing as a ``dimod`` composite over any child sampler and any BQM.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import dimod
import numpy as np
from numba import njit
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .config import SolveConfig
from .errors import SamplerError
from .model.qubo import Qubo
from .samplers import Capabilities, capabilities_of, check_size


@dataclass
class Solution:
    """The selected state and what it took to find it."""

    #: 0/1 per variable: the best read of every component.
    state: np.ndarray
    energy: float
    #: Every call's answer, as dimod returned it, over local labels 0..k-1.
    samplesets: list[dimod.SampleSet]
    n_components: int
    largest_component: int
    info: dict = field(default_factory=dict)
    #: Per sample set, the QUBO variable of each local label.
    variables: list[np.ndarray] = field(default_factory=list)

    def to_sampleset(self) -> dimod.SampleSet:
        """The selected state as a one-row SampleSet over the QUBO's variables."""
        return dimod.SampleSet.from_samples(
            (self.state[None, :], np.arange(len(self.state))), dimod.BINARY, self.energy
        )


@njit(cache=True)
def _coefficient_range(linear, quad):
    # Largest |coefficient| and smallest above 1e-9, without temporaries: at pile-up 400 the
    # abs, concatenate and mask of 18M coefficients took 0.4 s per pass, mostly first-touched
    # memory.
    hi, lo = 0.0, np.inf
    for values in (linear, quad):
        for v in values:
            a = abs(v)
            if a > 1e-9:
                hi = max(hi, a)
                lo = min(lo, a)
    return hi, lo


def auto_beta_range(qubo: Qubo) -> tuple[float, float]:
    """Inverse temperatures scaled to the couplings.

    Hot: a flip that costs the largest single coefficient is accepted half of the time. (Scaling
    to a variable's whole field instead, as dimod does, starts far too hot here: a few triplets
    carry dozens of conflicts.) Cold: the smallest non-zero coefficient is accepted once in a
    hundred.
    """
    largest, smallest = _coefficient_range(np.asarray(qubo.linear, dtype=np.float64),
                                           np.asarray(qubo.quad, dtype=np.float64))
    if largest == 0.0:
        return (0.1, 10.0)
    hot = np.log(2.0) / largest
    cold = np.log(100.0) / smallest
    return (float(hot), float(max(cold, hot * 10)))


def components(qubo: Qubo) -> tuple[int, np.ndarray]:
    """Number of connected components and the component of each variable.

    Components are numbered by their lowest variable, so the numbering depends on the QUBO only.
    """
    n = qubo.num_variables
    graph = coo_matrix((np.ones(len(qubo.irow)), (qubo.irow, qubo.icol)), shape=(n, n))
    return connected_components(graph, directed=False)


def sample_kwargs(sampler: dimod.Sampler, capabilities: Capabilities, config: SolveConfig,
                  beta_range, seed: int) -> dict:
    """The settings this sampler understands (per dimod's ``sampler.parameters``)."""
    wanted = {"seed": seed}
    if capabilities.solve_settings:
        wanted.update(num_reads=config.num_reads, num_sweeps=config.num_sweeps,
                      beta_range=beta_range)
        if "beta_schedule_type" in sampler.parameters:
            wanted["beta_schedule_type"] = "geometric"
        if "num_restarts" in sampler.parameters and "timeout" in sampler.parameters:
            # Tabu: stop after a fixed number of restarts, not on its 100 ms default timeout,
            # which leaves large components far from converged and makes results depend on
            # machine speed.
            wanted.update(num_restarts=2, timeout=600_000)
    return {k: v for k, v in wanted.items() if k in sampler.parameters}


#: Calls a sampler's work is split into, so that two threads share it: its components in two
#: groups of about equal size, each with all the reads; or, when one component outweighs the
#: rest, its reads. Not more: every call sets its model up in the sampler (neal: 2.8 s for the
#: 231k variables and 4.0M couplers of a pile-up 200 event's first pass, as long as 250 sweeps of
#: one read), and the groups split that set-up where split reads repeat it.
READ_CALLS = 2


@dataclass(frozen=True)
class _Call:
    """One ``sample`` call: over the variables of ``groups[group]``, ``reads`` reads (0: the
    sampler's own setting) of ``sweeps`` sweeps (``None``: the config's); ``part`` tells the
    calls sharing a group's reads apart (and seeds them)."""

    group: int
    reads: int
    sweeps: int | None
    part: int


def _balanced_groups(comps: np.ndarray, weight: np.ndarray, n_groups: int):
    """Components ``comps`` in ``n_groups`` groups of about equal weight (variables and
    couplers; heaviest first, each into the lightest group), or None when one group would hold
    over three quarters of it."""
    if len(comps) < n_groups:
        return None
    load = np.zeros(n_groups)
    members: list[list[int]] = [[] for _ in range(n_groups)]
    for c in comps[np.argsort(-weight[comps], kind="stable")]:
        g = int(np.argmin(load))
        members[g].append(c)
        load[g] += weight[c]
    if load.max() > 0.75 * load.sum():
        return None
    return [np.sort(np.array(m, dtype=np.int64)) for m in members]


def _plan(sampler, caps: Capabilities, config: SolveConfig, sizes: np.ndarray,
          weight: np.ndarray) -> tuple[list[np.ndarray], list[_Call]]:
    """The groups of components (each group one model) and the calls over them.

    Samplers that cannot ``pack`` get a group per component. Those that ``split_reads`` get
    :data:`READ_CALLS` calls per class of components: annealers' large components
    (``config.large_component``) with their own reads and sweeps, and the rest.
    """
    n_comp = len(sizes)
    every = np.arange(n_comp)
    if not (caps.split_reads and "num_reads" in sampler.parameters):
        units = [every] if caps.pack else [every[c:c + 1] for c in range(n_comp)]
        return units, [_Call(g, 0, None, 0) for g in range(len(units))]
    anneals = caps.solve_settings and "num_sweeps" in sampler.parameters
    large = sizes >= config.large_component if anneals else np.zeros(n_comp, dtype=bool)
    groups: list[np.ndarray] = []
    calls: list[_Call] = []
    for is_large, reads, sweeps in ((True, config.large_num_reads, config.large_num_sweeps),
                                    (False, config.num_reads, None)):
        comps = every[large == is_large]
        if not len(comps):
            continue
        split = _balanced_groups(comps, weight, READ_CALLS) if caps.pack else None
        if split is not None:
            calls += [_Call(len(groups) + k, reads, sweeps, 0) for k in range(len(split))]
            groups += split
            continue
        # One component outweighs the rest (or the sampler takes one at a time): its reads
        # are split instead.
        for unit in [comps] if caps.pack else [comps[k:k + 1] for k in range(len(comps))]:
            parts = np.array_split(np.arange(reads), min(reads, READ_CALLS))
            calls += [_Call(len(groups), len(p), sweeps, k) for k, p in enumerate(parts)]
            groups.append(unit)
    return groups, calls


def _seed(seed: int, call: int, read: int) -> int:
    state = np.random.SeedSequence(seed, spawn_key=(call, read)).generate_state(1, np.uint32)
    return int(state[0] % 2**31)


def _reads_of(ss: dimod.SampleSet, n: int) -> np.ndarray:
    """The sample set's reads as a (reads, n) 0/1 matrix over local labels 0..n-1."""
    reads = ss.record.sample[:, np.argsort(np.asarray(ss.variables, dtype=np.int64))]
    if reads.shape[1] != n:
        raise SamplerError(f"the sampler answered with {reads.shape[1]} variables, "
                           f"expected {n}")
    return ((reads > 0) if ss.vartype is dimod.SPIN else reads).astype(np.int8)


@njit(cache=True)
def _read_energies(reads, linear, comp, li, lj, quad, edge_comp, n_comp):
    # Per read, each component's energy; one sweep over the variables and couplers, no
    # temporaries the size of the model.
    e = np.zeros((reads.shape[0], n_comp))
    for k in range(reads.shape[0]):
        for v in range(len(linear)):
            if reads[k, v]:
                e[k, comp[v]] += linear[v]
        for q in range(len(quad)):
            if reads[k, li[q]] and reads[k, lj[q]]:
                e[k, edge_comp[q]] += quad[q]
    return e


def _component_energies(qubo: Qubo, variables, local, edges, reads, labels, n_comp):
    """Energy of each component in each read, shape (n_reads, n_comp)."""
    return _read_energies(reads, qubo.linear[variables], labels[variables],
                          local[qubo.irow[edges]], local[qubo.icol[edges]], qubo.quad[edges],
                          labels[qubo.irow[edges]], n_comp)


def solve_qubo(qubo: Qubo, sampler: dimod.Sampler, config: SolveConfig = SolveConfig(),
               progress=None) -> Solution:
    """Solve ``qubo`` with ``sampler``; returns the best read of every connected component.

    ``progress`` (optional) is called with the fraction of the work each finished call did.
    Calls run in worker threads even when there is one, so that the calling thread stays free to
    take a KeyboardInterrupt at once; the calls not yet started are then dropped.
    """
    t0 = time.perf_counter()
    caps = capabilities_of(sampler)
    what = type(sampler).__name__
    n = qubo.num_variables
    n_comp, labels = components(qubo)
    sizes = np.bincount(labels, minlength=n_comp) if n else np.zeros(0, dtype=np.int64)
    largest = int(sizes.max()) if n else 0
    check_size(caps, largest, what)

    edge_comp = labels[qubo.irow] if n else np.zeros(0, dtype=np.int64)
    weight = sizes + np.bincount(edge_comp, minlength=n_comp)
    groups, calls = _plan(sampler, caps, config, sizes, weight) if n else ([], [])
    group_of = np.empty(n_comp, dtype=np.int64)
    for g, comps in enumerate(groups):
        group_of[comps] = g
    of_variable, of_edge = group_of[labels], group_of[edge_comp]
    variables = np.split(np.argsort(of_variable, kind="stable"),
                         np.cumsum(np.bincount(of_variable, minlength=len(groups)))[:-1]) \
        if groups else []
    edges = np.split(np.argsort(of_edge, kind="stable"),
                     np.cumsum(np.bincount(of_edge, minlength=len(groups)))[:-1]) \
        if groups else []
    local = np.empty(n, dtype=np.int64)
    for v in variables:
        local[v] = np.arange(len(v))
    beta_range = config.beta_range or auto_beta_range(qubo)
    # One model per group, shared by its calls (samplers do not modify what they sample).
    bqms = [dimod.BinaryQuadraticModel.from_numpy_vectors(
        qubo.linear[v], (local[qubo.irow[e]], local[qubo.icol[e]], qubo.quad[e]), 0.0,
        dimod.BINARY) for v, e in zip(variables, edges)]
    work = np.array([max(c.reads, 1) * (c.sweeps or config.num_sweeps)
                     * (len(variables[c.group]) + len(edges[c.group])) for c in calls], dtype=float)

    def run(k):
        call = calls[k]
        kwargs = sample_kwargs(sampler, caps, config, beta_range,
                               _seed(config.seed, call.group, call.part))
        if call.reads:
            kwargs["num_reads"] = call.reads
        if call.sweeps is not None and "num_sweeps" in kwargs:
            kwargs["num_sweeps"] = call.sweeps
        ss = sampler.sample(bqms[call.group], **kwargs)
        ss.resolve()
        if progress is not None:
            progress(work[k] / work.sum())
        return ss

    threads = max(1, min(config.threads, len(calls))) if caps.threads else 1
    pool = ThreadPoolExecutor(threads, thread_name_prefix="qtrack-sample")
    # Longest calls first, so that the threads finish together; each call's seed is its own,
    # so the order changes no answer.
    order = np.argsort(-work, kind="stable")
    try:
        finished = list(pool.map(run, order))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    samplesets: list = [None] * len(calls)
    for k, ss in zip(order, finished):
        samplesets[k] = ss

    # Every component takes the read with its lowest energy, from whichever call of its group.
    best = np.full(n_comp, np.inf)
    state = np.zeros(n, dtype=np.int8)
    for call, ss in zip(calls, samplesets):
        v, e, comps = variables[call.group], edges[call.group], groups[call.group]
        rd = _reads_of(ss, len(v))
        energies = _component_energies(qubo, v, local, e, rd, labels, n_comp)[:, comps]
        read = np.argmin(energies, axis=0)
        low = energies[read, np.arange(len(comps))]
        better = np.zeros(n_comp, dtype=bool)
        better[comps[low < best[comps]]] = True
        best[comps] = np.minimum(best[comps], low)
        take = better[labels[v]]
        read_of = np.zeros(n_comp, dtype=np.int64)
        read_of[comps] = read
        state[v[take]] = rd[read_of[labels[v[take]]], local[v[take]]]
    large_groups = {c.group for c in calls if c.sweeps is not None}
    info = {"calls": len(calls), "time_s": time.perf_counter() - t0,
            "large_components": int(sum(len(groups[g]) for g in large_groups))}
    if "beta_range" in sampler.parameters and caps.solve_settings:
        info["beta_range"] = list(beta_range)
    reports = [ss.info["resources"] for ss in samplesets if ss.info.get("resources")]
    if reports:
        from .samplers.dwave.resources import merge_resources

        info["resources"] = merge_resources(reports)
    return Solution(state, qubo.energy(state), samplesets, int(n_comp), largest, info,
                    [variables[c.group] for c in calls])


class ComponentComposite(dimod.ComposedSampler):
    """Any dimod sampler, applied component by component as :func:`solve_qubo` does.

    Returns one read: every component's best. Settings come from a
    :class:`~qtrack.config.SolveConfig`, overridable per call.

    Examples:
        >>> import dimod
        >>> from dwave.samplers import SimulatedAnnealingSampler
        >>> bqm = dimod.BinaryQuadraticModel({0: -1, 1: -1, 2: 1}, {(0, 1): 2}, 0, "BINARY")
        >>> ss = ComponentComposite(SimulatedAnnealingSampler()).sample(bqm, seed=3)
        >>> float(ss.first.energy)
        -1.0
    """

    def __init__(self, child: dimod.Sampler, config: SolveConfig = SolveConfig()):
        self._children = [child]
        self.config = config

    @property
    def children(self):
        return self._children

    @property
    def parameters(self):
        return {name: [] for name in ("num_reads", "num_sweeps", "seed", "beta_range", "threads")}

    @property
    def properties(self):
        return {"child_properties": dict(self.child.properties)}

    def sample(self, bqm, **parameters) -> dimod.SampleSet:
        self.remove_unknown_kwargs(**parameters)
        config = self.config.replace(**parameters) if parameters else self.config
        qubo, labels = Qubo.from_bqm(bqm)
        solution = solve_qubo(qubo, self.child, config)
        values = solution.state
        if bqm.vartype is dimod.SPIN:
            values = 2 * values - 1
        return dimod.SampleSet.from_samples_bqm((values[None, :].astype(np.int8), labels), bqm,
                                                info=solution.info)
