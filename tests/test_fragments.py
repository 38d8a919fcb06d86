"""Fragments of one particle's track joined after the passes (qtrack.fragments)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SIM = Path(__file__).resolve().parent.parent / "data" / "sim" / "event000000001"


def _tracks(parts):
    from qtrack.tracks import Tracks

    ptr = np.concatenate([[0], np.cumsum([len(h) for h in parts])]).astype(np.int64)
    empty = np.zeros(0, dtype=np.int64)
    return Tracks(ptr, np.concatenate(parts).astype(np.int64), empty, empty)


@pytest.fixture(scope="module")
def event():
    import qtrack

    return qtrack.load_event(SIM)


def _true_halves(event, min_pt):
    # The shipped event's primaries of >= 10 hits, one hit per layer, each cut in two halves.
    pid = event.truth.set_index("hit_id").reindex(event.hit_id).particle_id.to_numpy()
    p = event.particles.drop_duplicates("particle_id").set_index("particle_id")
    ids, counts = np.unique(pid[pid != 0], return_counts=True)
    pt = np.hypot(p.px, p.py).reindex(ids).to_numpy()
    vr = np.hypot(p.vx, p.vy).reindex(ids).to_numpy()
    halves = []
    for q in ids[(counts >= 10) & (pt > min_pt) & (vr < 1)]:
        h = np.flatnonzero(pid == q)
        h = h[np.sort(np.unique(event.layer[h], return_index=True)[1])]
        h = h[np.lexsort((np.abs(event.z[h]), event.r[h]))]
        halves += [h[:len(h) // 2], h[len(h) // 2:]]
    return halves, pid


def test_halves_of_true_tracks_are_joined_and_only_to_their_own(event):
    from qtrack.config import Config
    from qtrack.fragments import merge_fragments

    # The fragments alone: free hits would join the halves' ends too.
    config = Config().replace(tracks={"end_hits": False})
    halves, pid = _true_halves(event, 0.5)
    assert len(halves) > 500
    tracks = _tracks(halves)
    joined = merge_fragments(tracks, event.x, event.y, event.z, event.layer, event.layers,
                             config, 0.1, 200.0)
    # Measured: 459 particles, 918 halves -> 482 tracks; every joined track one particle's.
    assert len(joined) <= len(tracks) // 2 * 1.1
    assert sorted(joined.hits) == sorted(tracks.hits)
    for k in range(len(joined)):
        h = joined.hits[joined.ptr[k]:joined.ptr[k + 1]]
        assert len(set(pid[h])) == 1
        assert (np.diff(event.r[h]) >= 0).all()
    # The joining doublets are the tracks' doublets too.
    assert len(joined.doublet_inner) == len(tracks) - len(joined)


def test_halves_of_different_particles_are_not_joined(event):
    from qtrack.config import Config
    from qtrack.fragments import merge_fragments

    config = Config().replace(tracks={"end_hits": False})
    halves, pid = _true_halves(event, 0.5)
    # The inner halves of every other particle and the outer halves of the others: every
    # candidate join is of two particles (754 of them, all rejected).
    inner, outer = halves[0::2], halves[1::2]
    tracks = _tracks(inner[0::2] + outer[1::2])
    joined = merge_fragments(tracks, event.x, event.y, event.z, event.layer, event.layers,
                             config, 0.1, 200.0)
    for k in range(len(joined)):
        h = joined.hits[joined.ptr[k]:joined.ptr[k + 1]]
        assert len(set(pid[h])) == 1
    assert len(joined) == len(tracks)


def test_a_free_hit_at_either_end_is_joined_to_its_track(event):
    from qtrack.config import Config
    from qtrack.fragments import merge_fragments

    halves, pid = _true_halves(event, 0.2)
    whole = [np.concatenate(halves[k:k + 2]) for k in range(0, len(halves), 2)]
    # Each particle's track without its first and last hit, which stay free among the event's
    # other hits (all free: no other track takes them).
    tracks = _tracks([h[1:-1] for h in whole])
    joined = merge_fragments(tracks, event.x, event.y, event.z, event.layer, event.layers,
                             Config(), 0.1, 200.0)
    assert len(joined) == len(tracks)
    of_hit = tracks.track_of_hit(len(event.x)) - 1
    own = wrong = 0
    for j in range(len(joined)):
        h = joined.hits[joined.ptr[j]:joined.ptr[j + 1]]
        k = of_hit[h[len(h) // 2]]
        inner = tracks.hits[tracks.ptr[k]:tracks.ptr[k + 1]]
        # At most one hit added at each end, the track's own hits kept in order.
        assert len(h) <= len(inner) + 2
        start = 1 if h[0] != inner[0] else 0
        assert (h[start:start + len(inner)] == inner).all()
        added = np.setdiff1d(h, inner)
        own += np.isin(added, whole[k][[0, -1]]).sum()
        wrong += (pid[added] != pid[inner[0]]).sum()
    # Measured: 856 tracks, 1,275 of their 1,712 end hits joined back, 58 other particles' hits.
    assert own >= 0.65 * 2 * len(tracks)
    assert wrong <= 0.06 * 2 * len(tracks)


def test_the_pipeline_joins_fragments_and_can_be_told_not_to(event):
    import qtrack
    from qtrack.config import Config

    joined = qtrack.solve(event, seed=1)
    apart = qtrack.solve(event, seed=1, config=Config().replace(tracks={"merge_fragments": False}))
    assert "fragments" in joined.timings and "fragments" not in apart.timings
    assert len(joined.tracks) <= len(apart.tracks)
    assert joined.scores["trackml_score"] >= apart.scores["trackml_score"]
