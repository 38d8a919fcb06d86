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
from .memory import check_couplers, check_memory, expected_triplets
from .model.beamspot import estimate_z0_max
from .model.scattering import material_before
from .passes import passes_of, radiation_lengths
from .model.couplers import Model, build_couplers
from .model.doublets import Doublets, build_doublets, graph_of, min_pt_curvature
from .model.qubo import Qubo, build_qubo, save_qubo
from .model.triplets import Triplets, build_triplets
from .samplers import capabilities_of, get_sampler
from .scoring import score_tracks
from .double_hits import collect_double_hits, double_hit_tolerance, merge_parallel_tracks
from .fragments import merge_fragments
from .track_quality import keep_tracks, quality_cut, too_curved
from .tracks import Tracks, build_tracks, concat_tracks, order_along

log = logging.getLogger("qtrack")


@dataclass
class Built:
    """Everything up to the QUBO."""

    event: Event
    config: Config
    #: The luminous region used (``config.beamspot`` with the estimated half-length, if estimated).
    beamspot: BeamSpotConfig
    #: All the first pass's doublets and triplets (None without ``keep_candidates``).
    doublets: Doublets | None
    triplets: Triplets | None
    model: Model
    qubo: Qubo
    timings: dict[str, float] = field(default_factory=dict)
    #: The luminous-region estimate (:func:`qtrack.model.beamspot.estimate_z0_max`), if made.
    region: object = None
    #: The memory cap (GB) every pass's build checks against (None: what the machine has).
    max_memory_gb: float | None = None

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

    def applied(self) -> dict:
        """The values that ran where the config derives them: the luminous region (estimated,
        or the cap when too few segments were found) and every pass's cuts."""
        region = self.region
        out = {"luminous_region": {
            "z0_max_mm": self.beamspot.z0_max,
            "source": ("config" if region is None else
                       "estimated" if region.measured else "cap (too few segments)"),
            "segments": None if region is None else region.segments}}
        out["passes"] = [{
                "min_pt": c.doublets.min_pt,
                "tplet_max_curv": max(c.model.tplet_max_curv,
                                      min_pt_curvature(c.doublets.min_pt, c.doublets.field_tesla)),
                "max_layer_gap": c.doublets.max_layer_gap, "doublet_d0_max": c.beamspot.d0_max,
                "from_beam_line": p.from_beam_line,
                "triplet_d0_floor": c.beamspot.triplet_d0_floor if p.from_beam_line else None,
                "from_luminous_region": p.from_luminous_region,
                "layer_radiation_length": c.model.layer_radiation_length,
                "triplet_radiation_length": c.model.layer_radiation_length
                if p.triplet_radiation_length is None else p.triplet_radiation_length}
            for p, c in ((p, p.config) for p in passes_of(self.config))]
        return out

    def triplet_hit_ids(self) -> np.ndarray:
        t = self.model.triplets
        return self.event.hit_id[np.stack([t.h1, t.h2, t.h3], axis=1)]

    def sizes(self) -> dict:
        m = self.model
        return {"hits": self.event.n_hits, "hits_in_file": len(self.event.hits),
                "luminous_region_z0_max_mm": round(self.beamspot.z0_max, 1),
                "doublets": m.n_doublets, "triplets": m.n_triplets_all,
                "quadruplets": m.n_quadruplets_all, "qubo_variables": self.qubo.num_variables,
                "qubo_quadruplet_couplers": len(m.quad_t1),
                "qubo_conflict_couplers": len(m.conflict_i)}


@dataclass
class Result(Built):
    """A solved event: the QUBO, the sampler's answer, tracks, submission and scores."""

    sampler: str = ""
    sampler_info: dict = field(default_factory=dict)
    solution: Solution | None = None
    tracks: Tracks | None = None
    submission: pd.DataFrame | None = None
    scores: dict | None = None
    #: Per pass: its pT threshold, hits, QUBO size, components, energy and tracks.
    passes: list = field(default_factory=list)

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
            "passes": self.passes,
            "applied": self.applied(),
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
          max_memory_gb: float | None = None, keep_candidates: bool = True) -> Built:
    """Load (if given a path) and build the QUBO of an event (its first pass); without
    ``keep_candidates`` (:func:`solve`, ``qtrack solve``) only the QUBO's triplets are kept (all
    of them are 3 GB at pile-up 400, held under every later pass).

    Once the doublets, and again once the triplets, are counted, stops with
    :class:`~qtrack.memory.OutOfMemory` when the rest would need more memory than the process
    may use (``max_memory_gb`` caps it further); so does every later pass.
    """
    config = config or Config()
    timings: dict[str, float] = {}
    if not isinstance(event, Event):
        with _stage(timings, "load") as st:
            event = load_event(event)
            st["size"] = f"{event.n_hits} hits" + ("" if event.has_truth else ", no truth")
    beamspot, region = config.beamspot, None
    if beamspot.estimate:
        with _stage(timings, "beamspot") as st:
            region = estimate_z0_max(event.x, event.y, event.z, event.layer, event.layers,
                                     beamspot)
            beamspot = beamspot.replace(z0_max=region.z0_max, estimate=False)
            st["size"] = (f"luminous region |z| <= {region.z0_max:.1f} mm, "
                          f"{'measured from' if region.measured else 'the cap: only'} "
                          f"{region.segments} segments")
    first = passes_of(config)[0]
    doublets, triplets, model, qubo = _build_model(
        event.x, event.y, event.z, event.layer, event.layers, first.config, beamspot, timings,
        primaries=first.from_beam_line, name=event.name, max_memory_gb=max_memory_gb,
        tilt=event.tilt, triplet_radiation_length=first.triplet_radiation_length)
    kept = (doublets, triplets) if keep_candidates else (None, None)
    return Built(event, config, beamspot, *kept, model, qubo, timings,
                 region if config.beamspot.estimate else None, max_memory_gb)


def _build_model(x, y, z, layer, layers, config: Config, beamspot: BeamSpotConfig,
                 timings: dict, suffix: str = "", primaries: bool = True, name: str = "",
                 max_memory_gb: float | None = None, tilt: np.ndarray | None = None,
                 triplet_radiation_length: float | None = None):
    """Doublets, triplets, couplers and QUBO of hits given as arrays (one pass); with
    ``primaries`` the triplets must point back to the beam line. ``tilt``: each hit's
    :attr:`~qtrack.event.Event.strip_tilt`; ``triplet_radiation_length``:
    :attr:`qtrack.passes.Pass.triplet_radiation_length`."""
    threads = config.solve.threads
    with _stage(timings, "doublets" + suffix) as st:
        doublets = build_doublets(x, y, z, layer, layers, config.doublets, beamspot, threads)
        st["size"] = f"{len(doublets)} doublets"
    check_memory(name, expected_triplets(len(doublets)), max_memory_gb, expected=True)
    across, along = layers.resolution()
    sigma = across[layer]
    with _stage(timings, "triplets" + suffix) as st:
        x_layer = radiation_lengths(layers, config, triplet_radiation_length)
        before = material_before(x, y, z, layers, x_layer) if primaries else None
        triplets = build_triplets(x, y, z, doublets, config.doublets.max_layer_gap, config.model,
                                  sigma, along[layer], layers.is_disk[layer], threads,
                                  config.doublets.min_pt, config.doublets.field_tesla,
                                  x_layer[layer], before, beamspot.triplet_d0_floor, tilt,
                                  radiation_lengths(layers, config)[layer])
        st["size"] = f"{len(triplets)} triplets"
    check_memory(name, len(triplets), max_memory_gb)
    with _stage(timings, "couplers" + suffix) as st:
        order = graph_of(layers, config.doublets).order[layer]
        model = build_couplers(x, y, order, doublets, triplets, config.model, sigma, threads,
                               along[layer], layers.is_disk[layer], tilt)
        st["size"] = (f"{model.n_quadruplets_all} quadruplets, {model.n_variables} variables kept, "
                      f"{len(model.quad_t1)} quadruplet + {len(model.conflict_i)} conflict couplers")
    check_couplers(name, len(model.quad_t1) + len(model.conflict_i), max_memory_gb)
    with _stage(timings, "qubo" + suffix) as st:
        qubo = build_qubo(x, y, z, model, config.model, beamspot)
        st["size"] = f"{qubo.num_variables} variables, {qubo.num_couplers} couplers"
    return doublets, triplets, model, qubo


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
    built = build(event, config, keep_candidates=False)
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
    free = np.arange(event.n_hits)
    passes, solution, tracks = [], None, None
    plan = passes_of(config)
    for k, tracking_pass in enumerate(plan):
        cfg = tracking_pass.config
        beamspot = built.beamspot.replace(d0_max=cfg.beamspot.d0_max)
        suffix = "" if k == 0 else f"/{k + 1}"
        if k == 0:
            pass_qubo, triplets = qubo, built.model.triplets
        else:
            # Later passes see only the hits no earlier track took (double hits included).
            free = np.flatnonzero(tracks.track_of_hit(event.n_hits) == 0)
            _, _, model, pass_qubo = _build_model(
                event.x[free], event.y[free], event.z[free], event.layer[free], event.layers, cfg,
                beamspot, timings, suffix, tracking_pass.from_beam_line, event.name,
                built.max_memory_gb, event.tilt[free], tracking_pass.triplet_radiation_length)
            triplets = model.triplets
        pass_solution, pass_tracks = _solve_pass(
            pass_qubo, triplets, sampler, cfg, event, free,
            beamspot.z0_max if tracking_pass.from_luminous_region else 0.0, timings, suffix,
            progress, later=k + 1 < len(plan))
        if k == 0:
            solution = pass_solution
        with _stage(timings, "tracks" + suffix) as st:
            tracks = pass_tracks if tracks is None else concat_tracks([tracks, pass_tracks])
            tracks = _double_hits(tracks, event, config.tracks, config.solve.threads)
            st["size"] = f"{len(tracks)} tracks"
        passes.append({"min_pt": cfg.doublets.min_pt,
                       "from_beam_line": tracking_pass.from_beam_line,
                       "from_luminous_region": tracking_pass.from_luminous_region,
                       "d0_max": beamspot.d0_max, "min_hits": cfg.tracks.min_hits,
                       "hits": len(free), "qubo_variables": pass_qubo.num_variables,
                       "qubo_couplers": pass_qubo.num_couplers, "energy": pass_solution.energy,
                       "components": pass_solution.n_components,
                       "largest_component": pass_solution.largest_component,
                       "selected_triplets": int(pass_solution.state.sum()),
                       "tracks": len(pass_tracks)})
    if config.tracks.merge_fragments:
        with _stage(timings, "fragments") as st:
            n, on = len(tracks), len(tracks.hits)
            tracks = merge_fragments(tracks, event.x, event.y, event.z, event.layer, event.layers,
                                     config, min(p.config.doublets.min_pt for p in plan),
                                     built.beamspot.z0_max)
            st["size"] = f"{n - len(tracks)} joined, {len(tracks.hits) - on} hits added"
            # The joined end hits' own double hits were free when the double hits were collected.
            tracks = _double_hits(tracks, event, config.tracks, config.solve.threads)
    with _stage(timings, "submission") as st:
        tid_inside = tracks.track_of_hit(event.n_hits)
        track_id = pd.Series(tid_inside, index=event.hit_id).reindex(
            event.hits.hit_id.to_numpy(), fill_value=0).to_numpy()
        submission = pd.DataFrame({"hit_id": event.hits.hit_id.to_numpy(), "track_id": track_id})
        st["size"] = f"{len(tracks)} tracks"
    scores = None
    if event.has_truth:
        with _stage(timings, "score") as st:
            scores = score_tracks(event.hits, event.truth, track_id, event.particles)
            st["size"] = f"TrackML {scores['trackml_score']:.4f}"
    info = {"class": f"{type(sampler).__module__}.{type(sampler).__qualname__}",
            "capabilities": dataclasses.asdict(capabilities_of(sampler)),
            "properties": dict(getattr(sampler, "properties", {}) or {})}
    return Result(event=event, config=config, beamspot=built.beamspot, doublets=built.doublets,
                  triplets=built.triplets, region=built.region,
                  max_memory_gb=built.max_memory_gb,
                  model=built.model, qubo=qubo, timings=timings,
                  sampler=sampler_name or type(sampler).__name__, sampler_info=info,
                  solution=solution, tracks=tracks, submission=submission, scores=scores,
                  passes=passes)


def _double_hits(tracks: Tracks, event: Event, config, threads: int = 1) -> Tracks:
    """Tracks side by side merged, then the hits on no track next to a track given to it."""
    if not config.double_hits:
        return order_along(tracks, event.r, event.z)
    tolerance, disk = double_hit_tolerance(event.layers), event.layers.is_disk
    tracks = merge_parallel_tracks(tracks, event.x, event.y, event.z, event.layer, tolerance,
                                   config.double_hit_max_along, config.merge_fraction, disk,
                                   threads, event.module)
    # In order along the particle: a hit's direction comes from its neighbours on the track.
    tracks = order_along(tracks, event.r, event.z)
    tracks = collect_double_hits(tracks, event.x, event.y, event.z, event.layer, tolerance,
                                 config.double_hit_max_along, disk, threads, event.module)
    return order_along(tracks, event.r, event.z)


def _solve_pass(qubo: Qubo, triplets, sampler, config: Config, event: Event, hits: np.ndarray,
                z0_max: float, timings: dict, suffix: str, progress: bool, later: bool = False):
    """Solve one pass's QUBO over the event's ``hits`` (indices) and turn the selected triplets
    into quality-cut tracks (meeting the beam line within ``z0_max``, 0 = anywhere), in the
    event's hit indices. With ``later`` passes to come, the tracks that bend clearly more than
    this pass's lowest pT are left to them (:func:`~qtrack.track_quality.too_curved`)."""
    with _stage(timings, "solve" + suffix) as st:
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=1.0, unit="", desc="sampling" + suffix, leave=False,
                       bar_format="{l_bar}{bar}| {elapsed}<{remaining}")
        try:
            solution = solve_qubo(qubo, sampler, config.solve, progress=bar and bar.update)
        finally:
            if bar:
                bar.close()
        st["size"] = (f"{solution.n_components} components (largest {solution.largest_component}), "
                      f"energy {solution.energy:.3f}")
    with _stage(timings, "merge" + suffix) as st:
        tracks = build_tracks(hits[triplets.h1], hits[triplets.h2], hits[triplets.h3],
                              solution.state, event.hit_id, config.tracks, r=event.r, z=event.z,
                              z0_max=z0_max, x=event.x, y=event.y)
        x0 = radiation_lengths(event.layers, config)
        tracks = quality_cut(tracks, event.x, event.y, event.z, event.layer, event.layers,
                             config.tracks, x0, config.doublets.field_tesla)
        if later:
            # Their particle is a later pass's, which finds all of it.
            tracks = order_along(tracks, event.r, event.z)
            steep = too_curved(tracks, event.x, event.y, event.layer, event.layers, event.tilt,
                               x0[event.layer], config)
            tracks = keep_tracks(tracks, ~steep, event.n_hits)
        st["size"] = f"{len(tracks)} tracks"
    return solution, tracks


def write_outputs(result: Result, outdir: str | Path, total_time: float | None = None) -> dict[str, Path]:
    """Write ``<event>-submission.csv`` and ``<event>-summary.json`` atomically."""
    name, outdir = result.event.name, Path(outdir)
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
