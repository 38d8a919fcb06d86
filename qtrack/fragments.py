"""Fragments: two tracks of one particle, the second starting where the first ends, made one.

A particle's track can break in two: at a pass boundary (a pass keeps the hits its triplet cuts
let through, and a later pass finds the rest of the particle) or where a pass's chain of
triplets breaks. Neither part may then hold more than half of the particle's hits, and the
TrackML score counts neither. After the last pass, :func:`merge_fragments` joins a track to the
one whose first hit continues its last hit (a doublet of the softest pass's seeding) when the two
make one helix:

* joined, no more of their hits are off one r-z line than were off their two lines
  (:func:`qtrack.track_quality.rz_outliers`), and
* their hits lie on one circle in x-y within ``tracks.holed_max_xy_rms`` plus the scattering at
  the joined track's pT (:func:`qtrack.track_quality.circle_rms`, :func:`scattering_rms`).

Every track joins at most one track before and one after it, the best-fitting joins first. On
the PU200 seed-1 event of ``qtrack simulate``, 45 of the 2,787 candidate joins passed, all of
two fragments of one particle (TrackML 0.8141 -> 0.8159).

With ``tracks.end_hits`` every hit on no track is a one-hit fragment too, joined by the same
checks after the joins of two tracks: a track gains at most one hit at each end. A track's end
hit often fails its pass's triplet cuts (scattering tails, a disk's long strips), and no later
pass can find a lone hit: at pile-up 140 with 19 % noise hits, 1.6 % of the TrackML weight sat
on such free neighbours of found tracks' ends. The tracks stay the QUBO's: this adds a hit to a
track as the double-hit collection does, it follows no track further.
"""
from __future__ import annotations

import numpy as np

from .config import Config
from .model.doublets import build_doublets
from .passes import radiation_lengths
from .track_quality import circle_rms, keep_tracks, rz_outliers, scattering_rms
from .tracks import Tracks, hits_of, regroup


def _joined(tracks: Tracks, first: np.ndarray, second: np.ndarray) -> Tracks:
    # Each pair's two tracks as one candidate track (hits of ``first`` then ``second``).
    hits_a, pair_a = hits_of(tracks, first)
    hits_b, pair_b = hits_of(tracks, second)
    return regroup(tracks, np.concatenate([pair_a, pair_b]), np.concatenate([hits_a, hits_b]),
                   len(first))


def merge_fragments(tracks: Tracks, x: np.ndarray, y: np.ndarray, z: np.ndarray,
                    layer: np.ndarray, layers, config: Config, min_pt: float,
                    z0_max: float) -> Tracks:
    """``tracks`` (each in order along its particle) with fragments of one helix joined.

    ``min_pt`` (GeV) and the layer graph's gaps (``passes.max_layer_gap``) choose the doublets
    that may join a track's last hit to another's first; ``z0_max`` (mm) is the luminous
    region's half-length. With ``tracks.end_hits`` a hit on no track may join either end of a
    track (one at most per end). The scattering is that of ``model.layer_radiation_length``
    (:func:`qtrack.passes.radiation_lengths`).
    """
    x0 = radiation_lengths(layers, config)
    given, n_tracks = tracks, len(tracks)
    if config.tracks.end_hits:
        # Every hit on no track, as a one-hit fragment: it may continue a track at either end.
        free = np.flatnonzero(tracks.track_of_hit(len(x)) == 0)
        tracks = Tracks(np.r_[tracks.ptr, tracks.ptr[-1] + 1 + np.arange(len(free))],
                        np.r_[tracks.hits, free], tracks.doublet_inner, tracks.doublet_outer)
    if len(tracks) < 2:
        return given
    first_hit = tracks.hits[tracks.ptr[:-1]]
    last_hit = tracks.hits[tracks.ptr[1:] - 1]
    ends = np.unique(np.concatenate([first_hit, last_hit]))
    seeding = config.doublets.replace(min_pt=min_pt, max_layer_gap=config.passes.max_layer_gap)
    doublets = build_doublets(x[ends], y[ends], z[ends], layer[ends], layers, seeding,
                              config.beamspot.replace(z0_max=z0_max, d0_max=0.0),
                              config.solve.threads)
    ending = np.full(len(x), -1, dtype=np.int64)
    ending[last_hit] = np.arange(len(tracks))
    starting = np.full(len(x), -1, dtype=np.int64)
    starting[first_hit] = np.arange(len(tracks))
    a, b = ending[ends[doublets.inner]], starting[ends[doublets.outer]]
    ok = (a >= 0) & (b >= 0) & (a != b) & ((a < n_tracks) | (b < n_tracks))
    a, b = a[ok], b[ok]
    if not len(a):
        return given
    cfg = config.tracks
    field = config.doublets.field_tesla
    along = layers.resolution()[1]
    fit = (layers.is_disk, cfg.rz_chi2_floor, cfg.max_rz_chi2, x0, field)
    joined = _joined(tracks, a, b)
    which = np.arange(len(joined))
    allowed = cfg.holed_max_xy_rms + scattering_rms(joined, x, y, z, which, x0, field, layer)
    misfit = circle_rms(joined, x, y, which) / allowed
    # The r-z fit, the costlier check, only for the joins on one circle.
    good = misfit <= 1
    near = np.flatnonzero(good)
    own = rz_outliers(tracks, x, y, z, layer, along, *fit)
    good[near] = rz_outliers(keep_tracks(joined, good, len(x)), x, y, z, layer, along, *fit) \
        <= own[a[near]] + own[b[near]]
    # A join goes forward in the layer graph's order, as every track does, so joins never
    # close a loop.
    after = np.full(len(tracks), -1, dtype=np.int64)
    before = np.full(len(tracks), -1, dtype=np.int64)
    # Joins of two tracks before those of a free hit, which must not take a fragment's place.
    single = (a >= n_tracks) | (b >= n_tracks)
    for i in np.flatnonzero(good)[np.lexsort((misfit[good], single[good]))]:
        if after[a[i]] < 0 and before[b[i]] < 0:
            after[a[i]], before[b[i]] = b[i], a[i]
    joins = np.flatnonzero(after >= 0)
    if not len(joins):
        return given
    # Each chain's head, and each track's place along its chain.
    head, place, up = np.arange(len(tracks)), np.zeros(len(tracks), dtype=np.int64), before
    while (up >= 0).any():
        head = np.where(up >= 0, up, head)
        place += up >= 0
        up = np.where(up >= 0, before[up], -1)
    # A chain holds a track of the passes, or is a free hit that joined none.
    order = np.lexsort((place, head))
    real = np.zeros(len(tracks), dtype=bool)
    real[head[:n_tracks]] = True
    order = order[real[head[order]]]
    hits, k = hits_of(tracks, order)
    new_id = np.cumsum(np.r_[True, head[order][1:] != head[order][:-1]]) - 1
    out = regroup(tracks, new_id[k], hits, int(new_id[-1]) + 1)
    return Tracks(out.ptr, out.hits,
                  np.concatenate([tracks.doublet_inner, last_hit[joins]]).astype(np.int64),
                  np.concatenate([tracks.doublet_outer, first_hit[after[joins]]]).astype(np.int64))
