"""TrackML truth weights (the trackml-library's phase-1 definition), vectorised.

A hit's weight is ``weight_order(ihit, nhits) * weight_pt(pt)``, normalised to sum 1 over the
event. ``ihit`` is the hit's rank along its particle by distance |tz - vz| from the particle's
vertex in z (ties share the average rank, truncated, as pandas' ``rank`` gives); the order
weights interpolate the proposal (10, 8, 6, 5, 3, 3, 3, 5, 6) over the track's ``nhits`` hits
(capped at 20) and sum to 1 per track; particles with fewer than 4 hits and hits beyond the 20th
weigh 0. ``weight_pt`` is 0.2 up to pT = 0.5 GeV, rising linearly to 1 at 3 GeV and above (0
below 0.05 GeV). Noise hits (particle 0) weigh 0.
"""
from __future__ import annotations

import numpy as np

ORDER_PROPOSAL = np.array([10.0, 8.0, 6.0, 5.0, 3.0, 3.0, 3.0, 5.0, 6.0])
ORDER_MIN_HITS = 4
ORDER_MAX_HITS = 20


def _order_matrix() -> np.ndarray:
    """Order weight indexed by (nhits, ihit)."""
    w = np.zeros((ORDER_MAX_HITS + 1, ORDER_MAX_HITS))
    supports = np.arange(len(ORDER_PROPOSAL)) / (len(ORDER_PROPOSAL) - 1)
    for nhits in range(ORDER_MIN_HITS, ORDER_MAX_HITS + 1):
        row = np.interp(np.arange(nhits), supports * (nhits - 1), ORDER_PROPOSAL)
        w[nhits, :nhits] = row / row.sum()
    return w


ORDER_MATRIX = _order_matrix()


def weight_pt(pt: np.ndarray) -> np.ndarray:
    return np.interp(pt, [0.05, 0.5, 3.0], [0.2, 0.2, 1.0], left=0.0, right=1.0)


def hit_order(particle: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """0-based rank of each hit by ``distance`` within its particle; ties get the average rank,
    truncated."""
    n = len(particle)
    order = np.lexsort((distance, particle))
    p, d = particle[order], distance[order]
    new_group = np.r_[True, p[1:] != p[:-1]]
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    new_tie = new_group | np.r_[True, d[1:] != d[:-1]]
    tie_start = np.maximum.accumulate(np.where(new_tie, np.arange(n), 0))
    tie_end = np.r_[tie_start[1:] != tie_start[:-1], True]
    last = np.minimum.accumulate(np.where(tie_end, np.arange(n), n)[::-1])[::-1]
    rank = np.empty(n, np.int64)
    rank[order] = ((tie_start + last) // 2) - group_start
    return rank


def truth_weights(particle: np.ndarray, tz: np.ndarray, particle_ids: np.ndarray, vz: np.ndarray,
                  pt: np.ndarray, nhits: np.ndarray) -> np.ndarray:
    """Per-hit weights of hits whose true particle is ``particle`` (0 = noise) at true z ``tz``,
    given the particles table (``particle_ids``, vertex ``vz``, ``pt``, ``nhits``)."""
    sorter = np.argsort(particle_ids)
    row = sorter[np.searchsorted(particle_ids, particle, sorter=sorter).clip(max=len(particle_ids) - 1)]
    known = (particle != 0) & (particle_ids[row] == particle)
    w = np.zeros(len(particle))
    if not known.any():
        return w
    hit_p, hit_row = particle[known], row[known]
    ihit = hit_order(hit_p, np.abs(tz[known] - vz[hit_row]))
    n = np.minimum(nhits[hit_row], ORDER_MAX_HITS)
    inside = ihit < ORDER_MAX_HITS
    order_w = np.where(inside, ORDER_MATRIX[n, np.minimum(ihit, ORDER_MAX_HITS - 1)], 0.0)
    w[known] = order_w * weight_pt(pt[hit_row])
    total = w.sum()
    return w / total if total > 0 else w
