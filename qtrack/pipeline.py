"""The pipeline: event -> doublets -> triplets -> couplers -> QUBO -> solve -> tracks -> scores.

Every stage is a function of arrays and a config section (:mod:`qtrack.event`,
:mod:`qtrack.model`, :mod:`qtrack.components`, :mod:`qtrack.samplers`, :mod:`qtrack.tracks`,
:mod:`qtrack.scoring`); this module only chains them, times them and logs one line per stage. The
CLI and the Python API both call :func:`build` and :func:`solve_built`.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import platform
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dimod
import numpy as np
import pandas as pd

from . import __version__
from .components import Solution, solve_qubo
from .config import BeamSpotConfig, Config
from .errors import QtrackError
from .event import Event, load_event
from .io import jsonable, write_csv, write_json
from .memory import check_memory, expected_triplets
from .model.beamspot import estimate_z0_max
from .model.couplers import Model, build_couplers
from .model.doublets import Doublets, build_doublets, graph_of
from .model.qubo import Qubo, build_qubo, save_qubo
from .model.triplets import Triplets, build_triplets
from .samplers import capabilities_of, get_sampler
from .scoring import score_tracks
from .double_hits import collect_double_hits, double_hit_tolerance, merge_parallel_tracks
from .track_quality import quality_cut
from .tracks import Tracks, build_tracks

log = logging.getLogger("qtrack")


@dataclass
class Built:
    """Everything up to the QUBO."""

    event: Event
    config: Config
    #: The luminous region used (``config.beamspot`` with the estimated half-length, if estimated).
    beamspot: BeamSpotConfig
    doublets: Doublets
    triplets: Triplets
    model: Model
    qubo: Qubo
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def bqm(self) -> dimod.BinaryQuadraticModel:
        """The QUBO as a dimod model (variables = indices into ``model.triplets``).

        Made on first use and kept: change its biases in place (``built.bqm.set_linear(7, -0.5)``)
        and :func:`solve_built` solves the changed model. Or give a new :class:`Qubo` with
        :meth:`with_qubo`.
        """
        if "_bqm" not in self.__dict__:
            self.__dict__["_bqm"] = self.qubo.to_bqm()
        return self.__dict__["_bqm"]

    def current_qubo(self) -> Qubo:
        """The QUBO to solve: :attr:`qubo`, or :attr:`bqm` as it stands if it was touched."""
        bqm = self.__dict__.get("_bqm")
        if bqm is None:
            return self.qubo
        n = self.qubo.num_variables
        if bqm.num_variables != n or set(bqm.variables) != set(range(n)):
            raise QtrackError(f"built.bqm must keep the variables 0..{n - 1} (one per triplet); "
                              f"it has {bqm.num_variables}")
        qubo, labels = Qubo.from_bqm(bqm)
        label = np.asarray(labels, dtype=np.int64)
        linear = np.empty(n)
        linear[label] = qubo.linear
        return Qubo(linear, label[qubo.irow], label[qubo.icol], qubo.quad)

    def with_qubo(self, qubo: Qubo) -> "Built":
        """A copy that solves ``qubo`` (same variables, other weights)."""
        if qubo.num_variables != self.qubo.num_variables:
            raise QtrackError(f"the new QUBO has {qubo.num_variables} variables, expected "
                              f"{self.qubo.num_variables} (one per triplet)")
        return dataclasses.replace(self, qubo=qubo)

    def triplet_hit_ids(self) -> np.ndarray:
        t = self.model.triplets
        return self.event.hit_id[np.stack([t.h1, t.h2, t.h3], axis=1)]

    def sizes(self) -> dict:
        return {
            "hits": self.event.n_hits,
            "hits_in_file": len(self.event.hits),
            "luminous_region_z0_max_mm": round(self.beamspot.z0_max, 1),
            "doublets": len(self.doublets),
            "triplets": self.model.n_triplets_all,
            "quadruplets": self.model.n_quadruplets_all,
            "qubo_variables": self.qubo.num_variables,
            "qubo_quadruplet_couplers": len(self.model.quad_t1),
            "qubo_conflict_couplers": len(self.model.conflict_i),
        }


@dataclass
class Result(Built):
    """A solved event: the QUBO, the sampler's answer, tracks, submission and scores."""

    sampler: str = ""
    sampler_info: dict = field(default_factory=dict)
    solution: Solution | None = None
    tracks: Tracks | None = None
    submission: pd.DataFrame | None = None
    scores: dict | None = None

    @property
    def sampleset(self) -> dimod.SampleSet:
        """The selected state (best read per component) as a one-row SampleSet."""
        return self.solution.to_sampleset()

    def summary(self) -> dict:
        return jsonable({
            "event": self.event.name,
            "event_path": str(self.event.prefix),
            "qtrack_version": __version__,
            "sampler": self.sampler,
            "sampler_info": self.sampler_info,
            "seed": self.config.solve.seed,
            "sizes": self.sizes() | {
                "components": self.solution.n_components,
                "largest_component": self.solution.largest_component,
                "selected_triplets": int(self.solution.state.sum()),
                "tracks": len(self.tracks),
            },
            "energy": self.solution.energy,
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
            "scores": self.scores,
            "solver_info": self.solution.info,
            "config": self.config.to_dict(),
            "machine": {"python": platform.python_version(), "platform": platform.platform(),
                        "cpus": os.cpu_count()},
        })


@contextmanager
def _stage(timings: dict, name: str):
    t0 = time.perf_counter()
    out = {}
    yield out
    timings[name] = time.perf_counter() - t0
    what = f" ({out['size']})" if "size" in out else ""
    log.info("%-9s %7.3f s%s", name, timings[name], what)


def build(event: Event | str | Path, config: Config | None = None,
          max_memory_gb: float | None = None) -> Built:
    """Load (if given a path) and build the QUBO of an event.

    Once the doublets, and again once the triplets, are counted, stops with
    :class:`~qtrack.memory.OutOfMemory` when the rest would need more memory than the process
    may use (``max_memory_gb`` caps it further).
    """
    config = config or Config()
    timings: dict[str, float] = {}
    if not isinstance(event, Event):
        with _stage(timings, "load") as st:
            event = load_event(event)
            st["size"] = f"{event.n_hits} hits" + ("" if event.has_truth else ", no truth")
    x, y, z = event.x, event.y, event.z
    beamspot = config.beamspot
    if beamspot.estimate:
        with _stage(timings, "beamspot") as st:
            half = estimate_z0_max(x, y, z, event.layer, event.layers, beamspot)
            beamspot = beamspot.replace(z0_max=half, estimate=False)
            st["size"] = f"luminous region |z| <= {half:.1f} mm"
    threads = config.solve.threads
    with _stage(timings, "doublets") as st:
        doublets = build_doublets(x, y, z, event.layer, event.layers, config.doublets, beamspot,
                                  threads)
        st["size"] = f"{len(doublets)} doublets"
    check_memory(event.name, expected_triplets(len(doublets)), max_memory_gb, expected=True)
    across, along = event.layers.resolution()
    sigma = across[event.layer]
    with _stage(timings, "triplets") as st:
        triplets = build_triplets(x, y, z, doublets, config.doublets.max_layer_gap, config.model,
                                  sigma, along[event.layer], event.layers.is_disk[event.layer],
                                  threads, config.doublets.min_pt, config.doublets.field_tesla)
        st["size"] = f"{len(triplets)} triplets"
    check_memory(event.name, len(triplets), max_memory_gb)
    with _stage(timings, "couplers") as st:
        order = graph_of(event.layers, config.doublets).order[event.layer]
        model = build_couplers(x, y, order, doublets, triplets, config.model, sigma, threads)
        st["size"] = (f"{model.n_quadruplets_all} quadruplets, {model.n_variables} variables kept, "
                      f"{len(model.quad_t1)} quadruplet + {len(model.conflict_i)} conflict couplers")
    with _stage(timings, "qubo") as st:
        qubo = build_qubo(x, y, z, model, config.model, beamspot)
        st["size"] = f"{qubo.num_variables} variables, {qubo.num_couplers} couplers"
    return Built(event, config, beamspot, doublets, triplets, model, qubo, timings)


def solve(event: Event | str | Path, sampler: str | dimod.Sampler = "neal",
          config: Config | None = None, *, seed: int | None = None, progress: bool = False,
          profile: str | None = None, **settings) -> Result:
    """Find the tracks of an event.

    Parameters
    ----------
    event
        An :class:`~qtrack.event.Event` or a path (prefix, hits file or directory).
    sampler
        A name from ``qtrack samplers`` or any ``dimod.Sampler`` instance.
    config
        All settings (:class:`~qtrack.config.Config`; defaults when ``None``).
    seed
        Seed of every random choice (``config.solve.seed``): the same seed gives the same tracks.
    progress
        Show a progress bar while sampling.
    profile
        D-Wave configuration profile (D-Wave samplers only).
    settings
        Any config field by name, e.g. ``num_reads=8`` or ``min_pt=0.9`` (see
        :meth:`~qtrack.config.Config.with_settings`).

    Examples
    --------
    >>> import qtrack
    >>> result = qtrack.solve("data/event000001000", sampler="neal", seed=1)  # doctest: +SKIP
    >>> round(result.scores["trackml_score"], 3)                              # doctest: +SKIP
    0.922
    """
    config = (config or Config()).with_settings(**settings)
    if seed is not None:
        config = config.replace(solve={"seed": seed})
    name = sampler if isinstance(sampler, str) else None
    if name is not None:
        sampler = get_sampler(name, config, profile=profile)
    built = build(event, config)
    return solve_built(built, sampler, name, progress=progress)


def solve_built(built: Built, sampler: str | dimod.Sampler = "neal",
                sampler_name: str | None = None, progress: bool = False) -> Result:
    """Solve an already built QUBO and score the tracks.

    To solve with other weights, change ``built.bqm`` in place or pass ``built.with_qubo(q)``.
    """
    event, config, timings = built.event, built.config, dict(built.timings)
    if isinstance(sampler, str):
        sampler_name, sampler = sampler, get_sampler(sampler, config)
    qubo = built.current_qubo()
    with _stage(timings, "solve") as st:
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=1.0, unit="", desc="sampling", leave=False,
                       bar_format="{l_bar}{bar}| {elapsed}<{remaining}")
        try:
            solution = solve_qubo(qubo, sampler, config.solve,
                                  progress=bar.update if bar else None)
        finally:
            if bar:
                bar.close()
        st["size"] = (f"{solution.n_components} components (largest {solution.largest_component}), "
                      f"energy {solution.energy:.3f}")
    t = built.model.triplets
    with _stage(timings, "tracks") as st:
        tracks = build_tracks(t.h1, t.h2, t.h3, solution.state, event.hit_id, config.tracks,
                              r=event.r, z=event.z, z0_max=built.beamspot.z0_max)
        tracks = quality_cut(tracks, event.x, event.y, event.z, event.layer, event.layers,
                             config.tracks)
        if config.tracks.double_hits:
            tolerance = double_hit_tolerance(event.layers)
            tracks = merge_parallel_tracks(tracks, event.x, event.y, event.z, event.layer,
                                           tolerance, config.tracks.double_hit_max_along,
                                           config.tracks.merge_fraction)
            tracks = collect_double_hits(tracks, event.x, event.y, event.z, event.layer,
                                         tolerance, config.tracks.double_hit_max_along)
        tid_inside = tracks.track_of_hit(event.n_hits)
        track_id = pd.Series(tid_inside, index=event.hit_id).reindex(
            event.hits.hit_id.to_numpy(), fill_value=0).to_numpy()
        submission = pd.DataFrame({"hit_id": event.hits.hit_id.to_numpy(), "track_id": track_id})
        st["size"] = f"{len(tracks)} tracks"
    scores = None
    if event.has_truth:
        with _stage(timings, "score") as st:
            found = event.hit_id[np.stack([tracks.doublet_inner, tracks.doublet_outer], axis=1)]
            scores = score_tracks(event.hits, event.truth, track_id, found, event.particles)
            st["size"] = f"TrackML {scores['trackml_score']:.4f}"
    info = {"class": f"{type(sampler).__module__}.{type(sampler).__qualname__}",
            "capabilities": dataclasses.asdict(capabilities_of(sampler)),
            "properties": dict(getattr(sampler, "properties", {}) or {})}
    return Result(event=event, config=config, beamspot=built.beamspot, doublets=built.doublets,
                  triplets=built.triplets,
                  model=built.model, qubo=qubo, timings=timings,
                  sampler=sampler_name or type(sampler).__name__, sampler_info=info,
                  solution=solution, tracks=tracks, submission=submission, scores=scores)


def write_outputs(result: Result, outdir: str | Path, total_time: float | None = None) -> dict[str, Path]:
    """Write ``<event>-submission.csv`` and ``<event>-summary.json`` atomically."""
    outdir = Path(outdir)
    name = result.event.name
    paths = {"submission": outdir / f"{name}-submission.csv", "summary": outdir / f"{name}-summary.json"}
    summary = result.summary()
    if total_time is not None:
        summary["timings_s"]["total"] = round(total_time, 4)
    summary["submission"] = paths["submission"].name
    write_csv(paths["submission"], result.submission)
    write_json(paths["summary"], summary)
    return paths


def write_qubo(built: Built, outdir: str | Path) -> Path:
    return save_qubo(Path(outdir) / f"{built.event.name}-qubo.npz", built.current_qubo(),
                     built.triplet_hit_ids())
