"""Readout level: Gaussian smearing of the Fatras hits on their modules, and random noise hits.

Entry point: :func:`digitize` (sim hits, modules, noise fraction, rng) -> :class:`Measurements`.
The smearing acts on the module's local coordinates (u across, v along the strips) with widths
pitch / sqrt(12), ACTS's generic-detector smearing configuration; a smeared point stays on its
module (clipped to the bounds). Noise hits are drawn uniformly over the sensitive area of the
whole detector. Double hits, one particle crossing two overlapping modules of a layer, are two
Fatras hits on two modules and stay two hits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fatras import Modules, SimHits


@dataclass
class Measurements:
    """Measured hits: the smeared Fatras hits first, then the noise hits."""

    module: np.ndarray  # row in Modules
    pos: np.ndarray  # (n, 3) measured position, mm
    n_signal: int  # hits [0, n_signal) are the sim hits in their order, the rest noise


def _to_global(modules: Modules, rows: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return modules.center[rows] + modules.rotation[rows, :, 0] * u[:, None] + modules.rotation[rows, :, 1] * v[:, None]


def smear(hits: SimHits, modules: Modules, rng: np.random.Generator) -> np.ndarray:
    """Measured positions of the sim hits."""
    rows = hits.module
    local = np.einsum("nij,ni->nj", modules.rotation[rows], hits.pos - modules.center[rows])
    v = np.clip(local[:, 1] + rng.normal(size=len(rows)) * modules.pitch_v[rows] / np.sqrt(12.0),
                -modules.hv[rows], modules.hv[rows])
    half = modules.half_width(rows, v)
    u = np.clip(local[:, 0] + rng.normal(size=len(rows)) * modules.pitch_u[rows] / np.sqrt(12.0), -half, half)
    return _to_global(modules, rows, u, v)


def noise(n: int, modules: Modules, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` hits uniform over the sensitive area: (module rows, positions)."""
    area = 2.0 * (modules.minhu + modules.maxhu) * modules.hv
    rows = rng.choice(len(modules), size=n, p=area / area.sum())
    # Uniform on a trapezoid: v from the linear density of its width, then u uniform at that v.
    a, b = modules.minhu[rows], modules.maxhu[rows]
    s = rng.random(n)
    slope = b - a
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(np.abs(slope) > 1e-12 * a, (np.sqrt(a * a + s * (b * b - a * a)) - a) / slope, s)
    v = (2.0 * t - 1.0) * modules.hv[rows]
    u = (2.0 * rng.random(n) - 1.0) * modules.half_width(rows, v)
    return rows, _to_global(modules, rows, u, v)


def digitize(hits: SimHits, modules: Modules, noise_fraction: float, rng: np.random.Generator) -> Measurements:
    n_signal = len(hits.module)
    n_noise = int(round(n_signal * noise_fraction / (1.0 - noise_fraction)))
    measured = smear(hits, modules, rng)
    noise_rows, noise_pos = noise(n_noise, modules, rng)
    return Measurements(module=np.concatenate([hits.module, noise_rows]),
                        pos=np.concatenate([measured, noise_pos]), n_signal=n_signal)
