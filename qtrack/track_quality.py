"""The track-quality cut: which built tracks are chance combinations of hits of several particles.

A track must have enough hits on one helix in r-z (:func:`rz_outliers`), more of them once it
reaches the strips, and a weak track (short, starting after layers without a hit:
:func:`inner_holes`) must have its hits on one circle in x-y (:func:`quality_cut`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .config import TrackConfig
from .geometry import arc_lengths, circle_distance, circle_fit
from .model.doublets import crosses_layer
from .model.scattering import GEV_PER_TESLA_MM, scattering_angles
from .tracks import Tracks, track_z0

@njit(cache=True)
def _line_chi2(s, z, sigma, use):
    # chi2 of the weighted least-squares line z(s) through the points with ``use``.
    sw = sws = swz = swss = swsz = 0.0
    for i in range(len(s)):
        if not use[i]:
            continue
        w = 1.0 / (sigma[i] * sigma[i])
        sw += w
        sws += w * s[i]
        swz += w * z[i]
        swss += w * s[i] * s[i]
        swsz += w * s[i] * z[i]
    det = sw * swss - sws * sws
    if det <= 0.0:
        return np.inf
    slope = (sw * swsz - sws * swz) / det
    z0 = (swz - slope * sws) / sw
    chi2 = 0.0
    for i in range(len(s)):
        if use[i]:
            d = (z[i] - z0 - slope * s[i]) / sigma[i]
            chi2 += d * d
    return chi2


@njit(cache=True)
def _circle_rms(h, x, y):
    # RMS distance (mm) of the hits from the circle fitted through them in x-y.
    use = np.ones(len(h), dtype=np.bool_)
    a, d, e, f = circle_fit(h, use, x, y)
    total = 0.0
    for i in range(len(h)):
        dist = circle_distance(a, d, e, f, x[h[i]], y[h[i]])
        total += dist * dist
    return np.sqrt(total / len(h))


@njit(cache=True)
def _helix_rz_chi2(h, use, x, y, z, layer, along, is_disk, floor, x0, field):
    # chi2 of the hits ``h[use]`` around the line z(s), s the arc length along their circle (a
    # straight line for a straight track) in x-y, from its point closest to the beam line. Each
    # hit's error also holds the scattering (Highland, at the circle's pT, ``x0`` radiation
    # lengths per layer) over its distance from the previous hit.
    n = len(h)
    a, d, e, f = circle_fit(h, use, x, y)
    s = np.zeros(n)
    arc_lengths(a, d, e, f, h, x, y, s)
    zz = np.zeros(n)
    sm = zm = 0.0
    for i in range(n):
        zz[i] = z[h[i]]
        if use[i]:
            sm += s[i]
            zm += zz[i]
    k = use.sum()
    sm /= k
    zm /= k
    # Disk hits are measured in r, not z: their z error is the r error times dz/ds.
    num = den = 0.0
    for i in range(n):
        if use[i]:
            num += (s[i] - sm) * (zz[i] - zm)
            den += (s[i] - sm) ** 2
    slope = abs(num / den) if den > 0.0 else 0.0
    sin_t = 1.0 / np.sqrt(1.0 + slope * slope)
    pt = GEV_PER_TESLA_MM * field / (2.0 * abs(a)) if a != 0.0 else np.inf
    sigma = np.ones(n)
    for i in range(n):
        lay = layer[h[i]]
        err = along[lay] * (slope if is_disk[lay] else 1.0)
        ms = 0.0
        if x0[lay] > 0.0 and pt < np.inf:
            j = h[i - 1] if i > 0 else h[min(1, n - 1)]
            step = np.sqrt((x[h[i]] - x[j]) ** 2 + (y[h[i]] - y[j]) ** 2 + (z[h[i]] - z[j]) ** 2)
            polar, _ = scattering_angles(pt, slope, x0[lay], is_disk[lay])
            ms = polar * step / sin_t
        sigma[i] = np.sqrt(err * err + floor * floor + ms * ms)
    return _line_chi2(s, zz, sigma, use)


@njit(cache=True)
def _rz_outliers_kernel(ptr, hits, x, y, z, layer, along, is_disk, floor, max_chi2, x0, field,
                        out):
    for k in range(len(ptr) - 1):
        h = hits[ptr[k]:ptr[k + 1]]
        n = len(h)
        out[k] = max(n - 2, 0)
        use = np.ones(n, dtype=np.bool_)
        # Leave out, one at a time, the hit whose removal lowers chi2 most; at least four stay.
        for removed in range(n - 3):
            if _helix_rz_chi2(h, use, x, y, z, layer, along, is_disk, floor, x0, field) \
                    <= max_chi2 * (n - removed - 2):
                out[k] = removed
                break
            if n - removed <= 4:
                break
            best, best_i = np.inf, -1
            for i in range(n):
                if use[i]:
                    use[i] = False
                    c = _helix_rz_chi2(h, use, x, y, z, layer, along, is_disk, floor, x0, field)
                    use[i] = True
                    if c < best:
                        best, best_i = c, i
            if best_i < 0:
                break
            use[best_i] = False


def rz_outliers(tracks: Tracks, x, y, z, layer, along: np.ndarray, is_disk: np.ndarray,
                floor: float, max_chi2: float, radiation_lengths: np.ndarray | None = None,
                field_tesla: float = 2.0) -> np.ndarray:
    """Per track: how many of its hits must be left out for the others to lie on a straight line
    z(s) (s: arc length of the circle fitted in x-y) with chi2 per degree of freedom at most
    ``max_chi2``; hits are left out one at a time, each time the one whose removal lowers chi2
    most, the circle refitted without it (four hits stay at least: ``n - 2`` when even they do not
    fit).

    Each hit's error is its layer's resolution along the strips (``along``, mm; converted to z
    by the track's slope on disks), ``floor`` (mm: material the detector description leaves
    out, misalignment) and, with ``radiation_lengths`` per layer, the multiple scattering at the
    track's pT over the step from the previous hit, in quadrature.
    """
    out = np.zeros(len(tracks), dtype=np.int64)
    x0 = np.zeros(len(along)) if radiation_lengths is None else radiation_lengths
    if len(tracks):
        _rz_outliers_kernel(tracks.ptr, tracks.hits, x, y, z, layer,
                            np.asarray(along, np.float64), np.asarray(is_disk, np.bool_),
                            float(floor), float(max_chi2), np.asarray(x0, np.float64),
                            float(field_tesla), out)
    return out


@njit(cache=True)
def _inner_holes_kernel(ptr, hits, r, z, layer, z0, present, is_disk, pos, r_min, r_max, z_min,
                        z_max, out):
    n_layers = len(pos)
    # A layer without any hit in the event is not part of it (a barrel-only or endcap-only
    # file): crossing it is no hole.
    on_track = ~present
    for k in range(len(ptr) - 1):
        a, b = ptr[k], ptr[k + 1]
        for m in range(a, b):
            on_track[layer[hits[m]]] = True
        first = hits[a]
        holes = 0
        for lay in range(n_layers):
            if not on_track[lay] and crosses_layer(lay, 0.0, z0[k], r[first], z[first], is_disk, pos,
                                              r_min, r_max, z_min, z_max):
                holes += 1
        out[k] = holes
        for m in range(a, b):
            on_track[layer[hits[m]]] = not present[layer[hits[m]]]


def inner_holes(tracks: Tracks, r: np.ndarray, z: np.ndarray, layer: np.ndarray,
                layers) -> np.ndarray:
    """Per track: the layers its r-z line crosses between the beam line and its first hit on
    which it has no hit.

    A particle from the luminous region leaves a hit on (nearly) every layer it crosses; a
    track that starts further out is either a particle's outer part or a chance combination.
    Layers with no hit in the event at all do not count.
    """
    out = np.zeros(len(tracks), dtype=np.int64)
    if len(tracks):
        z0 = np.nan_to_num(track_z0(tracks.ptr, tracks.hits, r, z))
        present = np.bincount(layer, minlength=len(layers)) > 0
        _inner_holes_kernel(tracks.ptr, tracks.hits, r, z, layer, z0, present, layers.is_disk,
                            layers.position, layers.r_min, layers.r_max, layers.z_min,
                            layers.z_max, out)
    return out


def quality_mask(tracks: Tracks, x, y, z, layer, layers, config: TrackConfig,
                 radiation_lengths: np.ndarray | None = None,
                 field_tesla: float = 2.0) -> np.ndarray:
    """Which tracks pass the quality cut (see :func:`quality_cut`)."""
    keep = np.ones(len(tracks), dtype=bool)
    if len(tracks) == 0:
        return keep
    if config.max_rz_chi2 > 0:
        outliers = rz_outliers(tracks, x, y, z, layer, layers.resolution()[1],
                               layers.is_disk, config.rz_chi2_floor, config.max_rz_chi2,
                               radiation_lengths, field_tesla)
        # A track reaching the strips has crossed more layers than one staying in the pixels.
        strips = np.zeros(len(tracks), dtype=bool)
        on_strips = ~layers.is_pixel[layer[tracks.hits]]
        np.logical_or.at(strips, np.repeat(np.arange(len(tracks)), tracks.lengths()), on_strips)
        need = np.where(strips, config.strip_min_line_hits, config.min_line_hits)
        keep &= tracks.lengths() - outliers >= need
    if config.holed_min_hits > 0:
        holes = inner_holes(tracks, np.hypot(x, y), z, layer, layers)
        suspect = np.flatnonzero(keep & (holes >= 2) & (tracks.lengths() < config.holed_min_hits))
        rms = circle_rms(tracks, x, y, suspect)
        keep[suspect[rms > config.holed_max_xy_rms + scattering_rms(
            tracks, x, y, z, suspect, radiation_lengths, field_tesla, layer)]] = False
    return keep


def scattering_rms(tracks: Tracks, x, y, z, which: np.ndarray,
                   radiation_lengths: np.ndarray | None, field_tesla: float,
                   layer: np.ndarray) -> np.ndarray:
    """How far (mm, one standard deviation) multiple scattering moves the hits of tracks
    ``which`` off one circle in x-y: the azimuthal scattering width at the track's pT (from its
    circle) over its mean step between hits (0 without ``radiation_lengths``)."""
    out = np.zeros(len(which))
    if radiation_lengths is not None:
        _scattering_rms_kernel(tracks.ptr, tracks.hits, x, y, z, np.asarray(which, np.int64),
                               np.asarray(radiation_lengths, np.float64), float(field_tesla),
                               layer, out)
    return out


@njit(cache=True)
def _scattering_rms_kernel(ptr, hits, x, y, z, which, x0_layer, field, layer, out):
    for n in range(len(which)):
        h = hits[ptr[which[n]]:ptr[which[n] + 1]]
        if len(h) < 2:
            continue
        a = circle_fit(h, np.ones(len(h), dtype=np.bool_), x, y)[0]
        if a == 0.0:
            continue
        step = s_xy = x0 = 0.0
        for i in range(1, len(h)):
            dx, dy, dz = x[h[i]] - x[h[i - 1]], y[h[i]] - y[h[i - 1]], z[h[i]] - z[h[i - 1]]
            step += np.sqrt(dx * dx + dy * dy + dz * dz)
            s_xy += np.sqrt(dx * dx + dy * dy)
        for i in range(len(h)):
            x0 = max(x0, x0_layer[layer[h[i]]])
        cot = abs(z[h[-1]] - z[h[0]]) / max(s_xy, 1e-9)
        azimuth = scattering_angles(GEV_PER_TESLA_MM * field / (2.0 * abs(a)), cot, x0, False)[1]
        out[n] = azimuth * step / (len(h) - 1)


def circle_rms(tracks: Tracks, x, y, which: np.ndarray) -> np.ndarray:
    """RMS distance (mm) of the hits of tracks ``which`` from their circle fitted in x-y."""
    out = np.empty(len(which))
    _circle_rms_kernel(tracks.ptr, tracks.hits, x, y, np.asarray(which, np.int64), out)
    return out


@njit(cache=True)
def _circle_rms_kernel(ptr, hits, x, y, which, out):
    for n in range(len(which)):
        out[n] = _circle_rms(hits[ptr[which[n]]:ptr[which[n] + 1]], x, y)


def too_curved(tracks: Tracks, x, y, layer, layers, tilt: np.ndarray,
               radiation_lengths: np.ndarray, config) -> np.ndarray:
    """Which tracks bend more than a pass's lowest pT (``config``: its
    :class:`~qtrack.config.Config`) by over ``passes.handover_sigmas`` standard deviations of
    their fitted curvature (:func:`curvature_excess`). Each hit's variance across the track is
    bounded by the full length of its strips on disks (:func:`~qtrack.model.resolution.strip_smear`;
    ``tilt``: :attr:`qtrack.event.Event.strip_tilt`)."""
    from .model.doublets import min_pt_curvature
    from .model.resolution import strip_smear

    across, along = layers.resolution()
    sigma = across[layer]
    wx, wy = strip_smear(x, y, sigma, along[layer], layers.is_disk[layer], tilt)
    field = config.doublets.field_tesla
    max_curv = max(config.model.tplet_max_curv, min_pt_curvature(config.doublets.min_pt, field))
    return curvature_excess(tracks, x, y, sigma * sigma + wx * wx + wy * wy, radiation_lengths,
                            max_curv, config.passes.handover_sigmas, field)


def curvature_excess(tracks: Tracks, x, y, variance: np.ndarray, radiation_lengths: np.ndarray,
                     max_curv: float, n_sigma: float, field_tesla: float) -> np.ndarray:
    """Which tracks bend more than ``max_curv`` (1/mm, a pass's lowest pT) by over ``n_sigma``
    standard deviations of their fitted curvature.

    A pass's triplet cuts see three hits at a time: on the disks, where a forward track's hits lie
    a few mm apart across the beam, a lower-pT particle's first triplets pass and its later ones,
    better measured, do not, and the pass keeps its first half. The circle through all its
    hits measures the curvature with the hits' resolution ``variance`` (mm^2, across the
    track at most; Gluckstern: sigma sqrt(720 / (n + 4)) / L^2 over the arc length L) and the
    scattering in its ``radiation_lengths`` at the pass's lowest pT (PDG, "Passage of
    particles through matter": 0.016 GeV sqrt(sum x) / (L pT)). Tracks are ordered along the
    particle.
    """
    out = np.zeros(len(tracks), dtype=bool)
    if not len(tracks):
        return out
    from .geometry import circle_fits
    curv = 2.0 * np.abs(circle_fits(tracks.ptr, tracks.hits, x, y)[:, 0])
    which = np.repeat(np.arange(len(tracks)), tracks.lengths())
    step = np.hypot(np.diff(x[tracks.hits]), np.diff(y[tracks.hits]))
    step[which[1:] != which[:-1]] = 0.0
    length = np.bincount(which[1:], weights=step, minlength=len(tracks))
    n = tracks.lengths()
    mean_var = np.bincount(which, weights=variance[tracks.hits], minlength=len(tracks)) / n
    material = np.bincount(which, weights=radiation_lengths[tracks.hits], minlength=len(tracks))
    pt_min = GEV_PER_TESLA_MM * field_tesla / max_curv
    with np.errstate(divide="ignore", invalid="ignore"):
        resolution = np.sqrt(720.0 / (n + 4) * mean_var) / length ** 2
        scattering = 0.016 * np.sqrt(material) / (length * pt_min)
        out = curv - n_sigma * np.hypot(resolution, scattering) > max_curv
    return out & (length > 0)


def quality_cut(tracks: Tracks, x, y, z, layer, layers, config: TrackConfig,
                radiation_lengths: np.ndarray | None = None, field_tesla: float = 2.0) -> Tracks:
    """Drop the tracks that have fewer than ``config.min_line_hits`` hits on one helix in r-z
    (``config.strip_min_line_hits`` for tracks with a hit in the strips; :func:`rz_outliers` at
    ``config.max_rz_chi2``), and the short tracks (fewer than
    ``config.holed_min_hits`` hits) that start after two or more layers without a hit
    (:func:`inner_holes`) and whose hits are not on one circle in x-y either (RMS distance
    above ``config.holed_max_xy_rms``).

    Such tracks are, at full density, chance combinations of hits of several particles (on the
    ~97 % barrel event: mostly one hit from each of five particles). Meant for the tracks as
    built from the triplets, before double hits are collected (a wrong double hit would spoil
    the fit of a good track).
    """
    return keep_tracks(tracks, quality_mask(tracks, x, y, z, layer, layers, config,
                                            radiation_lengths, field_tesla), len(x))


def keep_tracks(tracks: Tracks, keep: np.ndarray, n_hits: int) -> Tracks:
    """The tracks ``keep`` (a mask), with the doublets among their hits."""
    if keep.all():
        return tracks
    lengths = tracks.lengths()
    hits = tracks.hits[np.repeat(keep, lengths)]
    ptr = np.concatenate([[0], np.cumsum(lengths[keep])]).astype(np.int64)
    in_track = np.zeros(n_hits, dtype=bool)
    in_track[hits] = True
    inner = in_track[tracks.doublet_inner] & in_track[tracks.doublet_outer]
    return Tracks(ptr, hits, tracks.doublet_inner[inner], tracks.doublet_outer[inner])
