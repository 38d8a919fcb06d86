"""The "decomposed" sampler: a qbsolv-like dwave-hybrid loop per large component."""
from __future__ import annotations

import functools
import math
import time

import dimod
import hybrid
import numpy as np
from dwave.embedding.chain_strength import uniform_torque_compensation

from .credentials import cloud_errors
from .decompose import Subgraph, Graph, plan, triu
from .qpu import (DecomposedQPUSampler, block_descent, check_descent, check_seed,
                  reduced_problem, to_sampleset)
from .resources import Resources

class RecordingSubproblemSampler(hybrid.QPUSubproblemAutoEmbeddingSampler):
    """dwave-hybrid's QPU sub-problem sampler that records each call into a
    :class:`~qtrack.samplers.dwave.resources.Resources` and polishes its reads."""

    def __init__(self, resources: Resources, solver_name: str, polish: bool, **kwargs):
        super().__init__(**kwargs)
        self.resources = resources
        self.solver_name = solver_name
        self.polish = polish

    def next(self, state, **runopts):
        with cloud_errors(self.solver_name):
            out = super().next(state, **runopts)
            ss = out.subsamples
            ss.resolve()
        ctx = ss.info.get("embedding_context", {}) or {}
        emb = ctx.get("embedding")
        self.resources.chain_strength.append(float(ctx.get("chain_strength", 0.0) or 0.0))
        self.resources.record_call(len(state.subproblem), dict(emb) if emb else None, ss)
        if self.polish:  # steepest descent from every read (the usual QPU post-processing)
            from dwave.samplers import SteepestDescentSolver

            ss = SteepestDescentSolver().sample(state.subproblem, initial_states=ss)
            out = out.updated(subsamples=ss)
        return out


class HybridLoopSampler(dimod.Sampler):
    """The "decomposed" sampler: a qbsolv-like dwave-hybrid loop per large component.

    After the exact reductions of the qpu path, components of at most ``subproblem_size``
    variables are packed and solved as in :class:`DecomposedQPUSampler` (one pass); each larger
    component runs ``LoopUntilNoImprovement((Identity, EnergyImpactDecomposer(size, rolling=True,
    traversal="bfs") | QPUSubproblemAutoEmbeddingSampler | SplatComposer) | ArgMin)`` from a
    quick simulated-annealing state, so its energy never rises above that state's. Embeddings
    go through the same embedder. Keywords are fields of :class:`qtrack.config.QPUConfig`.
    """

    parameters = {"num_reads": [], "seed": [], "sweeps": []}  # as DecomposedQPUSampler

    def __init__(self, *, mock: bool = False, profile=None, seed=None, qpu_params=None,
                 client_options=None, embed_workers=2, dry_run=False, **settings):
        settings = {k: v for k, v in settings.items() if v is not None}
        loop_sweeps = settings.pop("loop_sweeps", 2)
        settings["initial_state"] = settings.pop("loop_initial_state", "anneal")
        settings["sweeps"] = 1
        self._inner = DecomposedQPUSampler(
            mock=mock, profile=profile, seed=seed, qpu_params=qpu_params,
            client_options=client_options, embed_workers=embed_workers, dry_run=dry_run,
            label="decomposed", **settings)
        self.sweeps = int(loop_sweeps)

    def offline_report(self, bqm, progress: bool = False) -> dict:
        """A dry run: the loop's sub-problems are chosen at run time, so blocks of the same size
        stand in for them (``"estimated": True``)."""
        return self._inner.offline_report(bqm, estimated=True, progress=progress)

    @property
    def qtrack_capabilities(self):
        return self._inner.qtrack_capabilities

    @property
    def properties(self):
        return dict(self._inner.properties, sweeps=self.sweeps, loop="dwave-hybrid")

    def close(self):
        self._inner.close()

    def sample(self, bqm, num_reads=None, seed=None, sweeps=None, **kwargs):
        self.remove_unknown_kwargs(**kwargs)
        self._inner._qpu.open()  # credentials and connection first

        t0 = time.perf_counter()
        inner = self._inner
        seed = check_seed(inner.seed if seed is None else seed)
        num_reads = int(num_reads or inner.num_reads)
        sweeps = int(self.sweeps if sweeps is None else sweeps)
        size = inner.subproblem_size
        g = Graph(bqm)
        x, rest, core, reduction = reduced_problem(g, inner.settings, seed, inner.initial_state)
        e_init = g.energy(x)
        qpu = inner._qpu
        sampler = qpu.open()
        qpu.reseed(seed)
        cache = qpu.cache
        hits0, misses0, t_emb0, fail0 = cache.hits, cache.misses, cache.time_s, cache.failures
        res = Resources(solver=qpu.solver_name, placeholder_timing=qpu.mock, timing=inner.timing)
        full, xg = g, x  # the whole problem; the loop works on the reduced one
        g, x = core, x[rest].copy()

        comps = g.components()
        small_nodes = np.concatenate([c for c in comps if len(c) <= size] or [np.empty(0, int)])
        large = sorted((np.sort(c) for c in comps if len(c) > size), key=lambda c: int(c[0]))

        # small components: packed QPU calls, as in the qpu path
        small_plan = None
        if len(small_nodes):
            sub_g = Subgraph(g, small_nodes)
            small_plan = plan(sub_g, cache, size, inner.embed_workers, inner.partitions)
            xs = x[small_nodes].copy()
            block_descent(sub_g, qpu, small_plan, xs, res, num_reads, inner.qpu_params, 1)
            x[small_nodes] = xs

        for ci, c in enumerate(large):
            cg_ = Subgraph(g, c)
            cbqm = dimod.BinaryQuadraticModel.from_numpy_vectors(
                cg_.h, triu(cg_), 0.0, dimod.BINARY)
            qsampler = RecordingSubproblemSampler(
                res, qpu.solver_name or "QPU", inner.polish, num_reads=num_reads, qpu_sampler=sampler,
                sampling_params=dict(inner.qpu_params, chain_strength=functools.partial(
                    uniform_torque_compensation, prefactor=qpu.chain_strength_prefactor),
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
            # Cloud errors arrive as SamplerError (see RecordingSubproblemSampler); anything
            # else is a bug and keeps its traceback.
            final = loop.run(state).result()
            best = final.samples.first.sample
            xc = np.asarray([best[i] for i in range(len(c))], dtype=np.int8)
            if cg_.energy(xc) <= cg_.energy(x[c]) + 1e-9:
                x[c] = xc

        xg[rest] = x
        g, x = full, xg
        check_descent(g.energy(x), e_init, "hybrid loop")
        extra = small_plan.summary() if small_plan else {}
        info = {"resources": res.to_dict(
            **reduction,
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
        return to_sampleset(bqm, g, x, info)

