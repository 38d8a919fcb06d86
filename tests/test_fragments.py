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

    config = Config()
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

    config = Config()
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


def test_the_pipeline_joins_fragments_and_can_be_told_not_to(event):
    import qtrack
    from qtrack.config import Config

    joined = qtrack.solve(event, seed=1)
    apart = qtrack.solve(event, seed=1, config=Config().replace(tracks={"merge_fragments": False}))
    assert "fragments" in joined.timings and "fragments" not in apart.timings
    assert len(joined.tracks) <= len(apart.tracks)
    assert joined.scores["trackml_score"] >= apart.scores["trackml_score"]
