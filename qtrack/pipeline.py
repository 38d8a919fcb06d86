"""The pipeline: event -> doublets -> triplets -> model -> QUBO -> solve -> tracks -> scores.

Every stage is a function of arrays and a config section (modules named after the stages); this
module only chains them, times them and logs one line per stage. The CLI and the Python API both
call :func:`solve`.
"""
from __future__ import annotations

import json
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
from .config import Config
from .detector import layer_rank
from .doublets import Doublets, build_doublets
from .event import Event, load_event
from .io import atomic_open
from .qubo import Qubo, build_qubo, save_qubo
from .samplers import get_sampler
from .scoring import doublet_scores, trackml_score, track_rates, true_doublets
from .solve import Solution, solve_qubo
from .tracks import Tracks, build_tracks
from .triplets import Model, Triplets, build_model, build_triplets

log = logging.getLogger("qtrack")


@dataclass
class Built:
    """Everything up to the QUBO."""

    event: Event
    config: Config
    doublets: Doublets
    triplets: Triplets
    model: Model
    qubo: Qubo
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def bqm(self) -> dimod.BinaryQuadraticModel:
        """The QUBO as a dimod model (variables = indices into ``model.triplets``)."""
        return self.qubo.to_bqm()

    def triplet_hit_ids(self) -> np.ndarray:
        t = self.model.triplets
        return self.event.hit_id[np.stack([t.h1, t.h2, t.h3], axis=1)]

    def sizes(self) -> dict:
        return {
            "hits": self.event.n_hits,
            "hits_in_file": len(self.event.hits),
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
    solution: Solution | None = None
    tracks: Tracks | None = None
    submission: pd.DataFrame | None = None
    scores: dict | None = None

    @property
    def sampleset(self) -> dimod.SampleSet:
        """The selected state (best read per component) as a one-row SampleSet."""
        return self.solution.to_sampleset()

    def summary(self) -> dict:
        s = {
            "event": self.event.name,
            "event_path": str(self.event.prefix),
            "qtrack_version": __version__,
            "sampler": self.sampler,
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
            "solver_info": _jsonable(self.solution.info),
            "config": self.config.to_dict(),
            "machine": {"python": platform.python_version(), "platform": platform.platform(),
                        "cpus": os.cpu_count()},
        }
        return s


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


@contextmanager
def _stage(timings: dict, name: str, size=None):
    t0 = time.perf_counter()
    out = {}
    yield out
    timings[name] = time.perf_counter() - t0
    what = f" ({out['size']})" if "size" in out else ""
    log.info("%-9s %7.3f s%s", name, timings[name], what)


def build(event: Event | str | Path, config: Config = Config()) -> Built:
    """Load (if given a path) and build the QUBO of an event."""
    timings: dict[str, float] = {}
    if not isinstance(event, Event):
        with _stage(timings, "load") as st:
            event = load_event(event)
            st["size"] = f"{event.n_hits} hits" + ("" if event.has_truth else ", no truth")
    x, y, z = event.x, event.y, event.z
    rank = layer_rank(event.layers)[event.layer]
    with _stage(timings, "doublets") as st:
        doublets = build_doublets(x, y, z, event.layer, event.layers, config.doublets)
        st["size"] = f"{len(doublets)} doublets"
    with _stage(timings, "triplets") as st:
        triplets = build_triplets(x, y, z, rank, doublets, config.doublets.max_layer_gap, config.model)
        st["size"] = f"{len(triplets)} triplets"
    with _stage(timings, "model") as st:
        model = build_model(x, y, z, rank, doublets, triplets, config.model)
        st["size"] = (f"{model.n_quadruplets_all} quadruplets, {model.n_variables} variables kept, "
                      f"{len(model.quad_t1)} quadruplet + {len(model.conflict_i)} conflict couplers")
    with _stage(timings, "qubo") as st:
        qubo = build_qubo(x, y, z, model, config.model)
        st["size"] = f"{qubo.num_variables} variables, {qubo.num_couplers} couplers"
    return Built(event, config, doublets, triplets, model, qubo, timings)


def score(event: Event, tracks: Tracks, track_id: np.ndarray) -> dict:
    """Scores of the tracks against the event's truth (see :mod:`qtrack.scoring`)."""
    truth = event.truth
    hid = event.hits.hit_id.to_numpy()
    pid, w = truth.particle_id.to_numpy(), truth.weight.to_numpy()
    r = np.hypot(event.hits.x.to_numpy(), event.hits.y.to_numpy())
    focused, unfocused = true_doublets(hid, r, pid, w)
    found = event.hit_id[np.stack([tracks.doublet_inner, tracks.doublet_outer], axis=1)]
    out = {"trackml_score": trackml_score(hid, pid, w, hid, track_id)}
    out.update(doublet_scores(found, focused, unfocused))
    out.update(track_rates(track_id, pid, w))
    return out


def solve(event: Event | str | Path, sampler: str | dimod.Sampler = "neal",
          config: Config = Config(), sampler_options: dict | None = None,
          progress: bool = False) -> Result:
    """Find the tracks of an event.

    Parameters
    ----------
    event
        An :class:`~qtrack.event.Event` or a path (prefix, hits file or directory).
    sampler
        A name from ``qtrack samplers`` or any ``dimod.Sampler`` instance.
    config
        All settings; ``config.solve.seed`` makes the result reproducible.
    sampler_options
        Passed to the named sampler's factory (hardware samplers: profile, sub-problem size...).
    progress
        Show a progress bar while sampling.
    """
    if isinstance(sampler, str):
        name = sampler
        sampler = get_sampler(name, **(sampler_options or {}))
    else:
        name = None
    built = build(event, config)
    return solve_built(built, sampler, name, progress=progress)


def solve_built(built: Built, sampler: dimod.Sampler, sampler_name: str | None = None,
                progress: bool = False) -> Result:
    """Solve an already built QUBO (e.g. after changing its weights) and score the tracks."""
    event, config, timings = built.event, built.config, dict(built.timings)
    with _stage(timings, "solve") as st:
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=built.qubo.num_variables, unit="var", desc="sampling", leave=False)
        solution = solve_qubo(built.qubo, sampler, config.solve, sampler_name,
                              progress=bar.update if bar else None)
        if bar:
            bar.close()
        st["size"] = (f"{solution.n_components} components (largest {solution.largest_component}), "
                      f"energy {solution.energy:.3f}")
    t = built.model.triplets
    with _stage(timings, "tracks") as st:
        tracks = build_tracks(t.h1, t.h2, t.h3, solution.state, event.hit_id, config.tracks,
                              r=event.r, z=event.z)
        tid_inside = tracks.track_of_hit(event.n_hits)
        track_id = pd.Series(tid_inside, index=event.hit_id).reindex(
            event.hits.hit_id.to_numpy(), fill_value=0).to_numpy()
        submission = pd.DataFrame({"hit_id": event.hits.hit_id.to_numpy(), "track_id": track_id})
        st["size"] = f"{len(tracks)} tracks"
    scores = None
    if event.has_truth:
        with _stage(timings, "score") as st:
            scores = score(event, tracks, track_id)
            st["size"] = f"TrackML {scores['trackml_score']:.4f}"
    return Result(event=event, config=config, doublets=built.doublets, triplets=built.triplets,
                  model=built.model, qubo=built.qubo, timings=timings,
                  sampler=sampler_name or type(sampler).__name__, solution=solution,
                  tracks=tracks, submission=submission, scores=scores)


def write_outputs(result: Result, outdir: str | Path, total_time: float | None = None) -> dict[str, Path]:
    """Write ``<event>-submission.csv`` and ``<event>-summary.json`` atomically."""
    outdir = Path(outdir)
    name = result.event.name
    paths = {"submission": outdir / f"{name}-submission.csv", "summary": outdir / f"{name}-summary.json"}
    summary = result.summary()
    if total_time is not None:
        summary["timings_s"]["total"] = round(total_time, 4)
    summary["submission"] = paths["submission"].name
    with atomic_open(paths["submission"], newline="") as f:
        result.submission.to_csv(f, index=False)
    with atomic_open(paths["summary"]) as f:
        json.dump(summary, f, indent=2)
    return paths


def write_qubo(built: Built, outdir: str | Path) -> Path:
    return save_qubo(Path(outdir) / f"{built.event.name}-qubo.npz", built.qubo, built.triplet_hit_ids())
