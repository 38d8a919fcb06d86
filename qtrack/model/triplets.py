"""Triplets: two doublets sharing their middle hit, the QUBO's candidate variables.

The reference's hard cuts (hepqpr-qallse ``QallseMp``): layer span, Menger curvature and the R-Z
angle between the two doublets. The span is the sum of the two doublets' layer-graph steps, so a
triplet misses at most ``max_layer_gap - 1`` layers, in the barrel as on the disks. The doublets leaving a hit are sorted by R-Z angle, so each doublet
meets only the window of continuations that can pass the angle cut.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..config import ModelConfig
from .doublets import Doublets, rz_angle
from .kernels import csr, two_pass


@dataclass(frozen=True)
class Triplets:
    """Triplet ``t`` is doublet ``d1[t]`` followed by doublet ``d2[t]`` (hits ``h1, h2, h3`` in
    order along the track); ``span`` is its number of layer steps (2 = no layer missed)."""

    d1: np.ndarray
    d2: np.ndarray
    h1: np.ndarray
    h2: np.ndarray
    h3: np.ndarray
    curvature: np.ndarray
    drz: np.ndarray
    span: np.ndarray

    def __len__(self) -> int:
        return len(self.d1)

    def take(self, index: np.ndarray) -> "Triplets":
        return Triplets(*(getattr(self, f)[index] for f in self.__dataclass_fields__))


@njit(cache=True)
def _curvature(xa, ya, xb, yb, xc, yc):
    # Signed Menger curvature 4*area/(|ab||bc||ca|), as the reference computes it.
    dx1, dy1 = xb - xa, yb - ya
    dx2, dy2 = xc - xa, yc - ya
    twice_area = dx1 * dy2 - dy1 * dx2
    return 2.0 * twice_area / (np.hypot(dx1, dy1) * np.hypot(xc - xb, yc - yb) * np.hypot(dx2, dy2))


@njit(cache=True)
def _angle_diff(a, b):
    d = abs(b - a)
    return d if d <= np.pi else 2 * np.pi - d


@njit(cache=True)
def _triplet_kernel(inner, outer, out_ptr, x, y, step, rz, max_span, max_curv, max_drz,
                    t_d1, t_d2, t_curv, t_drz, fill):
    n = 0
    for d1 in range(len(inner)):
        a = inner[d1]
        b = outer[d1]
        # Doublets leaving b are sorted by R-Z angle: only a window can pass the drz cut.
        lo = out_ptr[b] + np.searchsorted(rz[out_ptr[b]:out_ptr[b + 1]], rz[d1] - max_drz)
        hi = out_ptr[b] + np.searchsorted(rz[out_ptr[b]:out_ptr[b + 1]], rz[d1] + max_drz, side="right")
        for d2 in range(lo, hi):
            c = outer[d2]
            if step[d1] + step[d2] > max_span:
                continue
            curv = _curvature(x[a], y[a], x[b], y[b], x[c], y[c])
            if abs(curv) > max_curv:
                continue
            drz = _angle_diff(rz[d1], rz[d2])
            if drz > max_drz:
                continue
            if fill:
                t_d1[n] = d1
                t_d2[n] = d2
                t_curv[n] = curv
                t_drz[n] = drz
            n += 1
    return n


def build_triplets(x: np.ndarray, y: np.ndarray, z: np.ndarray, doublets: Doublets,
                   max_layer_gap: int, config: ModelConfig = ModelConfig()) -> Triplets:
    """All triplets passing the hard cuts.

    Triplets come out sorted by ``d1`` (the order :func:`build_model` needs).
    """
    n_hits = len(x)
    r = np.hypot(x, y)
    inner, outer = doublets.inner, doublets.outer
    rz = rz_angle(inner, outer, r, z)
    out_ptr = csr(inner, n_hits)
    d1, d2, curv, drz = two_pass(
        _triplet_kernel,
        (inner, outer, out_ptr, x, y, doublets.step, rz, max_layer_gap + 1, config.tplet_max_curv,
         config.tplet_max_drz),
        (np.int64, np.int64, np.float64, np.float64),
    )
    span = (doublets.step[d1] + doublets.step[d2]).astype(np.int8)
    return Triplets(d1, d2, inner[d1], outer[d1], outer[d2], curv, drz, span)
