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


def auto_beta_range(qubo: Qubo) -> tuple[float, float]:
    """Inverse temperatures scaled to the couplings.

    Hot: a flip that costs the largest single coefficient is accepted half of the time. (Scaling
    to a variable's whole field instead, as dimod does, starts far too hot here: a few triplets
    carry dozens of conflicts.) Cold: the smallest non-zero coefficient is accepted once in a
    hundred.
    """
    coeffs = np.abs(np.concatenate([qubo.linear, qubo.quad]))
    coeffs = coeffs[coeffs > 1e-9]
    if len(coeffs) == 0:
        return (0.1, 10.0)
    hot = np.log(2.0) / coeffs.max()
    cold = np.log(100.0) / coeffs.min()
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


def _balanced_groups(qubo: Qubo, labels: np.ndarray, sizes: np.ndarray, n_groups: int):
    """The variables in ``n_groups`` groups of whole components with about equal numbers of
    variables and couplers (largest component first, each into the lightest group), or None when
    one group would hold over three quarters of them."""
    n_comp = len(sizes)
    if n_comp < n_groups:
        return None
    weight = sizes + np.bincount(labels[qubo.irow], minlength=n_comp)
    load = np.zeros(n_groups)
    group = np.empty(n_comp, dtype=np.int64)
    for c in np.argsort(-weight, kind="stable"):
        g = int(np.argmin(load))
        group[c] = g
        load[g] += weight[c]
    if load.max() > 0.75 * load.sum():
        return None
    of_variable = group[labels]
    return [np.flatnonzero(of_variable == g) for g in range(n_groups)]


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


def _component_energies(qubo: Qubo, variables, local, edges, reads, labels, n_comp):
    """Energy of each component in each read, shape (n_reads, n_comp)."""
    comp = labels[variables]
    lin = reads * qubo.linear[variables][None, :]
    li, lj = local[qubo.irow[edges]], local[qubo.icol[edges]]
    ec = labels[qubo.irow[edges]]
    e = np.zeros((reads.shape[0], n_comp))
    for k in range(reads.shape[0]):
        e[k] = np.bincount(comp, weights=lin[k], minlength=n_comp)
        e[k] += np.bincount(ec, weights=qubo.quad[edges] * reads[k, li] * reads[k, lj],
                            minlength=n_comp)
    return e


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

    reads = config.num_reads if caps.split_reads and "num_reads" in sampler.parameters else 0
    groups = _balanced_groups(qubo, labels, sizes, READ_CALLS) if caps.pack and reads else None
    if groups is not None:
        calls = groups
    elif caps.pack or not n:
        calls = [np.arange(n)] if n else []
    else:
        by_comp = np.argsort(labels, kind="stable")
        calls = np.split(by_comp, np.cumsum(sizes)[:-1])
    local = np.empty(n, dtype=np.int64)
    for variables in calls:
        local[variables] = np.arange(len(variables))
    edge_comp = labels[qubo.irow] if n else np.zeros(0, dtype=np.int64)
    if groups is not None:
        call_of = np.empty(n_comp, dtype=np.int64)
        for k, variables in enumerate(calls):
            call_of[labels[variables]] = k
        by_edge = np.argsort(call_of[edge_comp], kind="stable")
        edges = np.split(by_edge, np.cumsum(np.bincount(call_of[edge_comp],
                                                        minlength=len(calls)))[:-1])
    elif caps.pack:
        edges = [np.arange(len(qubo.irow))] if n else []
    else:
        by_edge = np.argsort(edge_comp, kind="stable")
        edges = np.split(by_edge, np.cumsum(np.bincount(edge_comp, minlength=n_comp))[:-1])
    beta_range = config.beta_range or auto_beta_range(qubo)
    # Reads are split between calls only when the components are not.
    split = reads and groups is None
    parts = [len(p) for p in np.array_split(np.arange(reads), min(reads, READ_CALLS))] if split \
        else [reads]
    tasks = [(k, part) for k in range(len(calls)) for part in range(len(parts))]

    # One model per call group, shared by its reads (samplers do not modify what they sample).
    bqms = [dimod.BinaryQuadraticModel.from_numpy_vectors(
        qubo.linear[v], (local[qubo.irow[e]], local[qubo.icol[e]], qubo.quad[e]), 0.0,
        dimod.BINARY) for v, e in zip(calls, edges)]

    def run(task):
        k, part = task
        variables, bqm = calls[k], bqms[k]
        kwargs = sample_kwargs(sampler, caps, config, beta_range, _seed(config.seed, k, part))
        if reads:
            kwargs["num_reads"] = parts[part]
        ss = sampler.sample(bqm, **kwargs)
        ss.resolve()
        if progress is not None:
            progress(len(variables) / n * (parts[part] / reads if reads else 1.0))
        return ss

    threads = max(1, min(config.threads, len(tasks))) if caps.threads else 1
    pool = ThreadPoolExecutor(threads, thread_name_prefix="qtrack-sample")
    try:
        done = list(pool.map(run, tasks))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    per_call = len(parts)
    samplesets = [dimod.concatenate(done[k * per_call:(k + 1) * per_call]) if per_call > 1
                  else done[k] for k in range(len(calls))]

    state = np.zeros(n, dtype=np.int8)
    for variables, e, ss in zip(calls, edges, samplesets):
        rd = _reads_of(ss, len(variables))
        energies = _component_energies(qubo, variables, local, e, rd, labels, n_comp)
        best = np.argmin(energies, axis=0)
        state[variables] = rd[best[labels[variables]], local[variables]]
    info = {"calls": len(tasks), "time_s": time.perf_counter() - t0}
    if "beta_range" in sampler.parameters and caps.solve_settings:
        info["beta_range"] = list(beta_range)
    reports = [ss.info["resources"] for ss in done if ss.info.get("resources")]
    if reports:
        from .samplers.dwave.resources import merge_resources

        info["resources"] = merge_resources(reports)
    return Solution(state, qubo.energy(state), samplesets, int(n_comp), largest, info,
                    list(calls))


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
