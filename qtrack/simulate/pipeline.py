"""A simulation run: events through generate -> Fatras -> digitise -> truth -> files.

:func:`simulate_event` makes one event's TrackML tables; :func:`run` makes many, serially or in
worker processes (each builds the detector once), and writes the files and a run record. Event k
depends only on (config, k), so any split over workers gives the same files.
"""
from __future__ import annotations

import json
import logging
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import QtrackError
from ..io import atomic_open, check_writable
from .config import SimulationConfig
from .digitize import digitize
from .generate import STREAM_DIGITS, generate_event, stream
from .weights import truth_weights
from .write import event_name, write_detectors, write_event

log = logging.getLogger("qtrack")

#: TrackML's particle id layout (trackml-library's decode_particle_id): vertex, primary
#: particle, generation, secondary particle, and in the last field ACTS's secondary vertex.
_ID_FIELDS = ((52, 11), (36, 16), (24, 12), (12, 12), (0, 12))
_BARCODE_TO_FIELD = (0, 2, 3, 4, 1)  # barcode columns: vp, vs, particle, generation, sub-particle


def encode_particle_id(barcode: np.ndarray) -> np.ndarray:
    """int64 TrackML-style ids from ACTS barcodes (n, 5)."""
    pid = np.zeros(len(barcode), np.int64)
    for (shift, bits), column in zip(_ID_FIELDS, _BARCODE_TO_FIELD):
        values = barcode[:, column].astype(np.int64)
        if len(values) and (values.min() < 0 or values.max() >= 1 << bits):
            raise RuntimeError(f"barcode field {column} out of the {bits}-bit particle id range")
        pid |= values << shift
    return pid


@dataclass
class EventTables:
    hits: pd.DataFrame
    truth: pd.DataFrame
    particles: pd.DataFrame
    stats: dict = field(default_factory=dict)


def simulate_event(detector, cfg: SimulationConfig, event: int) -> EventTables:
    """One event's TrackML hits, truth and particles tables, and per-stage timings (s)."""
    timings = {}
    t = time.perf_counter()
    generated = generate_event(cfg, event)
    timings["generate"] = time.perf_counter() - t

    t = time.perf_counter()
    sim_hits, sim_particles = detector.simulate(generated, event)
    timings["fatras"] = time.perf_counter() - t

    t = time.perf_counter()
    modules = detector.modules
    measured = digitize(sim_hits, modules, cfg.noise_fraction, np.random.default_rng(stream(cfg, event, STREAM_DIGITS)))
    timings["digitize"] = time.perf_counter() - t

    t = time.perf_counter()
    n, n_signal = len(measured.module), measured.n_signal
    hit_particle = np.zeros(n, np.int64)
    hit_particle[:n_signal] = encode_particle_id(sim_hits.barcode)
    true_pos = measured.pos.copy()
    true_pos[:n_signal] = sim_hits.pos
    true_p = np.zeros((n, 3))
    true_p[:n_signal] = sim_hits.p

    # Deterministic hit ids: by volume, layer, module, then position.
    rows = measured.module
    volume, layer, module = modules.volume[rows], modules.layer[rows], modules.module[rows]
    order = np.lexsort((measured.pos[:, 2], measured.pos[:, 1], measured.pos[:, 0], module, layer, volume))
    hit_id = np.arange(1, n + 1, dtype=np.int64)

    particle_id = encode_particle_id(sim_particles.barcode)
    ids, counts = np.unique(hit_particle[:n_signal], return_counts=True)
    nhits = np.zeros(len(particle_id), np.int64)
    found = np.searchsorted(ids, particle_id).clip(max=max(len(ids) - 1, 0))
    has = len(ids) > 0 and (ids[found] == particle_id)
    nhits[has] = counts[found[has]]
    # Primaries always; secondaries only when they left hits (TrackML lists particles with hits).
    keep = (sim_particles.barcode[:, 3] == 0) | (nhits > 0)
    p_order = np.argsort(particle_id[keep], kind="stable")
    sel = np.flatnonzero(keep)[p_order]
    particles = pd.DataFrame({
        "particle_id": particle_id[sel],
        "vx": sim_particles.pos[sel, 0], "vy": sim_particles.pos[sel, 1], "vz": sim_particles.pos[sel, 2],
        "px": sim_particles.p[sel, 0], "py": sim_particles.p[sel, 1], "pz": sim_particles.p[sel, 2],
        "q": sim_particles.charge[sel], "nhits": nhits[sel],
    })
    weight = truth_weights(hit_particle, true_pos[:, 2], particles.particle_id.to_numpy(),
                           particles.vz.to_numpy(), np.hypot(particles.px, particles.py).to_numpy(),
                           particles.nhits.to_numpy())
    hits = pd.DataFrame({"hit_id": hit_id, "x": measured.pos[order, 0], "y": measured.pos[order, 1],
                         "z": measured.pos[order, 2], "volume_id": volume[order], "layer_id": layer[order],
                         "module_id": module[order]})
    truth = pd.DataFrame({"hit_id": hit_id, "particle_id": hit_particle[order],
                          "tx": true_pos[order, 0], "ty": true_pos[order, 1], "tz": true_pos[order, 2],
                          "tpx": true_p[order, 0], "tpy": true_p[order, 1], "tpz": true_p[order, 2],
                          "weight": weight[order]})
    timings["truth"] = time.perf_counter() - t

    # Double hits: one particle on two modules of the same layer.
    signal = truth.particle_id.to_numpy() != 0
    keys = pd.DataFrame({"p": hit_particle[order][signal], "v": volume[order][signal], "l": layer[order][signal]})
    doubles = int(keys.duplicated().sum())
    stats = {"event": event, "hits": n, "noise_hits": n - n_signal, "particles": len(particles),
             "double_hits": doubles, "vertices": generated.n_vertices,
             "generated_particles": len(generated),
             "volumes": sorted(int(v) for v in np.unique(volume)), "timings_s": timings}
    return EventTables(hits=hits, truth=truth, particles=particles, stats=stats)


_worker_detector = None


def _init_worker(cfg: SimulationConfig) -> None:
    global _worker_detector
    from .fatras import build_detector

    _worker_detector = build_detector(cfg)


def _make_event(cfg: SimulationConfig, event: int, outdir: str) -> dict:
    tables = simulate_event(_worker_detector, cfg, event)
    t = time.perf_counter()
    write_event(Path(outdir), event, tables.hits, tables.truth, tables.particles)
    tables.stats["timings_s"]["write"] = time.perf_counter() - t
    tables.stats["timings_s"]["total"] = sum(tables.stats["timings_s"].values())
    return tables.stats


def _write_detectors(outdir: str) -> None:
    write_detectors(Path(outdir), _worker_detector.modules)


def check_installed(cfg: SimulationConfig) -> None:
    import importlib.util

    missing = [name for name, needed in (("acts", True), ("pythia8mc", cfg.uses_pythia))
               if needed and importlib.util.find_spec(name) is None]
    if missing:
        raise QtrackError(f"{' and '.join(missing)} not installed: the simulation needs "
                          f"pip install 'qtrack[sim]'")


def versions() -> dict:
    out = {"python": platform.python_version()}
    for dist in ("qtrack", "pyacts", "pythia8mc", "numpy", "pandas"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def run(cfg: SimulationConfig, outdir: str | Path, events: int = 1, first_event: int = 0,
        workers: int = 1, progress: bool = False) -> dict:
    """Simulate events ``first_event .. first_event + events - 1`` into ``outdir``; returns the
    run record also written as ``outdir/simulation-<first>-<last>.json``."""
    if events < 1 or first_event < 0:
        raise QtrackError(f"events = {events}, first_event = {first_event}: expected events >= 1 and first_event >= 0")
    outdir = Path(outdir)
    check_installed(cfg)
    check_writable(outdir)
    t0 = time.perf_counter()
    numbers = list(range(first_event, first_event + events))
    workers = max(1, min(workers, events))
    from tqdm import tqdm

    if cfg.pileup > 0:
        from .generate import mpi_init_file

        mpi_init_file(cfg)  # once, before any worker needs it
    bar = tqdm(total=events, unit="event", disable=not progress, desc="simulate")
    stats: list[dict] = []
    if workers == 1:
        _init_worker(cfg)
        setup = time.perf_counter() - t0
        for k in numbers:
            stats.append(_make_event(cfg, k, str(outdir)))
            bar.update()
        _write_detectors(str(outdir))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn: ACTS and Pythia hold threads and global state that fork would copy half-made.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_init_worker, initargs=(cfg,)) as pool:
            futures = [pool.submit(_make_event, cfg, k, str(outdir)) for k in numbers]
            detectors = pool.submit(_write_detectors, str(outdir))
            for future in as_completed(futures):
                stats.append(future.result())
                bar.update()
            detectors.result()
        setup = None
    bar.close()
    stats.sort(key=lambda s: s["event"])
    wall = time.perf_counter() - t0
    record = {"config": asdict(cfg), "events": numbers, "workers": workers, "versions": versions(),
              "wall_s": wall, "setup_s": setup, "load_average": list(os.getloadavg()),
              "per_event": stats}
    path = outdir / f"simulation-{numbers[0]:09d}-{numbers[-1]:09d}.json"
    with atomic_open(path) as f:
        json.dump(record, f, indent=2)
    record["record_path"] = str(path)
    log.info("wrote %d event(s) to %s in %.1f s (%s)", events, outdir, wall, path.name)
    return record


__all__ = ["EventTables", "simulate_event", "run", "encode_particle_id", "event_name"]
