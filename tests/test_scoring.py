"""Scores on hand-made events whose answers are worked out by hand in the comments."""
from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pandas as pd
import pytest

from qtrack.errors import InputError
from qtrack.scoring import (doublet_scores, focused_particles, majority, matched_particles,
                            particle_table, score_submission, score_tracks, submission_doublets,
                            track_rates, trackml_score, true_doublets)

# A small event: particle 1 has 4 hits (weight 0.15 each = 0.6), particle 2 has 2 hits (0.2 each =
# 0.4), particle 0 is noise (1 hit, weight 0).
HIT = np.array([11, 12, 13, 14, 21, 22, 99])
PID = np.array([1, 1, 1, 1, 2, 2, 0])
W = np.array([0.15, 0.15, 0.15, 0.15, 0.2, 0.2, 0.0])


def score(track_id, hit=HIT, pid=PID, w=W, sub_hit=None):
    return trackml_score(hit, pid, w, hit if sub_hit is None else sub_hit, np.asarray(track_id))


def test_perfect_submission():
    assert score([1, 1, 1, 1, 2, 2, 0]) == pytest.approx(1.0)
    # Track ids are labels only; the noise hit on a track of its own changes nothing.
    assert score([7, 7, 7, 7, 3, 3, 5]) == pytest.approx(1.0)


def test_submission_order_does_not_matter():
    perm = np.array([6, 2, 0, 5, 1, 4, 3])
    tid = np.array([1, 1, 1, 1, 2, 2, 0])
    assert trackml_score(HIT, PID, W, HIT[perm], tid[perm]) == pytest.approx(1.0)


def test_all_hits_in_track_zero():
    # One track of 7 hits: particle 1 holds 4/7 > 50 % of it and 4/4 of its own hits -> 0.6.
    assert score([0] * 7) == pytest.approx(0.6)
    # With only 3 hits of particle 1, nobody holds more than half of the 6-hit track -> 0.
    assert trackml_score(HIT[1:], PID[1:], W[1:], HIT[1:], np.zeros(6, int)) == pytest.approx(0.0)


def test_weights_are_normalised_by_their_total():
    assert score([0] * 7, w=W * 3) == pytest.approx(0.6)


def test_each_particle_needs_more_than_half_of_its_hits():
    # Particle 1 split 2 + 2: each track is pure but holds exactly 50 % of the particle -> no credit.
    assert score([1, 1, 3, 3, 2, 2, 0]) == pytest.approx(0.4)
    # Split 3 + 1: the 3-hit track counts (0.45), the 1-hit one does not.
    assert score([1, 1, 1, 3, 2, 2, 0]) == pytest.approx(0.45 + 0.4)


def test_exactly_half_purity_does_not_count():
    # Track 5 = 2 hits of particle 2 + 1 of particle 1 + noise: particle 2 holds 2/4 = 50 % -> no credit.
    # Track 1 = the other 3 hits of particle 1: 3/3 pure, 3/4 of the particle -> 0.45.
    assert score([1, 1, 1, 5, 5, 5, 5]) == pytest.approx(0.45)
    # Without the noise hit particle 2 holds 2/3 of track 5 -> counts (0.4).
    assert score([1, 1, 1, 5, 5, 5, 0]) == pytest.approx(0.45 + 0.4)


def test_noise_hits():
    # Noise hits weigh nothing but still dilute the tracks they are on.
    hit = np.array([1, 2, 3, 4, 5, 6, 7, 8])
    pid = np.array([1, 1, 1, 2, 2, 0, 0, 0])
    w = np.array([0.2, 0.2, 0.2, 0.2, 0.2, 0, 0, 0])
    # Track 1: particle 1 + one noise hit (3/4 pure) -> 0.6. Track 2: particle 2 (2 hits) + one
    # noise hit (2/3 pure) -> 0.4. The third noise hit is unassigned.
    assert trackml_score(hit, pid, w, hit, [1, 1, 1, 2, 2, 1, 2, 0]) == pytest.approx(1.0)
    # Track 2: particle 2 (2 hits) + two noise hits -> 2/4, no credit.
    assert trackml_score(hit, pid, w, hit, [1, 1, 1, 2, 2, 1, 2, 2]) == pytest.approx(0.6)
    # Track 2: particle 2 + all 3 noise hits -> the noise is the majority: no credit either.
    assert trackml_score(hit, pid, w, hit, [1, 1, 1, 2, 2, 2, 2, 2]) == pytest.approx(0.6)
    # A track made of noise alone scores nothing (the particles' hits are all on 1-hit tracks).
    assert trackml_score(hit, pid, w, hit, [1, 2, 3, 4, 5, 9, 9, 9]) == pytest.approx(0.0)
    # ... and the particles' tracks do not care whether the noise is on a track or not.
    assert trackml_score(hit, pid, w, hit, [1, 1, 1, 2, 2, 9, 9, 9]) == pytest.approx(1.0)
    assert trackml_score(hit, pid, w, hit, [1, 1, 1, 2, 2, 0, 0, 0]) == pytest.approx(1.0)


def test_ties_go_to_the_smaller_particle_id():
    # Track 1: two hits each of particles 5 and 3 (and one of 8): a tie between 3 and 5.
    # Track 2: one of the two hits of particle 8 (50 %, no credit). Track 3: particle 9 (credit 0.2).
    track = np.array([1, 1, 1, 1, 1, 2, 3, 3])
    pid = np.array([5, 3, 5, 3, 8, 8, 9, 9])
    w = np.array([0.1, 0.2, 0.1, 0.2, 0.05, 0.05, 0.1, 0.1])
    maj = majority(track, pid, w).set_index("track_id")
    assert maj.loc[1, "particle_id"] == 3
    assert maj.loc[1, "n"] == 2 and maj.loc[1, "nhits"] == 5
    assert maj.loc[1, "w"] == pytest.approx(0.4)
    # The order of the rows does not matter.
    perm = np.array([7, 5, 4, 3, 6, 2, 1, 0])
    maj2 = majority(track[perm], pid[perm], w[perm]).set_index("track_id")
    assert maj2.loc[1, "particle_id"] == 3
    # A tie never gives credit (the majority holds at most half of the track).
    assert trackml_score(np.arange(8), pid, w, np.arange(8), track) == pytest.approx(0.2 / 0.9)


def test_missing_hit_raises():
    with pytest.raises(InputError, match="missing.*hit_id 22"):
        trackml_score(HIT, PID, W, np.delete(HIT, 5), np.zeros(6, int))


def test_duplicate_hit_raises():
    sub_hit = np.append(HIT, 13)
    with pytest.raises(InputError, match="hit_id 13 appears more than once"):
        trackml_score(HIT, PID, W, sub_hit, np.zeros(8, int))


def _naive_score(hit, pid, w, track):
    """The official trackml-library rule, one track at a time, in plain Python."""
    pn = Counter(pid.tolist())
    members = defaultdict(list)
    for p, wt, t in zip(pid.tolist(), w.tolist(), track.tolist()):
        members[t].append((p, wt))
    total = 0.0
    for rows in members.values():
        cnt = Counter(p for p, _ in rows)
        best = min(cnt, key=lambda p: (-cnt[p], p))
        if 2 * cnt[best] > len(rows) and 2 * cnt[best] > pn[best]:
            total += sum(wt for p, wt in rows if p == best)
    return total / w.sum()


@pytest.mark.parametrize("seed", range(5))
def test_random_submissions_against_naive_rule(seed):
    rng = np.random.default_rng(seed)
    n = 300
    pid = rng.integers(0, 25, n)
    w = np.where(pid == 0, 0.0, rng.uniform(0.1, 1.0, n))
    hit = rng.permutation(10 * n)[:n]
    # Mostly right, with a few hits moved to other tracks or to track 0.
    track = pid.copy()
    moved = rng.random(n) < 0.3
    track[moved] = rng.integers(0, 30, moved.sum())
    assert trackml_score(hit, pid, w, hit, track) == pytest.approx(_naive_score(hit, pid, w, track), abs=1e-12)


def test_shipped_event_truth_as_submission(event):
    t = event.truth
    hid, pid, w = t.hit_id.to_numpy(), t.particle_id.to_numpy(), t.weight.to_numpy()
    assert trackml_score(hid, pid, w, hid, pid) == pytest.approx(1.0)
    assert trackml_score(hid, pid, w, hid, np.zeros_like(pid)) == 0.0
    assert trackml_score(hid, pid, w, hid, np.arange(len(pid))) == 0.0  # one track per hit


# ------------------------------------------------------------------------------------------------
# Doublets and track rates
# ------------------------------------------------------------------------------------------------

def test_true_doublets_follow_radius():
    # Particle 1 (focused): hits 1..4 listed out of radius order. Particle 2: weight 0 (unfocused).
    hit = np.array([3, 1, 4, 2, 6, 5, 7, 8])
    r = np.array([30.0, 10, 40, 20, 25, 15, 35, 50])
    pid = np.array([1, 1, 1, 1, 2, 2, 2, 0])
    w = np.array([0.25, 0.25, 0.25, 0.25, 0, 0, 0, 0])
    focused, unfocused = true_doublets(hit, r, pid, w)
    assert sorted(map(tuple, focused.tolist())) == [(1, 2), (2, 3), (3, 4)]
    assert sorted(map(tuple, unfocused.tolist())) == [(5, 6), (6, 7)]


def test_doublet_precision_and_recall():
    focused = np.array([[1, 2], [2, 3], [3, 4]])
    unfocused = np.array([[5, 6], [6, 7]])
    # Found: 2 focused (one listed twice), 1 unfocused, 2 fakes.
    found = np.array([[1, 2], [2, 3], [1, 2], [5, 6], [1, 5], [8, 4]])
    s = doublet_scores(found, focused, unfocused)
    assert s["doublets_found"] == 5
    assert s["doublets_true"] == 3
    assert s["doublet_precision"] == pytest.approx(2 / 4)   # the unfocused one is not a fake
    assert s["doublet_recall"] == pytest.approx(2 / 3)
    # Reversed doublets are not true doublets.
    s = doublet_scores(np.array([[2, 1], [3, 2]]), focused, unfocused)
    assert s["doublet_precision"] == 0.0 and s["doublet_recall"] == 0.0
    # Nothing found.
    s = doublet_scores(np.empty((0, 2), dtype=np.int64), focused, unfocused)
    assert s["doublet_precision"] == 0.0 and s["doublet_recall"] == 0.0 and s["doublets_found"] == 0
    # Everything found.
    s = doublet_scores(np.concatenate([focused, unfocused]), focused, unfocused)
    assert s["doublet_precision"] == 1.0 and s["doublet_recall"] == 1.0


def test_submission_doublets():
    hit = np.array([1, 2, 3, 4, 5, 6])
    r = np.array([30.0, 10, 20, 5, 50, 60])
    track = np.array([1, 1, 1, 0, 2, 2])
    assert sorted(map(tuple, submission_doublets(hit, r, track).tolist())) == [(2, 3), (3, 1), (5, 6)]


def test_track_rates():
    rows = [
        # (particle, track)
        *[(1, 1)] * 3, (1, 3),                 # T1: 3 of p1's 4 hits -> p1 found
        *[(2, 2)] * 3, (2, 3), (0, 2),         # T2: 3 hits of p2 + a noise hit -> p2 found
        (7, 3),                                # T3: p1, p2, p7: nobody > 50 % -> fake
        *[(3, 4)] * 3, *[(3, 11)] * 3,         # T4, T11: halves of p3 -> pure, p3 not found
        *[(0, 5)] * 3,                         # T5: noise -> fake
        *[(4, 6)] * 4, *[(4, 7)] * 3,          # T6 finds p4 (4 of 7); T7 pure p4 -> duplicate
        *[(5, 0)] * 5,                         # p5: on no track
        *[(6, 8)] * 4, (6, 9), *[(6, 10)] * 2, # T8 finds p6; T9, T10: under 3 hits, no tracks
    ]
    pid, track = (np.array(v) for v in zip(*rows))
    assert matched_particles(track, pid).tolist() == [1, 2, 4, 6]
    s = track_rates(track, pid)
    assert (s["tracks"], s["fake_tracks"]) == (9, 2)   # T1-8, T11; fakes T3, T5
    assert s["fake_rate"] == pytest.approx(2 / 9) and "duplicate_rate" not in s
    # Duplicates are of found focused particles only: T7 (p4), not T11 (p3).
    s = track_rates(track, pid, focused_found=np.array([1, 2, 4, 6]))
    assert s["duplicate_tracks"] == 1 and s["duplicate_rate"] == pytest.approx(1 / 9)
    s = track_rates(track, pid, focused_found=np.array([1, 2, 3, 6]))
    assert s["duplicate_tracks"] == 1                   # T4 or T11 (p3), T7 no longer


def test_track_rates_perfect_and_empty():
    pid = np.array([1, 1, 1, 2, 2, 2, 0])
    s = track_rates(pid, pid, np.array([1, 2]))
    assert (s["tracks"], s["fake_rate"], s["duplicate_rate"]) == (2, 0.0, 0.0)
    s = track_rates(np.zeros(7, int), pid, np.array([]))
    assert (s["tracks"], s["fake_rate"], s["duplicate_rate"]) == (0, 0.0, 0.0)


def _sets_event():
    """Seven particles, one per condition of the sets (module docstring of qtrack.scoring)."""
    #   name: (pt, vertex r, [(volume, layer) of each hit])
    barrel5 = [(8, 2), (8, 4), (8, 6), (8, 8), (13, 2)]
    spec = {
        1: (2.0, 0.01, barrel5),                                   # focused
        2: (1.5, 0.0, [(7, 14), (8, 2), (8, 4), (8, 6), (8, 8)]),  # focused, endcap (disk hit)
        3: (0.5, 0.0, barrel5 + [(13, 4)]),                        # low pT
        4: (3.0, 15.0, barrel5),                                   # not a primary
        5: (2.0, 0.0, [(8, 2), (8, 2), (8, 4), (8, 4), (8, 6), (8, 8)]),  # 4 layers only
        6: (0.2, 0.0, barrel5),                                    # below every band
        7: (1.0, 0.0, barrel5),                                    # focused (pT >= 1)
    }
    hits, truth, parts = [], [], []
    for p, (pt, vr, layers) in spec.items():
        for k, (vol, lay) in enumerate(layers):
            hid = len(hits) + 1
            r = 30.0 + 60 * k
            hits.append({"hit_id": hid, "x": r, "y": 0.0, "z": 10.0 * k, "volume_id": vol,
                         "layer_id": lay})
            truth.append({"hit_id": hid, "particle_id": p, "weight": pt / 100})
        parts.append({"particle_id": p, "vx": vr, "vy": 0.0, "vz": 0.0, "px": pt, "py": 0.0,
                      "pz": pt})
    hits.append({"hit_id": len(hits) + 1, "x": 5.0, "y": 5.0, "z": 0.0, "volume_id": 8,
                 "layer_id": 2})
    truth.append({"hit_id": len(truth) + 1, "particle_id": 0, "weight": 0.0})
    hits, truth = pd.DataFrame(hits), pd.DataFrame(truth)
    truth["weight"] /= truth.weight.sum()
    return hits, truth, pd.DataFrame(parts)


def test_particle_sets_and_their_rates():
    hits, truth, parts = _sets_event()
    t = particle_table(hits, truth, parts).set_index("particle_id")
    assert t.index[t.focused].tolist() == [1, 2, 7]
    assert t.index[t.endcap].tolist() == [2]
    assert t.index[t.low_pt].tolist() == [3]
    assert t.index[~t.primary].tolist() == [4]
    assert t.loc[5, "n_layers"] == 4 and t.loc[3, "eta"] == pytest.approx(np.arcsinh(1.0))
    focused = focused_particles(hits, truth, parts)
    assert focused.particle_id.tolist() == [1, 2, 7] and focused.endcap.tolist() == [False, True,
                                                                                       False]
    # Every particle a track of its own but particle 1 and 3 (on no track), and particle 2 split
    # 3 + 2: found by its 3-hit track, the 2-hit rest is no track.
    pid = truth.particle_id.to_numpy()
    track = np.where(np.isin(pid, [1, 3]), 0, pid)
    track[np.flatnonzero(pid == 2)[3:]] = 20
    s = score_tracks(hits, truth, track, parts)
    assert (s["focused_particles"], s["focused_found"]) == (3, 2)
    assert s["focused_efficiency"] == pytest.approx(2 / 3)
    assert (s["endcap_particles"], s["endcap_found"], s["low_pt_particles"], s["low_pt_found"]) \
        == (1, 1, 1, 0)
    # The oracle: particles 1, 2 and 7, each whole. The tracks above score 4, 5, 6, 7 whole and
    # 3 of particle 2's 5 hits (equal weights): above the oracle.
    w = truth.groupby("particle_id").weight.sum()
    assert s["oracle_score"] == pytest.approx(w[[1, 2, 7]].sum())
    assert s["trackml_score"] == pytest.approx(w[[4, 5, 6, 7]].sum() + 0.6 * w[2])
    assert s["trackml_score"] > s["oracle_score"]
    assert (s["tracks"], s["fake_tracks"], s["duplicate_tracks"]) == (5, 0, 0)
    # Without production vertices: the weighted figures only.
    s = score_tracks(hits, truth, track, parts.drop(columns=["vx", "vy"]))
    assert "focused_particles" not in s and "duplicate_rate" not in s and "tracks" in s


def test_score_submission_needs_hit_id_and_track_id(event):
    sub = pd.DataFrame({"hit_id": event.hits.hit_id, "track": 0})
    with pytest.raises(InputError, match="missing column track_id"):
        score_submission(event.hits, event.truth, sub)


def test_score_submission_of_the_truth(event):
    sub = pd.DataFrame({"hit_id": event.truth.hit_id, "track_id": event.truth.particle_id})
    s = score_submission(event.hits, event.truth, sub.sample(frac=1.0, random_state=0),
                         particles=event.particles)
    assert s["trackml_score"] == pytest.approx(1.0)
    assert s["doublet_recall"] == pytest.approx(1.0)
    assert s["doublet_precision"] == pytest.approx(1.0)
    assert s["focused_efficiency"] == 1.0 and s["low_pt_efficiency"] == 1.0
    assert s["fake_rate"] == 0.0 and s["duplicate_rate"] == 0.0


@pytest.mark.parametrize("what", ["missing", "duplicate", "column"])
def test_score_submission_errors_name_the_source(event, what):
    sub = pd.DataFrame({"hit_id": event.truth.hit_id, "track_id": event.truth.particle_id})
    if what == "missing":
        sub = sub.iloc[1:]
    elif what == "duplicate":
        sub = pd.concat([sub, sub.iloc[[0]]])
    else:
        sub = sub.rename(columns={"track_id": "tid"})
    with pytest.raises(InputError, match="^out/my-submission.csv: "):
        score_submission(event.hits, event.truth, sub, source="out/my-submission.csv")
