"""Double hits: where the modules of a layer overlap, a particle leaves two hits on it.

After the tracks are built, tracks that run side by side through the overlapping modules (no hit
in common, so no conflict coupler in the QUBO) are merged (:func:`merge_parallel_tracks`), then
every hit on no track joins the track that passes next to it on its layer
(:func:`collect_double_hits`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .model.kernels import bin_hits, bin_of, unique_ints
from .tracks import Tracks, regroup


@njit(cache=True, nogil=True)
def _double_hit_kernel(k_lo, k_hi, ptr, hits, track_of, bin_start, n_bins, u0, inv_width, phi, x,
                       y, z, along, layer, module, tol, max_s, other_tracks, best_track, best_d):
    # For every hit of tracks k_lo..k_hi: hits on the same layer close to the track's local
    # direction (from its neighbours on the track) are the other module of an overlap.
    # Candidates are the unassigned hits, or with ``other_tracks`` the hits of the other tracks;
    # a candidate within tol of the direction and max_s along it is within max_s + tol of the
    # hit in the along coordinate too: a few bins of the layer. A particle crosses a module
    # once: a hit on the track's own module (module >= 0) is another particle's, however near the
    # direction (a track crossing a barrel layer at a shallow angle runs along its module).
    for k in range(k_lo, k_hi):
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
            rh = np.sqrt(x[h] * x[h] + y[h] * y[h])
            reach = max_s + tol[lay]
            window = min(reach / max(rh, 1.0), np.pi)
            for k_bin in range(bin_of(along[h] - reach, u0[lay], inv_width[lay], n_bins),
                               bin_of(along[h] + reach, u0[lay], inv_width[lay], n_bins) + 1):
                l0 = bin_start[lay * n_bins + k_bin]
                l1 = bin_start[lay * n_bins + k_bin + 1]
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
                    for c in range(j0, j1):
                        if c == h or (track_of[c] == k + 1 if other_tracks else track_of[c] != 0):
                            continue
                        if module[h] >= 0 and module[c] == module[h]:
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


#: Bins per layer of the along coordinate for the overlap search (a few mm to a few cm each).
OVERLAP_BINS = 64


def _overlap_matches(tracks: "Tracks", x, y, z, layer, tolerance, max_along, other_tracks,
                     disk=None, threads: int = 1, module=None):
    """Per hit: the track (0-based) whose local direction passes nearest to it within tolerance
    on its layer (-1: none), among tracks other than its own (``other_tracks``) or, for hits on
    no track, all of them; and that distance (mm). The tracks are shared out to ``threads``
    threads; the answer does not depend on it."""
    n_hits = len(x)
    phi = np.arctan2(y, x)
    # Any coordinate bounds the search (a match is within max_along + tol in 3D); the one
    # along the layer's surface bounds it best.
    along = z if disk is None else np.where(np.asarray(disk)[layer], np.hypot(x, y), z)
    binned = bin_hits(along, phi, layer, len(tolerance), OVERLAP_BINS)
    order = binned.order
    track_of = tracks.track_of_hit(n_hits)[order]
    args = (tracks.ptr, binned.rank[tracks.hits], track_of, binned.start, OVERLAP_BINS,
            binned.u_min, binned.inv_width, phi[order], x[order], y[order], z[order],
            along[order], layer[order],
            (np.full(n_hits, -1, np.int64) if module is None else np.asarray(module, np.int64))[order],
            np.asarray(tolerance, dtype=np.float64),
            float(max_along), bool(other_tracks))
    # Each thread keeps its own nearest track per hit; merged in track order, so that ties go to
    # the lower track as in one pass.
    bounds = np.linspace(0, len(tracks), max(1, threads) + 1).astype(np.int64)

    def run(part):
        best_track = np.full(n_hits, -1, dtype=np.int64)
        best_d = np.full(n_hits, np.inf)
        _double_hit_kernel(int(bounds[part]), int(bounds[part + 1]), *args, best_track, best_d)
        return best_track, best_d

    if threads > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads, thread_name_prefix="qtrack-overlap") as pool:
            parts = list(pool.map(run, range(threads)))
    else:
        parts = [run(0)]
    best_track, best_d = parts[0]
    for t, d in parts[1:]:
        nearer = d < best_d
        best_track = np.where(nearer, t, best_track)
        best_d = np.where(nearer, d, best_d)
    out = np.empty(n_hits, dtype=np.int64)
    out[order] = best_track
    distance = np.empty(n_hits)
    distance[order] = best_d
    return out, distance


def collect_double_hits(tracks: "Tracks", x: np.ndarray, y: np.ndarray, z: np.ndarray,
                        layer: np.ndarray, tolerance: np.ndarray, max_along: float,
                        disk: np.ndarray | None = None, threads: int = 1,
                        module: np.ndarray | None = None) -> "Tracks":
    """Add to every track the hits on the overlapping module of the layers it crosses.

    A hit on no track joins the track whose local direction (through the neighbours of its hit
    on the same layer) passes within ``tolerance[layer]`` mm of it, at most ``max_along`` mm
    from that hit along the track, on another module (``module``: per hit, its module id within
    its layer, -1 or None unknown); the nearest such track if several. ``disk`` (per layer, is
    it a disk) narrows the search, and ``threads`` share it; neither changes the answer.
    """
    if len(tracks) == 0 or len(x) == 0:
        return tracks
    best, dist = _overlap_matches(tracks, x, y, z, layer, tolerance, max_along, False, disk,
                                  threads, module)
    added = np.flatnonzero(best >= 0)
    if len(added) == 0:
        return tracks
    # Each track takes at most one hit per layer, the nearest: the other module of the overlap
    # its hit there lies in. (A particle crossing where three or four modules overlap leaves more;
    # the later passes' collections give it the next.)
    order = np.lexsort((dist[added], layer[added], best[added]))
    added = added[order]
    first = np.ones(len(added), dtype=bool)
    first[1:] = (best[added][1:] != best[added][:-1]) | (layer[added][1:] != layer[added][:-1])
    added = np.sort(added[first])
    track = np.concatenate([np.repeat(np.arange(len(tracks)), tracks.lengths()), best[added]])
    return regroup(tracks, track, np.concatenate([tracks.hits, added]), len(tracks))


def merge_parallel_tracks(tracks: "Tracks", x: np.ndarray, y: np.ndarray, z: np.ndarray,
                          layer: np.ndarray, tolerance: np.ndarray, max_along: float,
                          min_fraction: float, disk: np.ndarray | None = None,
                          threads: int = 1, module: np.ndarray | None = None) -> "Tracks":
    """Merge every track that runs alongside a longer one through the overlapping modules.

    Where the modules of a layer overlap, a particle leaves two hits, and two tracks without a
    shared hit (so without a conflict in the QUBO) can follow it side by side: on the forward
    pixel disks this is most duplicates. A track at least ``min_fraction`` of whose hits are
    double hits of one longer track (as :func:`collect_double_hits` finds them) is merged into it.
    """
    if len(tracks) < 2:
        return tracks
    best, _ = _overlap_matches(tracks, x, y, z, layer, tolerance, max_along, True, disk, threads,
                               module)
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
    return regroup(tracks, new_id[into[own]], tracks.hits, len(keep))


def double_hit_tolerance(layers) -> np.ndarray:
    """Distance (mm) from a track's direction within which a same-layer hit is its double hit,
    per layer: three standard deviations of the hit's position (its layer's resolution across
    and along the strips, :meth:`qtrack.model.layers.LayerTable.resolution`) plus 0.5 mm for
    the track's direction, a chord between its neighbours, extrapolated over the few mm between
    the two modules. Pixels 0.56 mm, short strips 1.6 mm, long strips 9.9 mm."""
    across, along = layers.resolution()
    return 3.0 * np.hypot(across, along) + DIRECTION_ERROR_MM


#: How far (mm) a track's local direction may pass from its own double hit: measured in the
#: pixels, where the hit resolution (0.014 mm) is negligible.
DIRECTION_ERROR_MM = 0.5
