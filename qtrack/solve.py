"""Solve a QUBO with any dimod sampler, one connected component at a time.

Tracking QUBOs fall apart into thousands of independent components. Each is solved on its own in
the sense that matters: its state is taken from whichever read gave *that component* its lowest
energy. Small components are packed into batches so that one sampler call serves many of them
(a call per component would cost more in Python overhead than in annealing).
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import dimod
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .config import SolveConfig
from .errors import SamplerError
from .qubo import Qubo
from .samplers import check_size

log = logging.getLogger(__name__)


@dataclass
class Solution:
    """The selected state and what it took to find it."""

    #: 0/1 per variable: the best read of every component.
    state: np.ndarray
    energy: float
    #: All reads of every batch, as dimod returned them (one SampleSet per batch).
    samplesets: list[dimod.SampleSet]
    n_components: int
    largest_component: int
    info: dict = field(default_factory=dict)

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
    n = qubo.num_variables
    graph = coo_matrix((np.ones(len(qubo.irow)), (qubo.irow, qubo.icol)), shape=(n, n))
    return connected_components(graph, directed=False)


def _batches(labels: np.ndarray, n_comp: int, batch_size: int) -> list[np.ndarray]:
    """Group components (largest first) into variable-index batches of at most ``batch_size``."""
    sizes = np.bincount(labels, minlength=n_comp)
    by_comp = np.argsort(labels, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)])
    batches, current, filled = [], [], 0
    for c in np.argsort(-sizes, kind="stable"):
        if current and filled + sizes[c] > batch_size:
            batches.append(np.concatenate(current))
            current, filled = [], 0
        current.append(by_comp[starts[c]:starts[c + 1]])
        filled += sizes[c]
    if current:
        batches.append(np.concatenate(current))
    return [np.sort(b) for b in batches]


def _batch_edges(qubo: Qubo, variables: np.ndarray) -> np.ndarray:
    """Indices of the couplers inside a batch (couplers never cross components)."""
    mask = np.zeros(qubo.num_variables, dtype=bool)
    mask[variables] = True
    return np.flatnonzero(mask[qubo.irow])


def _sub_bqm(qubo: Qubo, variables, local, edges) -> dimod.BinaryQuadraticModel:
    return dimod.BinaryQuadraticModel.from_numpy_vectors(
        qubo.linear[variables], (local[qubo.irow[edges]], local[qubo.icol[edges]], qubo.quad[edges]),
        0.0, dimod.BINARY,
    )


def _component_energies(qubo: Qubo, variables, local, edges, reads, labels, n_comp):
    """Energy of each component in each read, shape (n_reads, n_comp)."""
    comp = labels[variables]
    e = np.zeros((reads.shape[0], n_comp))
    lin = reads * qubo.linear[variables][None, :]
    li, lj = local[qubo.irow[edges]], local[qubo.icol[edges]]
    ec = labels[qubo.irow[edges]]
    for k in range(reads.shape[0]):
        e[k] = np.bincount(comp, weights=lin[k], minlength=n_comp)
        e[k] += np.bincount(ec, weights=qubo.quad[edges] * reads[k, li] * reads[k, lj], minlength=n_comp)
    return e


def sample_kwargs(sampler: dimod.Sampler, config: SolveConfig, beta_range, seed: int) -> dict:
    """The solve settings this sampler understands (per dimod's ``sampler.parameters``)."""
    wanted = {"num_reads": config.num_reads, "num_sweeps": config.num_sweeps,
              "beta_range": beta_range, "seed": seed}
    if "beta_schedule_type" in sampler.parameters:
        wanted["beta_schedule_type"] = "geometric"
    if "num_restarts" in sampler.parameters and "timeout" in sampler.parameters:
        # Tabu: stop after a fixed number of restarts, not on its 100 ms default timeout, which
        # leaves large components far from converged and makes results depend on machine speed.
        wanted.update(num_restarts=2, timeout=600_000)
    return {k: v for k, v in wanted.items() if k in sampler.parameters}


def solve_qubo(qubo: Qubo, sampler: dimod.Sampler, config: SolveConfig = SolveConfig(),
               sampler_name: str | None = None, progress=None) -> Solution:
    """Solve ``qubo`` with ``sampler``; returns the best read of every connected component.

    Every sampler call gets a seed spawned from ``config.seed``, so results do not depend on
    thread timing or on the process. ``progress`` (optional) is called with the number of
    variables solved each time a call returns.
    """
    t0 = time.perf_counter()
    n = qubo.num_variables
    n_comp, labels = components(qubo)
    sizes = np.bincount(labels, minlength=n_comp) if n else np.zeros(0, dtype=int)
    largest = int(sizes.max()) if n else 0
    check_size(sampler_name, largest)
    batch_size = config.batch_size
    if sampler_name in ("exact", "tabu"):
        # Their cost grows as 2^n or n^2 per call: packing components together only hurts.
        batch_size = 1
    batches = _batches(labels, n_comp, max(batch_size, 1)) if n else []
    beta_range = config.beta_range or auto_beta_range(qubo)
    local = np.empty(n, dtype=np.int64)
    for b in batches:
        local[b] = np.arange(len(b))
    edges = [_batch_edges(qubo, b) for b in batches]
    bqms = [_sub_bqm(qubo, b, local, e) for b, e in zip(batches, edges)]

    # Local samplers release the GIL: split each batch's reads over the threads. The split depends
    # only on the config, and every task gets its own seed, so thread timing never shows.
    local_sampler = sampler_name in ("neal", "steepest", "sb")
    threads = max(1, config.threads) if local_sampler else 1
    chunks = np.array_split(np.arange(config.num_reads), min(threads, config.num_reads))
    chunks = [len(c) for c in chunks if len(c)] if "num_reads" in sampler.parameters else [None]
    tasks = [(k, c) for k in range(len(batches)) for c in chunks]
    seeds = np.random.SeedSequence(config.seed).generate_state(max(len(tasks), 1), dtype=np.uint32)

    def run(task):
        k, reads = tasks[task]
        variables, bqm = batches[k], bqms[k]
        kwargs = sample_kwargs(sampler, config, beta_range, int(seeds[task] % 2**31))
        if reads is not None:
            kwargs["num_reads"] = reads
        try:
            ss = sampler.sample(bqm, **kwargs)
            ss.resolve()
        except dimod.exceptions.BinaryQuadraticModelStructureError as exc:
            raise SamplerError(f"sampler {sampler_name or type(sampler).__name__}: {exc}") from None
        if progress is not None:
            progress(len(variables) / len(chunks))
        return ss

    with ThreadPoolExecutor(min(threads, max(len(tasks), 1))) as pool:
        done = list(pool.map(run, range(len(tasks))))
    # concatenate() drops info, where hardware samplers put their resource report.
    reports = [ss.info["resources"] for ss in done if ss.info.get("resources")]
    samplesets = [dimod.concatenate(done[k * len(chunks):(k + 1) * len(chunks)])
                  for k in range(len(batches))]

    state = np.zeros(n, dtype=np.int8)
    for variables, batch_edges, ss in zip(batches, edges, samplesets):
        reads = ss.record.sample[:, np.argsort(np.asarray(ss.variables, dtype=np.int64))]
        reads = ((reads > 0) if ss.vartype is dimod.SPIN else reads).astype(np.int8)
        e = _component_energies(qubo, variables, local, batch_edges, reads, labels, n_comp)
        best = np.argmin(e, axis=0)
        state[variables] = reads[best[labels[variables]], local[variables]]
    energy = float(qubo.linear @ state + np.sum(qubo.quad * state[qubo.irow] * state[qubo.icol]))
    info = {"batches": len(batches), "time_s": time.perf_counter() - t0}
    if "beta_range" in sampler.parameters:
        info["beta_range"] = list(beta_range)
    if reports:
        from .hardware import merge_resources

        info["resources"] = merge_resources(reports)
    return Solution(state, energy, samplesets, int(n_comp), largest, info)
