"""The public Python API, used the way a user's short script would use it.

Load an event, seed doublets with a custom DoubletConfig, look at triplets and couplers, rebuild the
QUBO with other (QallseD0) weights, solve with dimod sampler instances, make tracks, score them; and
check the physics and the bookkeeping on the way.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import dimod
import numpy as np
import pytest
from dwave.samplers import SimulatedAnnealingSampler

import qtrack
from qtrack.config import Config, DoubletConfig, ModelConfig
from qtrack.model.doublets import build_doublets, graph_of
from qtrack.model.qubo import build_qubo
from qtrack.scoring import score_submission, true_doublets
from qtrack.components import components
from qtrack.tracks import build_tracks

EVENT = Path(__file__).resolve().parent.parent / "data" / "event000001000"


@pytest.fixture(scope="module")
def event():
    return qtrack.load_event(EVENT)


@pytest.fixture(scope="module")
def built(event):
    return qtrack.build(event, Config(doublets=DoubletConfig(min_pt=1.0)))


def test_event_arrays(event):
    assert event.has_truth and event.n_hits == len(event.x) == len(event.hit_id) > 1000
    assert len(np.unique(event.hit_id)) == event.n_hits
    # barrel hits: radii between the innermost (32 mm) and outermost (1020 mm) layers, give or take
    # the modules' thickness and tilt
    assert event.r.min() > 25 and event.r.max() < 1100


def test_custom_doublet_config(event, built):
    order = graph_of(event.layers).order[event.layer]
    loose = build_doublets(event.x, event.y, event.z, event.layer, event.layers, DoubletConfig())
    tight = built.doublets
    assert 0 < len(tight) < len(loose)
    # a higher pT threshold narrows the phi window: every tight doublet is also a loose one
    key = lambda d: set(zip(d.inner.tolist(), d.outer.tolist()))  # noqa: E731
    assert key(tight) <= key(loose)
    # doublets go outwards, skipping at most max_layer_gap - 1 layers
    assert (order[tight.outer] > order[tight.inner]).all()
    step = tight.step
    assert (step >= 1).all() and (step <= built.config.doublets.max_layer_gap).all()
    # physics: the seeding keeps (nearly) every true doublet of the focused (pT >= 1 GeV) particles
    truth = event.truth
    focused, _ = true_doublets(event.hits.hit_id.to_numpy(), np.hypot(event.hits.x, event.hits.y).to_numpy(),
                               truth.particle_id.to_numpy(), truth.weight.to_numpy())
    found = set(zip(event.hit_id[tight.inner].tolist(), event.hit_id[tight.outer].tolist()))
    kept = np.mean([tuple(p) in found for p in focused.tolist()])
    assert kept > 0.95, kept



def test_build_without_candidates(event, built):
    # What solve() builds: the same QUBO and sizes, without the first pass's candidate doublets
    # and triplets (at pile-up 400 the largest arrays of a run).
    lean = qtrack.build(event, built.config, keep_candidates=False)
    assert lean.doublets is None and lean.triplets is None
    assert lean.sizes() == built.sizes()
    assert lean.sizes()["doublets"] == len(built.doublets) > 0
    for f in ("linear", "irow", "icol", "quad"):
        np.testing.assert_array_equal(getattr(lean.qubo, f), getattr(built.qubo, f))
    result = qtrack.solve(event, sampler="neal", seed=1, min_pt=1.0, min_pts=[],
                          displaced_min_pt=0.0)
    assert result.triplets is None and result.sizes()["doublets"] == len(built.doublets)

def test_triplets_and_couplers(event, built):
    m, q = built.model, built.qubo
    t = m.triplets
    n = m.n_variables
    assert n == q.num_variables == len(t) > 0
    sizes = built.sizes()
    assert sizes["triplets"] >= n and sizes["quadruplets"] >= len(m.quad_t1)
    # triplets are two doublets sharing the middle hit, radius increasing inside out
    d = built.doublets
    assert (d.outer[t.d1] == d.inner[t.d2]).all()
    for got, want in ((t.h1, d.inner[t.d1]), (t.h2, d.outer[t.d1]), (t.h3, d.outer[t.d2])):
        np.testing.assert_array_equal(got, want)
    r = event.r
    assert ((r[t.h1] < r[t.h2]) & (r[t.h2] < r[t.h3])).all()
    # curvature within the cut, or within curvature_sigmas of it given the hits' resolution and
    # the scattering at the middle hit
    from qtrack.model.resolution import curvature_sigma

    cfg = built.config.model
    sigma = event.layers.resolution()[0][event.layer]
    for k in np.flatnonzero(np.abs(t.curvature) > cfg.tplet_max_curv):
        a, b, c = t.h1[k], t.h2[k], t.h3[k]
        s = curvature_sigma(event.x[a], event.y[a], event.x[b], event.y[b], event.x[c],
                            event.y[c], sigma[a], sigma[b], sigma[c])
        assert abs(t.curvature[k]) - cfg.curvature_sigmas * np.hypot(s, t.curvature_ms[k]) \
            <= cfg.tplet_max_curv * (1 + 1e-12)
    # quadruplet couplers join triplets sharing a doublet, with negative (rewarding) strength
    assert (t.d2[m.quad_t1] == t.d1[m.quad_t2]).all()
    assert (m.quad_strength < 0).all() and (m.quad_strength >= built.config.model.num_multiplier).all()
    # conflict couplers: distinct doublets leaving or entering the same hit, penalised
    ci, cj = m.conflict_i, m.conflict_j
    assert (ci < cj).all() and (cj < n).all()
    hits_i = np.stack([t.h1[ci], t.h2[ci], t.h3[ci]], 1)
    hits_j = np.stack([t.h1[cj], t.h2[cj], t.h3[cj]], 1)
    assert (hits_i[:, :, None] == hits_j[:, None, :]).any(axis=(1, 2)).all()
    # the BQM is the same QUBO
    bqm = built.bqm
    assert bqm.num_variables == n and bqm.num_interactions == q.num_couplers
    state = np.random.default_rng(0).integers(0, 2, n)
    e = q.linear @ state + np.sum(q.quad * state[q.irow] * state[q.icol])
    assert bqm.energy({i: int(v) for i, v in enumerate(state)}) == pytest.approx(e)


def test_rebuild_qubo_with_d0_weights_and_solve(event, built):
    cfg = built.config.replace(model={"use_d0_weights": True})
    qubo = build_qubo(event.x, event.y, event.z, built.model, cfg.model)
    # same couplers, new linear weights: non-negative, bounded by d0_factor + z0_factor
    np.testing.assert_array_equal(qubo.quad, built.qubo.quad)
    assert (built.qubo.linear == 0).all()
    mc = cfg.model
    assert (qubo.linear >= 0).all() and (qubo.linear <= mc.d0_factor + mc.z0_factor).all()
    assert qubo.linear.max() > 0
    d0_built = dataclasses.replace(built, config=cfg, qubo=qubo)
    res = qtrack.solve_built(d0_built, SimulatedAnnealingSampler())
    check_result(res, event)
    assert res.scores["trackml_score"] > 0.8
    assert res.scores["doublet_precision"] > 0.95
    json.dumps(res.summary())  # the summary is plain JSON


def check_result(res, event):
    s = res.scores
    for k in ("trackml_score", "doublet_precision", "doublet_recall", "focused_efficiency", "fake_rate",
              "duplicate_rate"):
        assert 0.0 <= s[k] <= 1.0, (k, s[k])
    tracks = res.tracks
    # tracks are disjoint, long enough, and go outwards
    assert len(np.unique(tracks.hits)) == len(tracks.hits)
    assert (tracks.lengths() >= res.config.tracks.min_hits).all()
    r = event.r
    for k in range(len(tracks)):
        h = tracks.hits[tracks.ptr[k]:tracks.ptr[k + 1]]
        assert (np.diff(r[h]) > 0).all()
    # the submission lists every hit once; its track ids are the tracks
    sub = res.submission
    assert len(sub) == len(event.hits) and sub.hit_id.is_unique
    assert sub.track_id[sub.track_id != 0].nunique() == len(tracks) == s["tracks"]
    # scoring the submission from scratch gives the same numbers
    again = score_submission(event.hits, event.truth, sub)
    assert again["trackml_score"] == pytest.approx(s["trackml_score"])


def test_neal_finds_the_optimum_of_small_components(event, built):
    res = qtrack.solve_built(built, SimulatedAnnealingSampler(), "neal")
    check_result(res, event)
    q = built.qubo
    n_comp, labels = components(q)
    sizes = np.bincount(labels, minlength=n_comp)
    bqm = built.bqm
    checked = 0
    for c in np.flatnonzero((sizes >= 2) & (sizes <= 12))[:20]:
        variables = np.flatnonzero(labels == c).tolist()
        sub = bqm.copy()
        sub.fix_variables({v: 0 for v in range(q.num_variables) if labels[v] != c})
        exact = dimod.ExactSolver().sample(sub).first.energy
        found = sub.energy({v: int(res.solution.state[v]) for v in variables})
        assert found == pytest.approx(exact, abs=1e-9)
        checked += 1
    assert checked > 0


def test_any_dimod_sampler_and_tracks_by_hand(event, built):
    # A random sampler gives a bad answer but a valid one: the scores stay in range.
    cfg = built.config.replace(solve={"num_reads": 3, "seed": 5})
    res = qtrack.solve_built(dataclasses.replace(built, config=cfg), dimod.RandomSampler())
    check_result(res, event)
    assert res.sampler == "RandomSampler"
    # tracks from any selection of triplets, by hand: all triplets selected still gives disjoint tracks
    t = built.model.triplets
    tracks = build_tracks(t.h1, t.h2, t.h3, np.ones(len(t), dtype=np.int8), event.hit_id,
                          built.config.tracks, r=event.r, z=event.z)
    assert len(np.unique(tracks.hits)) == len(tracks.hits)


def test_solve_by_name_is_reproducible(event):
    cfg = Config().replace(solve={"seed": 3, "num_reads": 4, "num_sweeps": 200},
                           model=dataclasses.asdict(ModelConfig(use_d0_weights=True)))
    a = qtrack.solve(event, "neal", cfg)
    b = qtrack.solve(event, "neal", cfg)
    np.testing.assert_array_equal(a.solution.state, b.solution.state)
    assert a.scores == b.scores
