"""Doublet seeding: hit pairs a charged track from the luminous region could make.

The layer pairs come from the layer graph (:func:`qtrack.model.layers.layer_graph`): barrel to
barrel, barrel to disk, disk to disk, inner = earlier along the track. Hits are sorted by
(layer, phi); for every allowed layer pair each inner hit looks only at the outer
hits inside its phi window, found by binary search. The window is the phi a track of the minimum pT
bends by between the two radii, widened for a transverse impact parameter up to ``d0_max`` and a
tolerance, so the work per hit is proportional to the local
hit density times the window, not to the number of hits in the layer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..config import BeamSpotConfig, DoubletConfig
from .kernels import two_pass
from .layers import LayerGraph, LayerTable, layer_graph

# pT [GeV] = 0.3 * B [T] * R [m]  ->  R [mm] = pT / (0.3e-3 * B)
_GEV_PER_TESLA_MM = 0.3e-3


@dataclass(frozen=True)
class Doublets:
    """Doublets as two hit-index arrays; inner is the hit met first along the track.

    Sorted by inner hit, then by the doublet's R-Z angle, so that the doublets leaving a hit that
    continue a given direction are one contiguous, binary-searchable range. ``step`` is the layer
    graph's step between the two hits' layers (1 = consecutive layers, 2 = one layer missed).
    """

    inner: np.ndarray
    outer: np.ndarray
    step: np.ndarray

    def __len__(self) -> int:
        return len(self.inner)


@njit(cache=True)
def _bend(r, inv_2R):
    s = r * inv_2R
    return np.arcsin(s) if s < 1.0 else np.pi / 2


@njit(cache=True)
def crosses_layer(l, ri, zi, rj, zj, is_disk, pos, r_min, r_max, z_min, z_max):
    # Does the straight segment from hit i to hit j cross layer l's surface strictly between them?
    if is_disk[l]:
        zl = pos[l]
        if (zl - zi) * (zl - zj) >= 0.0:
            return False
        rl = ri + (rj - ri) * (zl - zi) / (zj - zi)
        return r_min[l] <= rl <= r_max[l]
    rl = pos[l]
    if rl <= ri or rl >= rj:
        return False
    zl = zi + (zj - zi) * (rl - ri) / (rj - ri)
    return z_min[l] <= zl <= z_max[l]


@njit(cache=True)
def _doublet_kernel(layer_start, phi, r, z, pairs, between_ptr, between, is_disk, pos, r_min,
                    r_max, z_min, z_max, max_gap, inv_2R, phi_tol, d0_max, z0_max, cot_max,
                    out_inner, out_outer, out_step, fill):
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
            # On an outer disk, the z0 window bounds the radius a track from i can reach there.
            r_reach = r_out_max
            if is_disk[lo] and abs(zi) > z0_max:
                reach = 0.0
                for zl in (z_min[lo], z_max[lo]):
                    for z0 in (-z0_max, z0_max):
                        reach = max(reach, ri * (zl - z0) / (zi - z0))
                r_reach = min(r_out_max, reach)
                if r_reach <= ri:
                    continue
            bend_i = _bend(ri, inv_2R) - phi_tol - d0_max / ri
            # Both the bend and the d0 term grow with r_out: the farthest reach bounds the window.
            window = _bend(r_reach, inv_2R) - d0_max / r_reach - bend_i
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
                    # The layer pair orders the hits along the track; a track from the beam line
                    # also moves away from it (first half turn), on disks as in the barrel.
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
                    # Layers this doublet passes through without a hit: its own step.
                    step = 1
                    for q in range(between_ptr[p], between_ptr[p + 1]):
                        if crosses_layer(between[q], ri, zi, r[j], z[j], is_disk, pos, r_min,
                                    r_max, z_min, z_max):
                            step += 1
                    if step > max_gap:
                        continue
                    if fill:
                        out_inner[n] = i
                        out_outer[n] = j
                        out_step[n] = step
                    n += 1
    return n


def rz_angle(inner: np.ndarray, outer: np.ndarray, r: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Angle of each doublet to the r axis in the R-Z plane, atan2(dz, dr)."""
    return np.arctan2(z[outer] - z[inner], r[outer] - r[inner])


#: Half-length (mm) of the widest luminous region the layer graph is made for. The graph only
#: proposes layer pairs; each doublet's own step comes from the layers its line crosses.
GRAPH_Z0_MAX = 300.0


def graph_of(layers: LayerTable, config: DoubletConfig = DoubletConfig()) -> LayerGraph:
    """The layer graph the doublets follow: tracks the seeding accepts."""
    return layer_graph(layers, config.max_layer_gap, GRAPH_Z0_MAX, config.eta_max, config.min_pt,
                       config.field_tesla)


def z0_window(beamspot: BeamSpotConfig) -> float:
    """|z| (mm) at which a doublet's line may meet the beam line."""
    return beamspot.z0_max + beamspot.doublet_z0_margin


def build_doublets(x: np.ndarray, y: np.ndarray, z: np.ndarray, layer: np.ndarray,
                   layers: LayerTable, config: DoubletConfig = DoubletConfig(),
                   beamspot: BeamSpotConfig = BeamSpotConfig()) -> Doublets:
    """Doublets over hits given as coordinate arrays (mm) and layer indices into ``layers``."""
    r = np.hypot(x, y)
    phi = np.arctan2(y, x)
    order = np.lexsort((phi, layer))
    layer_start = np.searchsorted(layer[order], np.arange(len(layers) + 1)).astype(np.int64)
    graph = graph_of(layers, config)
    pairs = graph.pairs(config.max_layer_gap)
    between_ptr, between = graph.between(pairs)
    inv_2R = 1.0 / (2.0 * config.min_pt / (_GEV_PER_TESLA_MM * config.field_tesla))
    cot_max = float(np.sinh(config.eta_max))
    args = (layer_start, phi[order], r[order], z[order], pairs, between_ptr, between,
            layers.is_disk, layers.position, layers.r_min, layers.r_max, layers.z_min,
            layers.z_max, config.max_layer_gap, inv_2R, config.phi_tolerance, beamspot.d0_max,
            z0_window(beamspot), cot_max)
    inner, outer, step = two_pass(_doublet_kernel, args, (np.int64, np.int64, np.int8))
    inner, outer = order[inner], order[outer]
    sort = np.lexsort((outer, rz_angle(inner, outer, r, z), inner))
    return Doublets(inner[sort], outer[sort], step[sort])
