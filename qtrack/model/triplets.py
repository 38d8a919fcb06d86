"""Triplets: two doublets sharing their middle hit, the QUBO's candidate variables.

The reference's hard cuts (hepqpr-qallse ``QallseMp``): layer span, Menger curvature and the R-Z
angle between the two doublets. The curvature cut allows for the hits' resolution: a triplet passes
when its curvature is within ``curvature_sigmas`` standard deviations of the largest a track of the
lowest pT has. In the barrel that margin is small next to the cut; on the pixel disks, where a
forward track's three hits may lie only a few mm apart across the beam, it is what keeps the track
(:func:`~qtrack.model.resolution.curvature_sigma`). The span is the sum of the two doublets'
layer-graph steps, so a triplet misses at most ``max_layer_gap - 1`` layers, in the barrel as on
the disks. The doublets leaving a hit are sorted by R-Z angle, so each doublet meets only the
window of continuations that can pass the angle cut.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..config import ModelConfig
from .doublets import Doublets, min_pt_curvature, rz_angle
from .kernels import csr, sized_pass
from .resolution import _chords_curvature_sigma, _norm, strip_smear, triplet_variances
from .scattering import GEV_PER_TESLA_MM, pt_of_curvature, scattering_angles


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
    #: Width (1/mm) of the curvature from multiple scattering at the middle hit
    #: (:func:`triplet_scattering`; 0 without material).
    curvature_ms: np.ndarray
    #: Its R-Z kink over the largest the cuts allow, in [0, 1]: along the helix against the
    #: hits' resolution and the scattering (:func:`helix_drz`), or ``drz`` over
    #: ``tplet_max_drz`` without the helix cut. The quadruplets' R-Z strength.
    rz_ratio: np.ndarray

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
    return 2.0 * twice_area / (_norm(dx1, dy1) * _norm(xc - xb, yc - yb) * _norm(dx2, dy2))


@njit(cache=True)
def _angle_diff(a, b):
    d = abs(b - a)
    return d if d <= np.pi else 2 * np.pi - d


@njit(cache=True)
def helix_drz_excess(x, y, z, a, b, c, curv, along, disk, floor, n_sigma, scatter=0.0):
    """How far the R-Z angle difference of triplet a-b-c, measured along the helix, lies beyond
    what the hits' resolution and multiple scattering allow (> 0: fails the cut;
    :func:`helix_drz`)."""
    drz, allowed = helix_drz(x, y, z, a, b, c, curv, along, disk, floor, n_sigma, scatter)
    return drz - allowed


@njit(cache=True)
def helix_drz(x, y, z, a, b, c, curv, along, disk, floor, n_sigma, scatter=0.0):
    """The R-Z angle difference of triplet a-b-c measured along the helix, and the largest the
    hits' resolution and multiple scattering allow (rad).

    The angle of each doublet is atan2(dz, s), s the arc length in x-y on the circle of curvature
    ``curv``: along a helix dz/ds is constant, so unlike the chord-radius angle it does not drift
    with the bend of a low-pT track. Its allowed difference is ``floor`` (material the detector
    description leaves out) plus ``n_sigma`` standard deviations of the hits' resolution along
    the strips (``along``: z on barrel layers, r on ``disk`` layers, where it moves s) and of the
    scattering angle ``scatter`` (rad) at hit b.
    """
    # Arc length over chord, asin(u)/u with u = k c / 2 <= 0.5 for hits within a half turn: the
    # series to u^6 is exact to 3e-4.
    k2 = 0.25 * curv * curv
    c1sq = (x[b] - x[a]) ** 2 + (y[b] - y[a]) ** 2
    c2sq = (x[c] - x[b]) ** 2 + (y[c] - y[b]) ** 2
    u1, u2 = k2 * c1sq, k2 * c2sq
    s1 = np.sqrt(c1sq) * (1.0 + u1 * (1.0 / 6.0 + u1 * (3.0 / 40.0 + u1 * 5.0 / 112.0)))
    s2 = np.sqrt(c2sq) * (1.0 + u2 * (1.0 / 6.0 + u2 * (3.0 / 40.0 + u2 * 5.0 / 112.0)))
    dz1, dz2 = z[b] - z[a], z[c] - z[b]
    l1, l2 = s1 * s1 + dz1 * dz1, s2 * s2 + dz2 * dz2
    if l1 == 0.0 or l2 == 0.0:
        return 0.0, max(floor, 1e-12)
    drz = abs(np.arctan2(s1 * dz2 - dz1 * s2, s1 * s2 + dz1 * dz2))
    # Derivatives of the difference by each hit's z (barrel) or r (disk), added in quadrature.
    var = scatter * scatter
    for h, gz, gr in ((a, s1 / l1, abs(dz1) / l1), (b, s1 / l1 + s2 / l2,
                                                     abs(dz1) / l1 + abs(dz2) / l2),
                      (c, s2 / l2, abs(dz2) / l2)):
        g = gr if disk[h] else gz
        var += (g * along[h]) ** 2
    return drz, max(floor + n_sigma * np.sqrt(var), 1e-12)


@njit(cache=True)
def triplet_scattering(z, a, b, c, ab, bc, curv, sigma_curv, max_curv, n_sigma, field, x0, disk):
    """Multiple scattering at the middle hit b of a triplet with chords ``ab`` and ``bc`` (mm):
    (polar angle width, rad; width of its curvature, 1/mm).

    The momentum is the lowest the triplet's curvature allows (``n_sigma`` of its measurement
    ``sigma_curv`` up, at most ``max_curv``, the pass's lowest pT). A kink of azimuth phi at b
    changes the Menger curvature by 2 phi / (|ab| + |bc|) (the turning angle at b over the mean
    chord).
    """
    if x0[b] <= 0.0:
        return 0.0, 0.0
    pt = pt_of_curvature(min(abs(curv) + n_sigma * sigma_curv, max_curv), field)
    cot = (z[c] - z[a]) / max(ab + bc, 1e-9)
    polar, azimuth = scattering_angles(pt, cot, x0[b], disk[b])
    return polar, 2.0 * azimuth / max(ab + bc, 1e-9)


@njit(cache=True, inline="always")
def _azimuth_bound(pt_min, cot_theta, x_normal, disk):
    """An upper bound of :func:`~qtrack.model.scattering.scattering_angles`' azimuthal width for
    any pT >= ``pt_min``, without its logarithm: Highland's factor 1 + 0.038 ln x is at most
    max(1, 1 + 0.038 (x - 1)), as ln x <= x - 1. Raised by 1e-6 over the rounding."""
    if x_normal <= 0.0:
        return 0.0
    sin_theta = 1.0 / np.sqrt(1.0 + cot_theta * cot_theta)
    cos_theta = abs(cot_theta) * sin_theta
    path = 1.0 / max(cos_theta, 1e-3) if disk else 1.0 / sin_theta
    x = x_normal * path
    return 1.000001 * 0.0136 / pt_min * np.sqrt(x) * max(1.0, 1.0 + 0.038 * (x - 1.0))


@njit(cache=True)
def circle_d0(xa, ya, xb, yb, xc, yc):
    """Distance (mm) of the beam line from the circle through three points in x-y (from the
    line through a and c when they are collinear)."""
    ux, uy = xb - xa, yb - ya
    vx, vy = xc - xa, yc - ya
    d = 2.0 * (ux * vy - uy * vx)
    if d == 0.0:
        n = _norm(vx, vy)
        return abs(xa * vy - ya * vx) / n if n > 0.0 else _norm(xa, ya)
    u2, v2 = ux * ux + uy * uy, vx * vx + vy * vy
    cx = xa + (vy * u2 - uy * v2) / d
    cy = ya + (ux * v2 - vx * u2) / d
    return abs(_norm(cx, cy) - _norm(cx - xa, cy - ya))


@njit(cache=True)
def d0_sigma(x, y, a, curv, sigma_curv, ms_curv, var_a, max_curv, n_sigma, field, x_before,
             w_before):
    """Standard deviation (mm) of a triplet's impact parameter for a track from the beam line:
    its first hit's variance across the track (``var_a``,
    :func:`~qtrack.model.resolution.across_track_var`), its curvature's error over the
    extrapolation (d0 moves by kappa r^2 / 2) and the scattering in the material it crossed before
    (each layer k at radius r_k displaces the track at the beam line by theta0_k r_k; ``w_before``
    = sum of x_k r_k^2)."""
    r2 = x[a] * x[a] + y[a] * y[a]
    sk = np.sqrt(sigma_curv * sigma_curv + ms_curv * ms_curv)
    var = var_a + (0.5 * r2 * sk) ** 2
    if x_before[a] > 0.0:
        pt = pt_of_curvature(min(abs(curv) + n_sigma * sigma_curv, max_curv), field)
        theta = 0.0136 / pt * max(1.0 + 0.038 * np.log(x_before[a]), 0.0)
        var += theta * theta * w_before[a]
    return np.sqrt(var)


@njit(cache=True)
def _outgoing_bounds(out_ptr, outer, x, y, z, var_max):
    """Per hit, over the doublets leaving it: the shortest x-y chord, the largest variance
    across a track of their outer hits (``var_max``) and the range of their dz / chord."""
    n = len(out_ptr) - 1
    chord_min = np.full(n, np.inf)
    var_out = np.zeros(n)
    cot_lo, cot_hi = np.full(n, np.inf), np.full(n, -np.inf)
    for b in range(n):
        for d in range(out_ptr[b], out_ptr[b + 1]):
            c = outer[d]
            chord = _norm(x[c] - x[b], y[c] - y[b])
            chord_min[b] = min(chord_min[b], chord)
            var_out[b] = max(var_out[b], var_max[c])
            if chord > 0.0:
                cot = (z[c] - z[b]) / chord
                cot_lo[b] = min(cot_lo[b], cot)
                cot_hi[b] = max(cot_hi[b], cot)
            else:
                cot_lo[b], cot_hi[b] = -np.inf, np.inf
    return chord_min, var_out, cot_lo, cot_hi


@njit(cache=True, inline="always")
def _width_bound_of_doublet(a, b, ab, x, z, var_max, x0, disk, pt_min, chord_min, var_out,
                            cot_lo, cot_hi):
    """Over every continuation c of doublet a-b (x-y chord ``ab``), an upper bound of the
    squared curvature width the kernel's bounds give a-b-c (:func:`_outgoing_bounds`; a
    triplet's dz / chord lies between its doublets'). Infinite where no bound holds."""
    bc = chord_min[b]
    if ab <= 0.0 or not bc > 0.0 or not np.isfinite(bc):
        return np.inf
    cot_ab = (z[b] - z[a]) / ab
    lo, hi = min(cot_ab, cot_lo[b]), max(cot_ab, cot_hi[b])
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return np.inf
    # The scattering grows with the path through the layer: the steepest dip's on a barrel
    # layer, the flattest's on a disk (0 when the range holds it).
    flat = 0.0 if lo <= 0.0 <= hi else min(abs(lo), abs(hi))
    azimuth = _azimuth_bound(pt_min, flat if disk[b] else max(abs(lo), abs(hi)), x0[b], disk[b])
    sig = 2.0 * np.sqrt(var_max[a] + var_max[b] + var_out[b]) / (ab * bc)
    ms = 2.0 * azimuth / (ab + bc)
    return sig * sig + ms * ms


@njit(cache=True, nogil=True)
def _triplet_kernel(row_lo, row_hi, inner, outer, out_ptr, x, y, z, sigma, along, disk, wx, wy,
                    var_max, x0, x0_track, own_track_material, field, x_before, w_before,
                    before_bound, d0_cut, d0_floor, step, rz, max_span, max_curv, n_sigma,
                    max_drz, drz_floor, chord_min, var_out, cot_lo, cot_hi, t_d1, t_d2, t_curv,
                    t_drz, t_ms, t_rz):
    # Bounds first: with the scattering of the pass's lowest pT (no logarithm) and each hit's
    # largest variance across any track (var_max), most candidates fail the curvature or d0 cut
    # before their exact widths are computed; the bounds are never below the exact widths, so
    # they reject only what the exact cuts would.
    pt_min = pt_of_curvature(max_curv, field)
    n = 0
    for d1 in range(row_lo, row_hi):
        a = inner[d1]
        b = outer[d1]
        dx1, dy1 = x[b] - x[a], y[b] - y[a]
        ab = _norm(dx1, dy1)
        # Most low-pT candidates miss the beam line by far: against a bound over all
        # continuations, their d0 alone rejects them (for the curvature cut it saved nothing).
        r2 = x[a] * x[a] + y[a] * y[a]
        d0_reject = np.inf
        if d0_cut and n_sigma > 0.0:
            sk2_max = _width_bound_of_doublet(a, b, ab, x, z, var_max, x0, disk, pt_min,
                                              chord_min, var_out, cot_lo, cot_hi)
            d0_reject = d0_floor + 1.000002 * n_sigma * np.sqrt(
                var_max[a] + 0.25 * r2 * r2 * sk2_max + before_bound[a])
        # Doublets leaving b are sorted by step, then R-Z angle: for each step the span allows,
        # only a window can pass the drz cut.
        b0, b1 = out_ptr[b], out_ptr[b + 1]
        s_end = b0 + np.searchsorted(step[b0:b1], max_span - step[d1], side="right")
        while b0 < s_end:
            s1 = b0 + np.searchsorted(step[b0:s_end], step[b0], side="right")
            lo = b0 + np.searchsorted(rz[b0:s1], rz[d1] - max_drz)
            hi = b0 + np.searchsorted(rz[b0:s1], rz[d1] + max_drz, side="right")
            b0 = s1
            for d2 in range(lo, hi):
                c = outer[d2]
                drz = _angle_diff(rz[d1], rz[d2])
                if drz > max_drz:
                    continue
                d0 = 0.0
                if d0_reject < np.inf:
                    d0 = circle_d0(x[a], y[a], x[b], y[b], x[c], y[c])
                    if d0 > d0_reject:
                        continue
                # _curvature and curvature_sigma, their chords computed once.
                dx2, dy2 = x[c] - x[a], y[c] - y[a]
                bc = _norm(x[c] - x[b], y[c] - y[b])
                curv = 2.0 * (dx1 * dy2 - dy1 * dx2) / (ab * bc * _norm(dx2, dy2))
                sig = 0.0
                va = 0.0
                if n_sigma > 0.0:
                    sig = _chords_curvature_sigma(ab, bc, var_max[a], var_max[b], var_max[c])
                    span = max(ab + bc, 1e-9)
                    ms_bound = 2.0 * _azimuth_bound(pt_min, (z[c] - z[a]) / span, x0[b],
                                                    disk[b]) / span
                    sk2 = sig * sig + ms_bound * ms_bound
                    if abs(curv) > max_curv and abs(curv) - n_sigma * np.sqrt(sk2) > max_curv:
                        continue
                    if d0_cut:
                        if not d0_reject < np.inf:  # not computed above (no bound)
                            d0 = circle_d0(x[a], y[a], x[b], y[b], x[c], y[c])
                        if d0 > d0_floor + 1.000001 * n_sigma * np.sqrt(
                                var_max[a] + 0.25 * r2 * r2 * sk2 + before_bound[a]):
                            continue
                    va, vb, vc = triplet_variances(x, y, a, b, c, sigma, wx, wy)
                    sig = _chords_curvature_sigma(ab, bc, va, vb, vc)
                polar, ms = triplet_scattering(z, a, b, c, ab, bc, curv, sig, max_curv, n_sigma,
                                               field, x0, disk)
                if abs(curv) > max_curv and (n_sigma == 0.0 or abs(curv) - n_sigma * np.sqrt(
                        sig * sig + ms * ms) > max_curv):
                    continue
                # The d0 cut before the R-Z one: it is cheaper, and at low pT it keeps about
                # one in eight of the triplets the R-Z cut would.
                if d0_cut and d0 > d0_floor + n_sigma * d0_sigma(
                        x, y, a, curv, sig, ms, va, max_curv, n_sigma, field, x_before,
                        w_before):
                    continue
                # The R-Z kink over what it may be: the quadruplets' R-Z strength.
                rz_ratio = drz / max_drz
                if drz_floor > 0.0:
                    helix, allowed = helix_drz(x, y, z, a, b, c, curv, along, disk, drz_floor,
                                               n_sigma, polar)
                    if helix > allowed:
                        continue
                    rz_ratio = helix / allowed
                if n < len(t_d1):
                    if own_track_material:
                        ms = triplet_scattering(z, a, b, c, ab, bc, curv, sig, max_curv,
                                                n_sigma, field, x0_track, disk)[1]
                    t_d1[n] = d1
                    t_d2[n] = d2
                    t_curv[n] = curv
                    t_drz[n] = drz
                    t_ms[n] = ms
                    t_rz[n] = rz_ratio
                n += 1
    return n


def build_triplets(x: np.ndarray, y: np.ndarray, z: np.ndarray, doublets: Doublets,
                   max_layer_gap: int, config: ModelConfig = ModelConfig(),
                   sigma: np.ndarray | None = None, along: np.ndarray | None = None,
                   disk: np.ndarray | None = None, threads: int = 1, min_pt: float = 0.0,
                   field_tesla: float = 2.0, x0: np.ndarray | None = None,
                   material_before: tuple[np.ndarray, np.ndarray] | None = None,
                   d0_floor: float = 0.0, tilt: np.ndarray | None = None,
                   x0_track: np.ndarray | None = None) -> Triplets:
    """All triplets passing the hard cuts.

    The curvature cut is ``config.tplet_max_curv``, or the curvature of a track of ``min_pt`` (GeV)
    in ``field_tesla`` if larger. ``sigma`` is each hit's r-phi resolution (mm;
    :meth:`LayerTable.resolution` of its layer); without it the curvature cut is the reference's
    fixed one. ``along`` (its resolution along the strips), ``disk`` and ``tilt``
    (:func:`~qtrack.model.layers.strip_tilts`) add the disks' radial error across the track
    (:func:`~qtrack.model.resolution.strip_smear`,
    :func:`~qtrack.model.resolution.across_track_var`). ``x0`` is the material of each hit's layer
    in radiation lengths (:meth:`LayerTable.radiation_lengths`): the curvature and R-Z cuts then
    allow for multiple scattering at the triplet's pT (:mod:`qtrack.model.scattering`); the
    scattering each triplet carries on to the quadruplets (``curvature_ms``) is that of
    ``x0_track`` when given. With ``material_before`` (per hit: the radiation lengths a track from
    the beam line crossed before it, and their sum weighted by the crossing radius squared,
    :func:`qtrack.model.scattering.material_before`), triplets must also point back to the beam
    line: their circle's distance from it within ``d0_floor`` (mm) plus ``curvature_sigmas``
    standard deviations (:func:`d0_sigma`). Triplets come out sorted by ``d1`` (the order
    :func:`build_couplers` needs), whatever the number of ``threads``.
    """
    n_hits = len(x)
    sigma = np.zeros(n_hits) if sigma is None else np.asarray(sigma, dtype=np.float64)
    # The curvature cut admits at least the tracks the doublets were seeded for.
    max_curv = max(config.tplet_max_curv, min_pt_curvature(min_pt, field_tesla))
    helix = along is not None and disk is not None and config.tplet_drz_floor > 0
    along = np.zeros(n_hits) if along is None else np.asarray(along, dtype=np.float64)
    disk = np.zeros(n_hits, dtype=np.bool_) if disk is None else np.asarray(disk, dtype=np.bool_)
    tilt = np.zeros(n_hits) if tilt is None else np.asarray(tilt, dtype=np.float64)
    x0 = np.zeros(n_hits) if x0 is None else np.asarray(x0, dtype=np.float64)
    x0_track = x0 if x0_track is None else np.asarray(x0_track, dtype=np.float64)
    wx, wy = strip_smear(x, y, sigma, along, disk, tilt)
    d0_cut = material_before is not None and config.curvature_sigmas > 0
    x_before, w_before = material_before if d0_cut else (np.zeros(n_hits), np.zeros(n_hits))
    x_before = np.asarray(x_before, dtype=np.float64)
    w_before = np.asarray(w_before, dtype=np.float64)
    # d0_sigma's scattering term at the lowest pT the curvature cut lets through.
    with np.errstate(divide="ignore"):
        highland_factor = np.where(x_before > 0, np.maximum(1 + 0.038 * np.log(x_before), 0), 0)
    before_bound = 1.000001 * (0.0136 * max_curv / (GEV_PER_TESLA_MM * field_tesla)
                               * highland_factor) ** 2 * w_before
    r = np.hypot(x, y)
    inner, outer = doublets.inner, doublets.outer
    rz = doublets.rz if doublets.rz is not None else rz_angle(inner, outer, r, z)
    out_ptr = csr(inner, n_hits)
    var_max = sigma * sigma + wx * wx + wy * wy
    bounds = (_outgoing_bounds(out_ptr, outer, x, y, z, var_max) if d0_cut
              else (np.zeros(n_hits),) * 4)
    # As many triplets as doublets at pile-up 200, about half as many in the barrel-only event.
    d1, d2, curv, drz, ms, rz_ratio = sized_pass(
        _triplet_kernel,
        (inner, outer, out_ptr, x, y, z, sigma, along, disk, wx, wy, var_max, x0, x0_track,
         x0_track is not x0, float(field_tesla), x_before,
         w_before, before_bound, d0_cut, float(d0_floor),
         doublets.step, rz, max_layer_gap + 1, max_curv, config.curvature_sigmas,
         config.tplet_max_drz, config.tplet_drz_floor if helix else 0.0, *bounds),
        (np.int64, np.int64, np.float64, np.float64, np.float64, np.float64), 1.25 * len(inner),
        len(inner),
        threads)
    span = (doublets.step[d1] + doublets.step[d2]).astype(np.int8)
    return Triplets(d1, d2, inner[d1], outer[d1], outer[d2], curv, drz, span, ms, rz_ratio)
