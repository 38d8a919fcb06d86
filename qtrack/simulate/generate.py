"""Generator level: which particles leave which vertex (Pythia8 hard process and pile-up, gun).

Entry point: :func:`generate_event` (config, event number) -> :class:`Particles`, struct of
arrays, one row per particle handed to the detector simulation. Every random number of event k
comes from (seed, k): the number and positions of the vertices from numpy, Pythia's from a seed
derived the same way.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from ..errors import QtrackError
from .config import GUN_SPECIES, SimulationConfig

#: Random streams of one event, kept apart so that changing one stage leaves the others' numbers.
STREAM_VERTICES, STREAM_HARD, STREAM_PILEUP, STREAM_FATRAS, STREAM_DIGITS = range(5)


_NEUTRINOS = (12, 14, 16)
_PYTHIA_COMMON = ("Beams:idA = 2212", "Beams:idB = 2212", "Random:setSeed = on", "Print:quiet = on",
                  "Next:numberCount = 0", "Next:numberShowEvent = 0", "Next:numberShowInfo = 0",
                  "Next:numberShowProcess = 0")
_PYTHIA_PROCESS = {"ttbar": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"),
                   "minbias": ("SoftQCD:inelastic = on",)}


def stream(cfg: SimulationConfig, event: int, which: int) -> np.random.SeedSequence:
    """The seed sequence of one random stream of one event."""
    return np.random.SeedSequence(cfg.seed, spawn_key=(event, which))


def pythia_seed(seq: np.random.SeedSequence) -> int:
    """A seed in Pythia's accepted range 1..900000000 (0 would mean its default seed)."""
    return int(seq.generate_state(1, np.uint64)[0] % 900_000_000) + 1


@dataclass
class Particles:
    """Generator particles, one row each; vertex 1 is the primary, 2.. the pile-up vertices."""

    vertex: np.ndarray  # int64, 1-based vertex number
    index: np.ndarray  # int64, 1-based number of the particle within its vertex
    pdg: np.ndarray  # int64
    charge: np.ndarray  # float64, e
    mass: np.ndarray  # float64, GeV
    p: np.ndarray  # (n, 3) float64, GeV
    pos: np.ndarray  # (n, 4) float64: x, y, z (mm), t (mm/c)
    n_vertices: int

    def __len__(self) -> int:
        return len(self.pdg)


def mpi_init_file(cfg: SimulationConfig) -> Path:
    """Pythia's multiparton-interaction tables for minimum bias, computed once per machine.

    Computing them takes ~13 s (mostly the diffractive systems), reading them 0.1 s. Every
    event reads them from this file, also the event that made it, so the first run gives the
    same events as later ones.
    """
    import pythia8mc

    version = metadata.version("pythia8mc")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qtrack"
    path = cache / f"pythia-{version}-inelastic-{cfg.ecm:g}GeV-mpi.init"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        pythia = pythia8mc.Pythia("", False)
        for line in (*_PYTHIA_COMMON, f"Beams:eCM = {cfg.ecm!r}", *_PYTHIA_PROCESS["minbias"],
                     "MultipartonInteractions:reuseInit = 1", f"MultipartonInteractions:initFile = {tmp}"):
            pythia.readString(line)
        if not pythia.init():
            raise QtrackError(f"Pythia8 failed to initialise minimum bias at {cfg.ecm} GeV")
        os.replace(tmp, path)  # whole or not at all, also with several processes at once
    return path


def _pythia(process: str, cfg: SimulationConfig, seed: int):
    import pythia8mc

    # A fresh generator per event: Pythia keeps state between events (it raises a phase-space
    # maximum when a weight violates it), so reseeding one instance would make event k depend on
    # the events generated before it in that process.
    pythia = pythia8mc.Pythia("", False)
    lines = [*_PYTHIA_COMMON, f"Beams:eCM = {cfg.ecm!r}", f"Random:seed = {seed}", *_PYTHIA_PROCESS[process]]
    if process == "minbias":
        lines += ["MultipartonInteractions:reuseInit = 2",
                  f"MultipartonInteractions:initFile = {mpi_init_file(cfg)}"]
    for line in lines:
        if not pythia.readString(line):
            raise RuntimeError(f"Pythia rejected setting {line!r}")
    if not pythia.init():
        raise QtrackError(f"Pythia8 failed to initialise the {process} process at {cfg.ecm} GeV")
    return pythia


def _final_state(pythia) -> np.ndarray:
    """Rows (pdg, charge, mass, px, py, pz, x, y, z, t) of the final-state particles of one event."""
    for _ in range(10):
        if pythia.next():
            break
    else:
        raise RuntimeError("Pythia8 failed to generate an event ten times in a row")
    record = pythia.event
    rows = []
    for i in range(record.size()):
        q = record[i]
        if q.isFinal():
            rows.append((q.id(), q.charge(), q.m(), q.px(), q.py(), q.pz(), q.xProd(), q.yProd(),
                         q.zProd(), q.tProd()))
    return np.array(rows, dtype=np.float64).reshape(-1, 10)


def _gun(cfg: SimulationConfig, rng: np.random.Generator) -> np.ndarray:
    n = cfg.gun_particles
    charge, mass = GUN_SPECIES[abs(cfg.gun_pdg)]
    sign = rng.choice((-1, 1), size=n)
    pt = rng.uniform(*cfg.gun_pt, size=n)
    eta = rng.uniform(*cfg.gun_eta, size=n)
    phi = rng.uniform(-np.pi, np.pi, size=n)
    rows = np.zeros((n, 10))
    rows[:, 0] = sign * abs(cfg.gun_pdg)
    rows[:, 1] = sign * charge
    rows[:, 2] = mass
    rows[:, 3] = pt * np.cos(phi)
    rows[:, 4] = pt * np.sin(phi)
    rows[:, 5] = pt * np.sinh(eta)
    return rows


def generate_event(cfg: SimulationConfig, event: int) -> Particles:
    """All particles of one event, before any detector: selected by pT and |eta|, no neutrinos."""
    rng = np.random.default_rng(stream(cfg, event, STREAM_VERTICES))
    n_pileup = int(rng.poisson(cfg.pileup)) if cfg.pileup > 0 else 0
    n_vertices = 1 + n_pileup
    position = np.column_stack([rng.normal(0.0, cfg.vertex_sigma_xy, (n_vertices, 2)),
                                rng.normal(0.0, cfg.vertex_sigma_z, n_vertices)])
    vertices: list[np.ndarray] = []
    primary = []
    if cfg.hard != "none":
        primary.append(_final_state(_pythia(cfg.hard, cfg, pythia_seed(stream(cfg, event, STREAM_HARD)))))
    if cfg.gun_particles:
        primary.append(_gun(cfg, rng))
    vertices.append(np.concatenate(primary) if primary else np.zeros((0, 10)))
    if n_pileup:
        minbias = _pythia("minbias", cfg, pythia_seed(stream(cfg, event, STREAM_PILEUP)))
        vertices.extend(_final_state(minbias) for _ in range(n_pileup))

    sizes = np.array([len(v) for v in vertices])
    rows = np.concatenate(vertices)
    vertex = np.repeat(np.arange(1, n_vertices + 1), sizes)
    index = np.concatenate([np.arange(1, s + 1) for s in sizes])
    rows[:, 6:9] += position[vertex - 1]
    pt = np.hypot(rows[:, 3], rows[:, 4])
    eta = np.arcsinh(rows[:, 5] / np.maximum(pt, 1e-300))
    keep = (pt > cfg.min_pt) & (np.abs(eta) < cfg.max_eta) & ~np.isin(np.abs(rows[:, 0]), _NEUTRINOS)
    rows = rows[keep]
    return Particles(vertex=vertex[keep], index=index[keep], pdg=rows[:, 0].astype(np.int64),
                     charge=rows[:, 1], mass=rows[:, 2], p=rows[:, 3:6], pos=rows[:, 6:10],
                     n_vertices=n_vertices)
