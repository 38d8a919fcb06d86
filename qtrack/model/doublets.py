"""Doublet seeding: hit pairs a charged track from the luminous region could make.

Hits are sorted by (layer, phi); for every allowed layer pair each inner hit looks only at the outer
hits inside its phi window, found by binary search. The window is the phi a track of the minimum pT
bends by between the two radii, widened for a transverse impact parameter up to ``d0_max`` and a
tolerance, so the work per hit is proportional to the local
hit density times the window, not to the number of hits in the layer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..config import DoubletConfig
from .kernels import two_pass
from .layers import LayerTable, layer_pairs

# pT [GeV] = 0.3 * B [T] * R [m]  ->  R [mm] = pT / (0.3e-3 * B)
_GEV_PER_TESLA_MM = 0.3e-3


@dataclass(frozen=True)
class Doublets:
    """Doublets as two hit-index arrays; inner is the smaller radius.

    Sorted by inner hit, then by the doublet's R-Z angle, so that the doublets leaving a hit that
    continue a given direction are one contiguous, binary-searchable range.
    """

    inner: np.ndarray
    outer: np.ndarray

    def __len__(self) -> int:
        return len(self.inner)


@njit(cache=True)
def _bend(r, inv_2R):
    s = r * inv_2R
    return np.arcsin(s) if s < 1.0 else np.pi / 2


@njit(cache=True)
def _doublet_kernel(layer_start, phi, r, z, pairs, inv_2R, phi_tol, d0_max, z0_max, cot_max,
                    out_inner, out_outer, fill):
    n = 0
    for p in range(pairs.shape[0]):
        li = pairs[p, 0]
        lo = pairs[p, 1]
        a0, a1 = layer_start[li], layer_start[li + 1]
        b0, b1 = layer_start[lo], layer_start[lo + 1]
        if a0 == a1 or b0 == b1:
            continue
        outer_phi = phi[b0:b1]
        r_out_max = r[b0:b1].max()
        for i in range(a0, a1):
            ri = r[i]
            zi = z[i]
            bend_i = _bend(ri, inv_2R) - phi_tol - d0_max / ri
            # Both the bend and the d0 term grow with r_out: the outermost hit bounds the window.
            window = _bend(r_out_max, inv_2R) - d0_max / r_out_max - bend_i
            lo_phi = phi[i] - window
            hi_phi = phi[i] + window
            # Up to two ranges in the sorted phi array when the window wraps around +-pi.
            for k in range(2):
                if k == 0:
                    lo_k, hi_k = max(lo_phi, -np.pi), min(hi_phi, np.pi)
                elif lo_phi < -np.pi:
                    lo_k, hi_k = lo_phi + 2 * np.pi, np.pi
                elif hi_phi > np.pi:
                    lo_k, hi_k = -np.pi, hi_phi - 2 * np.pi
                else:
                    break
                j0 = b0 + np.searchsorted(outer_phi, lo_k)
                j1 = b0 + np.searchsorted(outer_phi, hi_k, side="right")
                for j in range(j0, j1):
                    dr = r[j] - ri
                    if dr <= 0.0:
                        continue
                    dz = z[j] - zi
                    if abs(dz) > cot_max * dr:
                        continue
                    if abs(zi - ri * dz / dr) > z0_max:
                        continue
                    dphi = phi[j] - phi[i]
                    if dphi > np.pi:
                        dphi -= 2 * np.pi
                    elif dphi < -np.pi:
                        dphi += 2 * np.pi
                    if abs(dphi) > _bend(r[j], inv_2R) - d0_max / r[j] - bend_i:
                        continue
                    if fill:
                        out_inner[n] = i
                        out_outer[n] = j
                    n += 1
    return n


def rz_angle(inner: np.ndarray, outer: np.ndarray, r: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Angle of each doublet to the r axis in the R-Z plane, atan2(dz, dr)."""
    return np.arctan2(z[outer] - z[inner], r[outer] - r[inner])


def build_doublets(x: np.ndarray, y: np.ndarray, z: np.ndarray, layer: np.ndarray,
                   layers: LayerTable, config: DoubletConfig = DoubletConfig()) -> Doublets:
    """Doublets over hits given as coordinate arrays (mm) and layer indices into ``layers``."""
    r = np.hypot(x, y)
    phi = np.arctan2(y, x)
    order = np.lexsort((phi, layer))
    layer_start = np.searchsorted(layer[order], np.arange(len(layers) + 1)).astype(np.int64)
    pairs = layer_pairs(layers, config.max_layer_gap)
    inv_2R = 1.0 / (2.0 * config.min_pt / (_GEV_PER_TESLA_MM * config.field_tesla))
    cot_max = float(np.sinh(config.eta_max))
    args = (layer_start, phi[order], r[order], z[order], pairs, inv_2R, config.phi_tolerance,
            config.d0_max, config.z0_max, cot_max)
    inner, outer = two_pass(_doublet_kernel, args, (np.int64, np.int64))
    inner, outer = order[inner], order[outer]
    sort = np.lexsort((outer, rz_angle(inner, outer, r, z), inner))
    return Doublets(inner[sort], outer[sort])
