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
from .model.kernels import unique_ints




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


def track_z0(ptr: np.ndarray, hits: np.ndarray, r: np.ndarray, z: np.ndarray,
             x: np.ndarray | None = None, y: np.ndarray | None = None) -> np.ndarray:
    """z at the beam line of each track: its least-squares line z(s) extrapolated to s = 0.

    ``s`` is the arc length in x-y from the beam line on the circle through the origin and the
    track's first and last hits when ``x, y`` are given (z is linear in it along a helix), else
    the radius (straight tracks).
    """
    if len(ptr) < 2:
        return np.zeros(0)
    n = len(ptr) - 1
    group = np.repeat(np.arange(n), np.diff(ptr))
    s = r[hits]
    if x is not None and y is not None:
        first, last = hits[ptr[:-1]], hits[ptr[1:] - 1]
        # Circle through the origin, first and last hit: 1/(2R) = |cross| / (|a| |b| |a - b|).
        cross = np.abs(x[first] * y[last] - y[first] * x[last])
        chord = np.hypot(x[last] - x[first], y[last] - y[first])
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_2R = np.nan_to_num(cross / (r[first] * r[last] * chord))
        u = np.clip(r[hits] * inv_2R[group], 0.0, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(u > 1e-9, np.arcsin(u) / np.where(inv_2R[group] > 0, inv_2R[group], 1.0),
                         r[hits])
    return rz_line_fit(group, s, z[hits], n)[1]


def build_tracks(h1: np.ndarray, h2: np.ndarray, h3: np.ndarray, selected: np.ndarray,
                 hit_id: np.ndarray, config: TrackConfig = TrackConfig(),
                 r: np.ndarray | None = None, z: np.ndarray | None = None,
                 z0_max: float = 0.0, x: np.ndarray | None = None,
                 y: np.ndarray | None = None) -> Tracks:
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
        keep = np.abs(track_z0(ptr, hits, r, z, x, y)) <= z0_max
        lengths = np.diff(ptr)[keep]
        hits = hits[np.repeat(keep, np.diff(ptr))]
        ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    in_track = np.zeros(n_hits, dtype=bool)
    in_track[hits] = True
    inner = np.flatnonzero(in_track & (nxt >= 0))
    return Tracks(ptr, hits, inner, nxt[inner])


def concat_tracks(parts: list[Tracks]) -> Tracks:
    """The tracks of several passes as one :class:`Tracks` (in the order given)."""
    if len(parts) == 1:
        return parts[0]
    lengths = np.concatenate([p.lengths() for p in parts])
    return Tracks(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                  np.concatenate([p.hits for p in parts]).astype(np.int64),
                  np.concatenate([p.doublet_inner for p in parts]).astype(np.int64),
                  np.concatenate([p.doublet_outer for p in parts]).astype(np.int64))


def regroup(tracks: Tracks, track: np.ndarray, hit: np.ndarray, n_tracks: int) -> Tracks:
    """Tracks from (track, hit) pairs, each track's hits in their given order, with the
    doublets of ``tracks``."""
    sort = np.argsort(track, kind="stable")
    ptr = np.searchsorted(track[sort], np.arange(n_tracks + 1)).astype(np.int64)
    return Tracks(ptr, hit[sort], tracks.doublet_inner, tracks.doublet_outer)


def hits_of(tracks: Tracks, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The hits of tracks ``which``, one after the other, and for each its index into ``which``."""
    n = tracks.lengths()[which]
    start = np.repeat(tracks.ptr[which] - (np.cumsum(n) - n), n)
    return tracks.hits[start + np.arange(n.sum())], np.repeat(np.arange(len(which)), n)


def order_along(tracks: Tracks, r: np.ndarray, z: np.ndarray) -> Tracks:
    """The hits of every track in their order along the particle.

    A track is a particle's first half turn (every doublet moves away from the beam line), so
    its radius grows along it; hits at one radius (the two modules of a disk overlap) go by |z|.
    A looping particle's track is that first half turn: its hits on the way back in are not
    followed (in ``qtrack simulate`` events they hold under 1 % of the 0.1-0.5 GeV primaries'
    weight).
    """
    if len(tracks) == 0:
        return tracks
    which = np.repeat(np.arange(len(tracks)), tracks.lengths())
    order = np.lexsort((np.abs(z[tracks.hits]), r[tracks.hits], which))
    return Tracks(tracks.ptr, tracks.hits[order], tracks.doublet_inner, tracks.doublet_outer)
