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
from .kernels import bin_hits, bin_of, extent, sized_pass
from .layers import LayerGraph, LayerTable, layer_graph
from .scattering import GEV_PER_TESLA_MM



@dataclass(frozen=True)
class Doublets:
    """Doublets as two hit-index arrays; inner is the hit met first along the track.

    Sorted by inner hit, then by ``step``, then by the doublet's R-Z angle, so that the doublets
    leaving a hit with a given step that continue a given direction are one contiguous,
    binary-searchable range. ``step`` is the layer graph's step between the two hits' layers
    (1 = consecutive layers, 2 = one layer missed).
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


@njit(cache=True, inline="always")
def max_turn(ri, rj, inv_2R):
    """Largest azimuth (rad) a track from the beam line with curvature up to ``2 * inv_2R``
    turns by between radii ``ri < rj``: the turn grows with the curvature, and a track reaching
    ``rj`` has ``2R >= rj``, so beyond the lowest pT's half turn the track whose half turn ends at
    ``rj`` turns most (a 0.3 GeV particle from r = 500 to 660 mm turns by 0.2 rad, more than a
    0.15 GeV circle's window there)."""
    k = min(inv_2R, 1.0 / rj)
    return _bend(rj, k) - _bend(ri, k)


@njit(cache=True)
def arc_length(r, inv_2R):
    """Arc length in x-y (mm) from the beam line to radius ``r`` on a circle through the origin
    of curvature ``2 * inv_2R`` (r for a straight line)."""
    if inv_2R <= 0.0:
        return r
    u = r * inv_2R
    return np.arcsin(u) / inv_2R if u < 1.0 else 0.5 * np.pi / inv_2R


@njit(cache=True, inline="always")
def _meets_beam_line(ri, zi, si, rj, zj, sj, z0_max, inv_2R):
    # Along a helix z is linear in the arc length, not in r: a low-pT track's straight r-z line
    # misses its origin by hundreds of mm deep in the endcap. From a doublet alone the curvature
    # is unknown, so the doublet passes when some curvature up to the lowest pT's (z0 moves
    # monotonically with it, between the straight line's and that helix's) meets the window.
    # si, sj: the hits' arc lengths on that helix (:func:`arc_length`). Beyond that helix's
    # half turn (rj > 2R) the most curved track reaching hit j is the one whose half turn ends
    # there (2R = rj): a 0.3 GeV particle's hits at r = 660 mm in a 0.15 GeV pass.
    if rj * inv_2R >= 1.0:
        si, sj = arc_length(ri, 1.0 / rj), 0.5 * np.pi * rj
    z0_line = zi - ri * (zj - zi) / (rj - ri)
    z0_helix = zi - si * (zj - zi) / (sj - si) if sj > si else z0_line
    return min(z0_line, z0_helix) <= z0_max and max(z0_line, z0_helix) >= -z0_max


@njit(cache=True, inline="always")
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
def _outer_range(ri, zi, si, lo, is_disk, r_lo, r_hi, z_lo, z_hi, inv_2R, z0_max):
    # The interval of the outer layer's along coordinate (z on a barrel, r on a disk) where a
    # doublet from hit i can meet the beam line (:func:`_meets_beam_line`). Along the track,
    # z_j = z_i t + z0 (1 - t), where t lies between the chord-radius ratio r_j / r_i and the
    # lowest pT's arc-length ratio s_j / s_i (the larger one, unless s_j is capped at the half
    # turn). A bound, never a cut: every doublet is still tested exactly. r_lo..z_hi: the layers'
    # hit extents.
    if not is_disk[lo]:
        t_lo, t_hi = r_lo[lo] / ri, r_hi[lo] / ri
        if inv_2R > 0.0:
            t_lo = min(t_lo, arc_length(r_lo[lo], inv_2R) / si)
            t_hi = max(t_hi, arc_length(r_hi[lo], inv_2R) / si)
            if r_hi[lo] * inv_2R >= 1.0 and r_hi[lo] > ri:
                # Beyond the half turn: the helix ending its half turn at r_hi goes farthest.
                t_hi = max(t_hi, 0.5 * np.pi * r_hi[lo] / arc_length(ri, 1.0 / r_hi[lo]))
        a, b = np.inf, -np.inf
        for t in (t_lo, t_hi):
            for z0 in (-z0_max, z0_max):
                zj = zi * t + z0 * (1.0 - t)
                a, b = min(a, zj), max(b, zj)
        return a, b
    if abs(zi) <= z0_max:
        return -np.inf, np.inf
    t_lo, t_hi = np.inf, 0.0
    for zl in (z_lo[lo], z_hi[lo]):
        for z0 in (-z0_max, z0_max):
            t = (zl - z0) / (zi - z0)
            t_lo, t_hi = min(t_lo, t), max(t_hi, t)
    if inv_2R <= 0.0:
        return t_lo * ri, t_hi * ri
    if ri * inv_2R >= 1.0:
        return 0.0, np.inf
    # Below the half turn: r_j <= t r_i on the chord and s_j >= t s_i on the helix. Beyond it
    # s_j stays at the half turn's, and every r_j passes if that ratio is inside [t_lo, t_hi].
    r_far = t_hi * ri if 0.5 * np.pi / inv_2R > t_hi * si else np.inf
    return np.sin(min(t_lo * si * inv_2R, 0.5 * np.pi)) / inv_2R, r_far


@njit(cache=True, nogil=True)
def _doublet_kernel(row_lo, row_hi, rank, order, hit_layer, bin_start, n_bins, u0, inv_width,
                    u_min, u_max, r_lo, r_hi, z_lo, z_hi, phi, r, z, arc, turn, pair_ptr, pairs,
                    between_ptr, between, is_disk, pos, r_min, r_max, z_min, z_max, r_out_max, max_gap, inv_2R,
                    phi_tol, d0_max, z0_max, cot_max, out_inner, out_outer, out_step, out_rz):
    # Rows are hits in their original order; ``rank`` places them among the hits sorted by
    # (layer, bin of the along coordinate, phi): the outer hits a doublet can reach are a few
    # bins, and in each the phi window is one binary-searched range. Each hit's doublets come
    # out together, sorted by step, then R-Z angle, then outer hit: the order the triplets
    # need, with no sort of all the doublets afterwards.
    n = 0
    for h in range(row_lo, row_hi):
        i = rank[h]
        ri = r[i]
        zi = z[i]
        si = arc[i]
        start = n
        li = hit_layer[i]
        for p in range(pair_ptr[li], pair_ptr[li + 1]):
            lo = pairs[p, 1]
            if bin_start[lo * n_bins] == bin_start[(lo + 1) * n_bins]:
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
            u_a, u_b = _outer_range(ri, zi, si, lo, is_disk, r_lo, r_hi, z_lo, z_hi, inv_2R,
                                    z0_max)
            # Rounding of the bound against the exact tests below.
            u_a -= 1e-6 * abs(u_a) + 1e-3
            u_b += 1e-6 * abs(u_b) + 1e-3
            if u_a > u_max[lo] or u_b < u_min[lo]:
                continue
            bend_i = _bend(ri, inv_2R) - phi_tol - d0_max / ri
            for k_bin in range(bin_of(u_a, u0[lo], inv_width[lo], n_bins),
                               bin_of(u_b, u0[lo], inv_width[lo], n_bins) + 1):
                b0 = bin_start[lo * n_bins + k_bin]
                b1 = bin_start[lo * n_bins + k_bin + 1]
                if b0 == b1:
                    continue
                # Both the bend and the d0 term grow with r_out: the farthest reach bounds the
                # window (on a disk, the bin's outer edge).
                r_far = r_reach
                if is_disk[lo] and inv_width[lo] > 0.0:
                    r_far = min(r_far, u0[lo] + (k_bin + 1) / inv_width[lo])
                window = max_turn(ri, r_far, inv_2R) + phi_tol + d0_max / ri - d0_max / r_far
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
                        # The layer pair orders the hits along the track; a track from the beam
                        # line also moves away from it (first half turn), on disks as in the
                        # barrel.
                        dr = r[j] - ri
                        if dr <= 0.0:
                            continue
                        dz = z[j] - zi
                        if abs(dz) > cot_max * dr:
                            continue
                        if not _meets_beam_line(ri, zi, si, r[j], z[j], arc[j], z0_max,
                                                inv_2R):
                            continue
                        dphi = phi[j] - phi[i]
                        if dphi > np.pi:
                            dphi -= 2 * np.pi
                        elif dphi < -np.pi:
                            dphi += 2 * np.pi
                        # Within the lowest pT's half turn max_turn is turn[j] - bend_i, both
                        # computed once per hit; beyond it, per pair.
                        if r[j] * inv_2R < 1.0:
                            if abs(dphi) > turn[j] - bend_i:
                                continue
                        elif abs(dphi) > (max_turn(ri, r[j], inv_2R) + phi_tol
                                          + d0_max * (1.0 / ri - 1.0 / r[j])):
                            continue
                        # Layers this doublet passes through without a hit: its own step.
                        step = 1
                        for q in range(between_ptr[p], between_ptr[p + 1]):
                            if crosses_layer(between[q], ri, zi, r[j], z[j], is_disk, pos, r_min,
                                             r_max, z_min, z_max):
                                step += 1
                                if step > max_gap:
                                    break
                        if step > max_gap:
                            continue
                        if n < len(out_inner):
                            out_inner[n] = h
                            out_outer[n] = order[j]
                            out_step[n] = step
                            out_rz[n] = np.arctan2(dz, dr)
                        n += 1
        if n <= len(out_inner):
            # Insertion sort of this hit's few doublets by (step, R-Z angle, outer hit).
            for a in range(start + 1, n):
                o, s, a_rz = out_outer[a], out_step[a], out_rz[a]
                b = a - 1
                while b >= start and (out_step[b] > s or (out_step[b] == s and (
                        out_rz[b] > a_rz or (out_rz[b] == a_rz and out_outer[b] > o)))):
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


@njit(cache=True)
def _arcs_and_bends(r, inv_2R):
    arc, bend = np.empty(len(r)), np.empty(len(r))
    for k in range(len(r)):
        arc[k] = arc_length(r[k], inv_2R)
        bend[k] = _bend(r[k], inv_2R)
    return arc, bend


#: Bins per layer of the along coordinate the outer hits are searched in. The (t, z0) bound of
#: :func:`_outer_range` spans a few of them on the strip layers; more bins cost more binary
#: searches per inner hit than they save candidates.
ALONG_BINS = 16


def build_doublets(x: np.ndarray, y: np.ndarray, z: np.ndarray, layer: np.ndarray,
                   layers: LayerTable, config: DoubletConfig = DoubletConfig(),
                   beamspot: BeamSpotConfig = BeamSpotConfig(), threads: int = 1) -> Doublets:
    """Doublets over hits given as coordinate arrays (mm) and layer indices into ``layers``,
    found by ``threads`` threads (the doublets do not depend on it)."""
    r = np.hypot(x, y)
    phi = np.arctan2(y, x)
    n_layers = len(layers)
    disk = layers.is_disk
    # Each layer's hits in ALONG_BINS bins of their along coordinate (z on a barrel, r on a
    # disk), then by phi.
    u = np.where(disk[layer], r, z)
    binned = bin_hits(u, phi, layer, n_layers, ALONG_BINS)
    order, rank = binned.order, binned.rank
    u_min, u_max = extent(u, layer, n_layers)
    r_lo, r_hi = extent(r, layer, n_layers)
    z_lo, z_hi = extent(z, layer, n_layers)
    graph = graph_of(layers, config)
    pairs = graph.pairs(config.max_layer_gap)
    pairs = pairs[np.argsort(pairs[:, 0], kind="stable")]
    pair_ptr = np.searchsorted(pairs[:, 0], np.arange(n_layers + 1)).astype(np.int64)
    between_ptr, between = graph.between(pairs)
    inv_2R = 0.5 * min_pt_curvature(config.min_pt, config.field_tesla)
    cot_max = float(np.sinh(config.eta_max))
    # Per hit, once: its arc length on the lowest pT's helix, and the azimuth that helix (and an
    # impact parameter up to d0_max) can turn by up to it.
    arc, bend = _arcs_and_bends(r, inv_2R)
    turn = bend - beamspot.d0_max / r
    args = (rank, order, layer[order].astype(np.int64), binned.start, ALONG_BINS, binned.u_min,
            binned.inv_width, u_min, u_max, r_lo, r_hi, z_lo, z_hi, phi[order], r[order],
            z[order], arc[order], turn[order], pair_ptr, pairs, between_ptr, between, disk,
            layers.position, layers.r_min, layers.r_max, layers.z_min, layers.z_max, np.maximum(r_hi, 0.0), config.max_layer_gap, inv_2R,
            config.phi_tolerance, beamspot.d0_max, z0_window(beamspot), cot_max)
    # Doublets per hit at pile-up 200: 34 at 0.75 GeV, 49 at 0.4 GeV and 84 at 0.15 GeV on the
    # hits earlier passes left (15 in the barrel-only event 1000). A guess short in a chunk of
    # dense pixel hits runs that chunk twice; one too long costs only untouched memory.
    guess = 40 * max(1.0, (0.75 / config.min_pt) ** 0.5) * len(x)
    inner, outer, step, rz = sized_pass(_doublet_kernel, args,
                                        (np.int64, np.int64, np.int8, np.float64),
                                        guess, len(x), threads)
    return Doublets(inner, outer, step, rz)
