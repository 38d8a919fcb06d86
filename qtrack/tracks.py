"""Merge the selected triplets into tracks.

The selected triplets give doublets (with duplicates). Doublets that no other doublet contests (no
second doublet leaving the same hit, none entering the same hit) are chained into tracks. Contested
doublets (forks and merges) are then added back greedily, each time the one that joins the longest
tracks, as the reference does, but only where it keeps every hit on one track with one inner and one
outer neighbour. Tracks shorter than ``min_hits`` are dropped, and so are tracks whose
straight-line fit in r-z meets the beam line outside the luminous region (|z0| > ``z0_max``, when
the hit coordinates are given): combinatorial fakes built from hits of several low-pT particles,
which dominate at full density.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .config import TrackConfig
from .model.doublets import crosses_layer
from .model.kernels import unique_ints


#: Layers within this radius (mm) are the pixel detector's.
PIXEL_R_MAX = 200.0


@dataclass(frozen=True)
class Tracks:
    """Tracks as CSR: hits of track ``k`` are ``hits[ptr[k]:ptr[k+1]]`` (hit indices, inside out)."""

    ptr: np.ndarray
    hits: np.ndarray
    #: Doublets of the tracks (hit indices), for doublet-level scores.
    doublet_inner: np.ndarray
    doublet_outer: np.ndarray

    def __len__(self) -> int:
        return len(self.ptr) - 1

    def track_of_hit(self, n_hits: int) -> np.ndarray:
        """Track id per hit index: 1..n_tracks, 0 for hits on no track."""
        tid = np.zeros(n_hits, dtype=np.int64)
        tid[self.hits] = np.repeat(np.arange(1, len(self) + 1), np.diff(self.ptr))
        return tid

    def lengths(self) -> np.ndarray:
        return np.diff(self.ptr)


@njit(cache=True)
def _chain_length(link, h):
    # Hits on the chain from h following ``link`` (the next or the previous hit), h included.
    n = 1
    while link[h] >= 0:
        h = link[h]
        n += 1
    return n


@njit(cache=True)
def _link(start, end, n_hits):
    nxt = np.full(n_hits, -1, dtype=np.int64)
    prv = np.full(n_hits, -1, dtype=np.int64)
    n_out = np.zeros(n_hits, dtype=np.int64)
    n_in = np.zeros(n_hits, dtype=np.int64)
    for k in range(len(start)):
        n_out[start[k]] += 1
        n_in[end[k]] += 1
    contested = np.zeros(len(start), dtype=np.bool_)
    for k in range(len(start)):
        if n_out[start[k]] > 1 or n_in[end[k]] > 1:
            contested[k] = True
        else:
            nxt[start[k]] = end[k]
            prv[end[k]] = start[k]
    # Re-add contested doublets, the one joining the longest tracks first.
    alive = contested.copy()
    while True:
        best, best_score = -1, 0
        for k in range(len(start)):
            if not alive[k]:
                continue
            a, b = start[k], end[k]
            if nxt[a] >= 0 or prv[b] >= 0:
                alive[k] = False
                continue
            score = 0
            if prv[a] >= 0:
                score += _chain_length(prv, a)
            if nxt[b] >= 0:
                score += _chain_length(nxt, b)
            if score > best_score:
                best, best_score = k, score
        if best < 0:
            break
        nxt[start[best]] = end[best]
        prv[end[best]] = start[best]
        alive[best] = False
    return nxt, prv


@njit(cache=True)
def _collect(nxt, prv, min_hits):
    n_hits = len(nxt)
    ptr = [0]
    hits = []
    for h in range(n_hits):
        if prv[h] >= 0 or nxt[h] < 0:
            continue
        if _chain_length(nxt, h) < min_hits:
            continue
        while h >= 0:
            hits.append(h)
            h = nxt[h]
        ptr.append(len(hits))
    return np.array(ptr, dtype=np.int64), np.array(hits, dtype=np.int64)


@njit(cache=True)
def _double_hit_kernel(ptr, hits, track_of, layer_start, phi, x, y, z, layer, tol, max_s,
                       other_tracks, best_track, best_d):
    # For every hit of every track: hits on the same layer close to the track's local direction
    # (from its neighbours on the track) are the other module of an overlap. Candidates are the
    # unassigned hits, or with ``other_tracks`` the hits of the other tracks.
    for k in range(len(ptr) - 1):
        a, b = ptr[k], ptr[k + 1]
        for m in range(a, b):
            h = hits[m]
            p, q = hits[max(m - 1, a)], hits[min(m + 1, b - 1)]
            tx, ty, tz = x[q] - x[p], y[q] - y[p], z[q] - z[p]
            norm = np.sqrt(tx * tx + ty * ty + tz * tz)
            if norm == 0.0:
                continue
            tx, ty, tz = tx / norm, ty / norm, tz / norm
            lay = layer[h]
            l0, l1 = layer_start[lay], layer_start[lay + 1]
            rh = np.hypot(x[h], y[h])
            window = min((max_s + tol[lay]) / max(rh, 1.0), np.pi)
            for side in range(3):
                lo, hi = phi[h] - window, phi[h] + window
                if side == 1:
                    if lo >= -np.pi:
                        continue
                    lo, hi = lo + 2 * np.pi, np.pi
                elif side == 2:
                    if hi <= np.pi:
                        continue
                    lo, hi = -np.pi, hi - 2 * np.pi
                else:
                    lo, hi = max(lo, -np.pi), min(hi, np.pi)
                j0 = l0 + np.searchsorted(phi[l0:l1], lo)
                j1 = l0 + np.searchsorted(phi[l0:l1], hi, side="right")
                for j in range(j0, j1):
                    c = j
                    if c == h or (track_of[c] == k + 1 if other_tracks else track_of[c] != 0):
                        continue
                    dx, dy, dz = x[c] - x[h], y[c] - y[h], z[c] - z[h]
                    s = dx * tx + dy * ty + dz * tz
                    if abs(s) > max_s:
                        continue
                    ex, ey, ez = dx - s * tx, dy - s * ty, dz - s * tz
                    d = np.sqrt(ex * ex + ey * ey + ez * ez)
                    if d <= tol[lay] and d < best_d[c]:
                        best_d[c] = d
                        best_track[c] = k


def _overlap_matches(tracks: "Tracks", x, y, z, layer, tolerance, max_along, other_tracks):
    """Per hit: the track (0-based) whose local direction passes nearest to it within tolerance
    on its layer (-1: none), among tracks other than its own (``other_tracks``) or, for hits on
    no track, all of them."""
    n_hits = len(x)
    phi = np.arctan2(y, x)
    order = np.lexsort((phi, layer))
    rank = np.empty(n_hits, dtype=np.int64)
    rank[order] = np.arange(n_hits)
    layer_start = np.searchsorted(layer[order], np.arange(len(tolerance) + 1)).astype(np.int64)
    best_track = np.full(n_hits, -1, dtype=np.int64)
    best_d = np.full(n_hits, np.inf)
    _double_hit_kernel(tracks.ptr, rank[tracks.hits], tracks.track_of_hit(n_hits)[order],
                       layer_start, phi[order], x[order], y[order], z[order], layer[order],
                       np.asarray(tolerance, dtype=np.float64), float(max_along),
                       bool(other_tracks), best_track, best_d)
    out = np.empty(n_hits, dtype=np.int64)
    out[order] = best_track
    return out


def _regroup(tracks: "Tracks", track: np.ndarray, hit: np.ndarray, n_tracks: int) -> "Tracks":
    # Tracks from (track, hit) pairs, each track's hits in their given order.
    sort = np.argsort(track, kind="stable")
    ptr = np.searchsorted(track[sort], np.arange(n_tracks + 1)).astype(np.int64)
    return Tracks(ptr, hit[sort], tracks.doublet_inner, tracks.doublet_outer)


def collect_double_hits(tracks: "Tracks", x: np.ndarray, y: np.ndarray, z: np.ndarray,
                        layer: np.ndarray, tolerance: np.ndarray, max_along: float) -> "Tracks":
    """Add to every track the hits on the overlapping module of the layers it crosses.

    A hit on no track joins the track whose local direction (through the neighbours of its hit
    on the same layer) passes within ``tolerance[layer]`` mm of it, at most ``max_along`` mm
    from that hit along the track; the nearest such track if several.
    """
    if len(tracks) == 0 or len(x) == 0:
        return tracks
    best = _overlap_matches(tracks, x, y, z, layer, tolerance, max_along, False)
    added = np.flatnonzero(best >= 0)
    if len(added) == 0:
        return tracks
    track = np.concatenate([np.repeat(np.arange(len(tracks)), tracks.lengths()), best[added]])
    return _regroup(tracks, track, np.concatenate([tracks.hits, added]), len(tracks))


def merge_parallel_tracks(tracks: "Tracks", x: np.ndarray, y: np.ndarray, z: np.ndarray,
                          layer: np.ndarray, tolerance: np.ndarray, max_along: float,
                          min_fraction: float) -> "Tracks":
    """Merge every track that runs alongside a longer one through the overlapping modules.

    Where the modules of a layer overlap, a particle leaves two hits, and two tracks without a
    shared hit (so without a conflict in the QUBO) can follow it side by side: on the forward
    pixel disks this is most duplicates. A track at least ``min_fraction`` of whose hits are
    double hits of one longer track (as :func:`collect_double_hits` finds them) is merged into it.
    """
    if len(tracks) < 2:
        return tracks
    best = _overlap_matches(tracks, x, y, z, layer, tolerance, max_along, True)
    lengths = tracks.lengths()
    own = np.repeat(np.arange(len(tracks)), lengths)
    partner = best[tracks.hits]
    ok = partner >= 0
    pair, count = np.unique(np.stack([own[ok], partner[ok]], axis=1), axis=0,
                            return_counts=True)
    if len(pair) == 0:
        return tracks
    src, dst = pair[:, 0], pair[:, 1]
    # Into the longer track (the lower index among equals), when enough of the shorter's hits
    # lie alongside it; each track goes into at most one other, the best matched.
    longer = (lengths[dst] > lengths[src]) | ((lengths[dst] == lengths[src]) & (dst < src))
    good = longer & (count >= min_fraction * lengths[src])
    src, dst, count = src[good], dst[good], count[good]
    order = np.lexsort((dst, -count, src))
    src, dst = src[order], dst[order]
    first = np.ones(len(src), dtype=bool)
    first[1:] = src[1:] != src[:-1]
    into = np.arange(len(tracks))
    into[src[first]] = dst[first]
    # Follow chains (a into b into c) to their end; ``longer`` makes them acyclic.
    while True:
        nxt = into[into]
        if (nxt == into).all():
            break
        into = nxt
    if (into == np.arange(len(tracks))).all():
        return tracks
    keep = unique_ints(into)
    new_id = np.full(len(tracks), -1, dtype=np.int64)
    new_id[keep] = np.arange(len(keep))
    return _regroup(tracks, new_id[into[own]], tracks.hits, len(keep))


def double_hit_tolerance(layers) -> np.ndarray:
    """Distance (mm) from a track's direction within which a same-layer hit is its double hit,
    per layer: the hit resolution across the track grows from the pixels (layers within 200 mm of
    the beam line) to the short (within 750 mm) and long strips."""
    return np.select([layers.r_max <= 200.0, layers.r_max <= 750.0], [0.5, 2.0], 8.0)


def rz_line_fit(group: np.ndarray, r: np.ndarray, z: np.ndarray, n_groups: int):
    """Least-squares line z = z0 + slope * r through the points of each group.

    ``group`` numbers the points 0..n_groups-1; returns (slope, z0) per group (NaN for a group
    whose points all share one radius).
    """
    def total(v):
        return np.bincount(group, weights=v, minlength=n_groups)

    n = np.bincount(group, minlength=n_groups).astype(np.float64)
    sr, sz, srr, srz = total(r), total(z), total(r * r), total(r * z)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (n * srz - sr * sz) / (n * srr - sr * sr)
        z0 = (sz - slope * sr) / n
    return slope, z0


def track_z0(ptr: np.ndarray, hits: np.ndarray, r: np.ndarray, z: np.ndarray) -> np.ndarray:
    """z intercept at r = 0 of each track's least-squares line z(r)."""
    if len(ptr) < 2:
        return np.zeros(0)
    group = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
    return rz_line_fit(group, r[hits], z[hits], len(ptr) - 1)[1]


def build_tracks(h1: np.ndarray, h2: np.ndarray, h3: np.ndarray, selected: np.ndarray,
                 hit_id: np.ndarray, config: TrackConfig = TrackConfig(),
                 r: np.ndarray | None = None, z: np.ndarray | None = None,
                 z0_max: float = 0.0) -> Tracks:
    """Tracks from the selected triplets (hit-index arrays ``h1, h2, h3`` and a 0/1 mask).

    ``hit_id`` orders contested doublets the same way in every run, whatever the hit order.
    With the hits' ``r`` and ``z`` (mm) and ``z0_max`` > 0, tracks failing the z0 check are dropped.
    """
    sel = np.asarray(selected, dtype=bool)
    start = np.concatenate([h1[sel], h2[sel]])
    end = np.concatenate([h2[sel], h3[sel]])
    n_hits = len(hit_id)
    key = unique_ints(start * n_hits + end)
    start, end = key // n_hits, key % n_hits
    order = np.lexsort((hit_id[end], hit_id[start]))
    nxt, prv = _link(start[order], end[order], n_hits)
    ptr, hits = _collect(nxt, prv, max(config.min_hits, 2))
    if z0_max > 0 and r is not None and z is not None and len(ptr) > 1:
        keep = np.abs(track_z0(ptr, hits, r, z)) <= z0_max
        lengths = np.diff(ptr)[keep]
        hits = hits[np.repeat(keep, np.diff(ptr))]
        ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    in_track = np.zeros(n_hits, dtype=bool)
    in_track[hits] = True
    inner = np.flatnonzero(in_track & (nxt >= 0))
    return Tracks(ptr, hits, inner, nxt[inner])


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
def _circle_fit(h, use, x, y):
    # The circle through the hits ``h[use]`` in x-y (algebraic fit x^2 + y^2 + D x + E y + F = 0):
    # centre and radius, radius 0 when they are collinear.
    n = len(h)
    m = np.zeros((3, 3))
    v = np.zeros(3)
    for i in range(n):
        if not use[i]:
            continue
        row = (x[h[i]], y[h[i]], 1.0)
        rhs = -(x[h[i]] * x[h[i]] + y[h[i]] * y[h[i]])
        for a in range(3):
            v[a] += row[a] * rhs
            for b in range(3):
                m[a, b] += row[a] * row[b]
    if abs(np.linalg.det(m)) < 1e-12 * max(m[0, 0] * m[1, 1], 1.0):
        return 0.0, 0.0, 0.0
    d, e, f = np.linalg.solve(m, v)
    cx, cy = -d / 2.0, -e / 2.0
    return cx, cy, np.sqrt(max(cx * cx + cy * cy - f, 1e-9))


@njit(cache=True)
def _circle_rms(h, x, y):
    # RMS distance (mm) of the hits from the circle fitted through them in x-y.
    use = np.ones(len(h), dtype=np.bool_)
    cx, cy, radius = _circle_fit(h, use, x, y)
    if radius == 0.0:
        return 0.0
    total = 0.0
    for i in range(len(h)):
        d = np.hypot(x[h[i]] - cx, y[h[i]] - cy) - radius
        total += d * d
    return np.sqrt(total / len(h))


@njit(cache=True)
def _helix_rz_chi2(h, use, x, y, z, layer, along, is_disk, floor):
    # chi2 of the hits ``h[use]`` around the line z(s), s the arc length along their circle in
    # x-y, from its point closest to the beam line.
    n = len(h)
    cx, cy, radius = _circle_fit(h, use, x, y)
    if radius == 0.0:
        return np.inf
    phi0 = np.arctan2(-cy, -cx)
    s = np.zeros(n)
    zz = np.zeros(n)
    sm = zm = 0.0
    for i in range(n):
        dphi = np.arctan2(y[h[i]] - cy, x[h[i]] - cx) - phi0
        dphi = (dphi + np.pi) % (2.0 * np.pi) - np.pi
        s[i] = abs(dphi) * radius
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
    sigma = np.ones(n)
    for i in range(n):
        a = along[layer[h[i]]] * (slope if is_disk[layer[h[i]]] else 1.0)
        sigma[i] = np.sqrt(a * a + floor * floor)
    return _line_chi2(s, zz, sigma, use)


@njit(cache=True)
def _rz_outliers_kernel(ptr, hits, x, y, z, layer, along, is_disk, floor, max_chi2, out):
    for k in range(len(ptr) - 1):
        h = hits[ptr[k]:ptr[k + 1]]
        n = len(h)
        out[k] = max(n - 2, 0)
        use = np.ones(n, dtype=np.bool_)
        # Leave out, one at a time, the hit whose removal lowers chi2 most; at least four stay.
        for removed in range(n - 3):
            if _helix_rz_chi2(h, use, x, y, z, layer, along, is_disk, floor) \
                    <= max_chi2 * (n - removed - 2):
                out[k] = removed
                break
            if n - removed <= 4:
                break
            best, best_i = np.inf, -1
            for i in range(n):
                if use[i]:
                    use[i] = False
                    c = _helix_rz_chi2(h, use, x, y, z, layer, along, is_disk, floor)
                    use[i] = True
                    if c < best:
                        best, best_i = c, i
            if best_i < 0:
                break
            use[best_i] = False


def rz_outliers(tracks: Tracks, x, y, z, layer, along: np.ndarray, is_disk: np.ndarray,
                floor: float, max_chi2: float) -> np.ndarray:
    """Per track: how many of its hits must be left out for the others to lie on a straight line
    z(s) (s: arc length of the circle fitted in x-y) with chi2 per degree of freedom at most
    ``max_chi2``; hits are left out one at a time, each time the one whose removal lowers chi2
    most, the circle refitted without it (four hits stay at least: ``n - 2`` when even they do not
    fit).

    Each hit's error is its layer's resolution along the strips (``along``, mm; converted to z
    by the track's slope on disks) and ``floor`` (mm: multiple scattering, misalignment) in
    quadrature.
    """
    out = np.zeros(len(tracks), dtype=np.int64)
    if len(tracks):
        _rz_outliers_kernel(tracks.ptr, tracks.hits, x, y, z, layer,
                            np.asarray(along, np.float64), np.asarray(is_disk, np.bool_),
                            float(floor), float(max_chi2), out)
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


def quality_mask(tracks: Tracks, x, y, z, layer, layers, config: TrackConfig) -> np.ndarray:
    """Which tracks pass the quality cut (see :func:`quality_cut`)."""
    keep = np.ones(len(tracks), dtype=bool)
    if len(tracks) == 0:
        return keep
    if config.max_rz_chi2 > 0:
        outliers = rz_outliers(tracks, x, y, z, layer, layers.resolution()[1],
                               layers.is_disk, config.rz_chi2_floor, config.max_rz_chi2)
        # A track reaching the strips has crossed more layers than one staying in the pixels.
        strips = np.zeros(len(tracks), dtype=bool)
        on_strips = layers.r_max[layer[tracks.hits]] > PIXEL_R_MAX
        np.logical_or.at(strips, np.repeat(np.arange(len(tracks)), tracks.lengths()), on_strips)
        need = np.where(strips, config.strip_min_line_hits, config.min_line_hits)
        keep &= tracks.lengths() - outliers >= need
    if config.holed_min_hits > 0:
        holes = inner_holes(tracks, np.hypot(x, y), z, layer, layers)
        suspect = np.flatnonzero(keep & (holes >= 2) & (tracks.lengths() < config.holed_min_hits))
        rms = circle_rms(tracks, x, y, suspect)
        keep[suspect[rms > config.holed_max_xy_rms]] = False
    return keep


def circle_rms(tracks: Tracks, x, y, which: np.ndarray) -> np.ndarray:
    """RMS distance (mm) of the hits of tracks ``which`` from their circle fitted in x-y."""
    out = np.empty(len(which))
    for n, k in enumerate(which):
        out[n] = _circle_rms(tracks.hits[tracks.ptr[k]:tracks.ptr[k + 1]], x, y)
    return out


def quality_cut(tracks: Tracks, x, y, z, layer, layers, config: TrackConfig) -> Tracks:
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
    keep = quality_mask(tracks, x, y, z, layer, layers, config)
    if keep.all():
        return tracks
    lengths = tracks.lengths()
    hits = tracks.hits[np.repeat(keep, lengths)]
    ptr = np.concatenate([[0], np.cumsum(lengths[keep])]).astype(np.int64)
    in_track = np.zeros(len(x), dtype=bool)
    in_track[hits] = True
    inner = in_track[tracks.doublet_inner] & in_track[tracks.doublet_outer]
    return Tracks(ptr, hits, tracks.doublet_inner[inner], tracks.doublet_outer[inner])
