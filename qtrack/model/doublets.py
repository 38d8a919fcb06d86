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
from .kernels import sized_pass
from .layers import LayerGraph, LayerTable, layer_graph
from .scattering import GEV_PER_TESLA_MM



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
    #: R-Z angle of each doublet (:func:`rz_angle`); computed from the hits when not given.
    rz: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.inner)


@njit(cache=True)
def _bend(r, inv_2R):
    s = r * inv_2R
    return np.arcsin(s) if s < 1.0 else np.pi / 2


@njit(cache=True)
def arc_length(r, inv_2R):
    """Arc length in x-y (mm) from the beam line to radius ``r`` on a circle through the origin
    of curvature ``2 * inv_2R`` (r for a straight line)."""
    if inv_2R <= 0.0:
        return r
    u = r * inv_2R
    return np.arcsin(u) / inv_2R if u < 1.0 else 0.5 * np.pi / inv_2R


@njit(cache=True)
def _meets_beam_line(ri, zi, rj, zj, inv_2R, z0_max):
    # Along a helix z is linear in the arc length, not in r: a low-pT track's straight r-z line
    # misses its origin by hundreds of mm deep in the endcap. From a doublet alone the curvature
    # is unknown, so the doublet passes when some curvature up to the lowest pT's (z0 moves
    # monotonically with it, between the straight line's and that helix's) meets the window.
    z0_line = zi - ri * (zj - zi) / (rj - ri)
    si, sj = arc_length(ri, inv_2R), arc_length(rj, inv_2R)
    z0_helix = zi - si * (zj - zi) / (sj - si) if sj > si else z0_line
    return min(z0_line, z0_helix) <= z0_max and max(z0_line, z0_helix) >= -z0_max


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


@njit(cache=True, nogil=True)
def _doublet_kernel(row_lo, row_hi, rank, order, layer_start, phi, r, z, pair_ptr, pairs,
                    between_ptr, between, is_disk, pos, r_min, r_max, z_min, z_max, r_out_max,
                    max_gap, inv_2R, phi_tol, d0_max, z0_max, cot_max, out_inner, out_outer,
                    out_step, out_rz):
    # Rows are hits in their original order; ``rank`` places them among the hits sorted by
    # (layer, phi), where the outer hits of a phi window are one binary-searched range. Each
    # hit's doublets come out together, sorted by R-Z angle then outer hit: the order the
    # triplets need, with no sort of all the doublets afterwards.
    n = 0
    for h in range(row_lo, row_hi):
        i = rank[h]
        ri = r[i]
        zi = z[i]
        start = n
        li = 0
        while layer_start[li + 1] <= i:
            li += 1
        for p in range(pair_ptr[li], pair_ptr[li + 1]):
            lo = pairs[p, 1]
            b0, b1 = layer_start[lo], layer_start[lo + 1]
            if b0 == b1:
                continue
            # On an outer disk, the z0 window bounds the radius a track from i can reach there.
            r_reach = r_out_max[lo]
            if is_disk[lo] and abs(zi) > z0_max:
                reach = 0.0
                for zl in (z_min[lo], z_max[lo]):
                    for z0 in (-z0_max, z0_max):
                        reach = max(reach, ri * (zl - z0) / (zi - z0))
                r_reach = min(r_reach, reach)
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
                j0 = b0 + np.searchsorted(phi[b0:b1], lo_k)
                j1 = b0 + np.searchsorted(phi[b0:b1], hi_k, side="right")
                for j in range(j0, j1):
                    # The layer pair orders the hits along the track; a track from the beam line
                    # also moves away from it (first half turn), on disks as in the barrel.
                    dr = r[j] - ri
                    if dr <= 0.0:
                        continue
                    dz = z[j] - zi
                    if abs(dz) > cot_max * dr:
                        continue
                    if not _meets_beam_line(ri, zi, r[j], z[j], inv_2R, z0_max):
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
                    if n < len(out_inner):
                        out_inner[n] = h
                        out_outer[n] = order[j]
                        out_step[n] = step
                        out_rz[n] = np.arctan2(dz, dr)
                    n += 1
        if n <= len(out_inner):
            # Insertion sort of this hit's few doublets by (R-Z angle, outer hit).
            for a in range(start + 1, n):
                o, s, a_rz = out_outer[a], out_step[a], out_rz[a]
                b = a - 1
                while b >= start and (out_rz[b] > a_rz or (out_rz[b] == a_rz and out_outer[b] > o)):
                    out_outer[b + 1] = out_outer[b]
                    out_step[b + 1] = out_step[b]
                    out_rz[b + 1] = out_rz[b]
                    b -= 1
                out_outer[b + 1] = o
                out_step[b + 1] = s
                out_rz[b + 1] = a_rz
    return n


def min_pt_curvature(min_pt: float, field_tesla: float) -> float:
    """Curvature (1/mm) of a track of transverse momentum ``min_pt`` (GeV) in ``field_tesla``
    (0 for ``min_pt`` 0)."""
    return GEV_PER_TESLA_MM * field_tesla / min_pt if min_pt > 0 else 0.0


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
                   beamspot: BeamSpotConfig = BeamSpotConfig(), threads: int = 1) -> Doublets:
    """Doublets over hits given as coordinate arrays (mm) and layer indices into ``layers``,
    found by ``threads`` threads (the doublets do not depend on it)."""
    r = np.hypot(x, y)
    phi = np.arctan2(y, x)
    order = np.lexsort((phi, layer))
    rank = np.empty(len(x), dtype=np.int64)
    rank[order] = np.arange(len(x))
    layer_start = np.searchsorted(layer[order], np.arange(len(layers) + 1)).astype(np.int64)
    graph = graph_of(layers, config)
    pairs = graph.pairs(config.max_layer_gap)
    pairs = pairs[np.argsort(pairs[:, 0], kind="stable")]
    pair_ptr = np.searchsorted(pairs[:, 0], np.arange(len(layers) + 1)).astype(np.int64)
    between_ptr, between = graph.between(pairs)
    r_out_max = np.zeros(len(layers))
    np.maximum.at(r_out_max, layer, r)
    inv_2R = 0.5 * min_pt_curvature(config.min_pt, config.field_tesla)
    cot_max = float(np.sinh(config.eta_max))
    args = (rank, order, layer_start, phi[order], r[order], z[order], pair_ptr, pairs,
            between_ptr, between, layers.is_disk, layers.position, layers.r_min, layers.r_max,
            layers.z_min, layers.z_max, r_out_max, config.max_layer_gap, inv_2R,
            config.phi_tolerance, beamspot.d0_max, z0_window(beamspot), cot_max)
    # About 35 doublets per hit at pile-up 200, 15 in the barrel-only event 1000.
    inner, outer, step, rz = sized_pass(_doublet_kernel, args,
                                        (np.int64, np.int64, np.int8, np.float64),
                                        40 * len(x), len(x), threads)
    return Doublets(inner, outer, step, rz)
