"""Every particle: iterative passes, multiple scattering, helix-aware origins, tracks in order."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
SIM = REPO / "data" / "sim" / "event000000001"
EVENT = REPO / "data" / "event000001000"


@pytest.fixture(scope="module")
def solved_modes():
    import qtrack
    from qtrack.config import Config

    event = qtrack.load_event(SIM)
    # The fast preset at the default's reads (it runs fewer): its one pass is then the
    # default's first, read for read.
    fast = Config.from_toml("fast").replace(solve={"num_reads": Config().solve.num_reads})
    return qtrack.solve(event, seed=1), qtrack.solve(event, config=fast, seed=1)


def test_passes_find_the_low_pt_and_displaced_particles(solved_modes):
    default, fast = solved_modes
    s, f = default.scores, fast.scores
    # Measured on the shipped ttbar + PU20 event: TrackML 0.877 against 0.50 for the single
    # pT >= 0.75 GeV pass, 0.3-1 GeV primaries 99 % against 46 %, no fake track.
    assert s["trackml_score"] >= 0.75
    assert s["trackml_score"] >= f["trackml_score"] + 0.2
    assert s["low_pt_efficiency"] >= 0.9 > f["low_pt_efficiency"]
    assert s["focused_efficiency"] >= 0.97
    assert s["fake_rate"] <= 0.05 and s["duplicate_rate"] <= 0.02
    # Seven passes, each on the hits the earlier ones left; the fast mode is the first alone.
    assert [p["min_pt"] for p in default.passes] == [0.75, 0.4, 0.25, 0.15, 0.1, 0.3, 0.2]
    hits = [p["hits"] for p in default.passes]
    assert hits == sorted(hits, reverse=True) and hits[-1] < 0.8 * hits[0]
    assert [p["from_beam_line"] for p in default.passes] == [False] + [True] * 4 + [False] * 2
    # The soft displaced pass's tracks are longer; it found 9 on this event.
    assert [p["min_hits"] for p in default.passes] == [5] * 6 + [6]
    assert default.passes[-1]["tracks"] > 0
    assert len(fast.passes) == 1 and fast.passes[0]["tracks"] > 0
    # Every track was built from selected triplets: the first pass's tracks are the fast mode's,
    # less those bending more than 0.75 GeV (by a standard deviation of their fit), which the
    # default leaves to its later passes (the fast mode has none and keeps them): 382 of 541.
    first, alone = default.passes[0]["tracks"], fast.passes[0]["tracks"]
    assert 0.6 * alone < first < 0.85 * alone


def test_tracks_are_ordered_along_the_particle(solved_modes):
    result = solved_modes[0]
    t, r, z = result.tracks, result.event.r, result.event.z
    for k in range(len(t)):
        h = t.hits[t.ptr[k]:t.ptr[k + 1]]
        assert (np.diff(r[h]) >= 0).all()
    # Double hits are the other modules of an overlap: a track rarely holds two hits of one module.
    module = result.event.hits.set_index("hit_id").loc[result.event.hit_id].module_id.to_numpy()
    key = pd.DataFrame({"track": np.repeat(np.arange(len(t)), t.lengths()),
                        "layer": result.event.layer[t.hits], "module": module[t.hits]})
    assert key.duplicated().mean() < 0.01


def test_highland_formula_and_path_lengths():
    from qtrack.model.scattering import highland, scattering_angles

    # PDG eq. 34.16 by hand: 1 GeV through 1 % X0.
    assert highland(1.0, 0.01) == pytest.approx(0.0136 * 0.1 * (1 + 0.038 * np.log(0.01)))
    assert highland(1.0, 0.0) == 0.0
    # A barrel layer crossed at 45 degrees: path sqrt(2), momentum sqrt(2) pT.
    polar, azimuth = scattering_angles(1.0, 1.0, 0.01, False)
    assert polar == pytest.approx(highland(np.sqrt(2), 0.01 * np.sqrt(2)))
    assert azimuth == pytest.approx(polar * np.sqrt(2))
    # A disk crossed at 45 degrees has the same path; nearly along the beam, a long one.
    assert scattering_angles(1.0, 1.0, 0.01, True)[0] == pytest.approx(polar)
    assert scattering_angles(1.0, 10.0, 0.01, True)[0] < scattering_angles(1.0, 10.0, 0.01, False)[0]


def test_triplet_d0_of_known_circles():
    from qtrack.model.triplets import circle_d0

    # Three points on the circle of radius 100 through the origin, centred at (100, 0).
    pts = [(100 + 100 * np.cos(a), 100 * np.sin(a)) for a in (2.5, 2.0, 1.5)]
    assert circle_d0(*pts[0], *pts[1], *pts[2]) == pytest.approx(0.0, abs=1e-9)
    # The same circle moved 3 mm away from the beam line.
    moved = [(x + 3.0, y) for x, y in pts]
    assert circle_d0(*moved[0], *moved[1], *moved[2]) == pytest.approx(3.0, abs=1e-9)
    # Collinear points: the line's distance from the origin.
    assert circle_d0(10.0, 5.0, 20.0, 5.0, 30.0, 5.0) == pytest.approx(5.0)


def test_material_before_counts_the_layers_crossed():
    from qtrack.model.layers import TRACKML
    from qtrack.model.scattering import BEAM_PIPE, material_before

    x_layer = np.full(len(TRACKML), 0.02)
    # At z = 0 a hit at r = 200 mm lies beyond the beam pipe and the four pixel layers.
    total, weighted = material_before(np.array([200.0]), np.array([0.0]), np.array([0.0]),
                                      TRACKML, x_layer)
    assert total[0] == pytest.approx(BEAM_PIPE[1] + 4 * 0.02)
    radii = TRACKML.position[(TRACKML.volume_id == 8)]
    assert weighted[0] == pytest.approx(BEAM_PIPE[1] * BEAM_PIPE[0] ** 2
                                        + 0.02 * np.sum(radii ** 2))


def _helix(pt, cot, z0, s):
    # Points at arc lengths s of a helix from (0, 0, z0) in 2 T, starting along +x.
    radius = pt / (0.3e-3 * 2.0)
    phi = s / radius
    return radius * np.sin(phi), radius * (1 - np.cos(phi)), z0 + cot * s


def test_low_pt_forward_doublets_and_tracks_meet_the_beam_line():
    from qtrack.model.doublets import _meets_beam_line, arc_length
    from qtrack.tracks import track_z0

    # 0.15 GeV at eta 2 from z0 = 0, deep in the endcap: its straight r-z line misses the beam
    # line by 180 mm, its helix does not.
    x, y, z = _helix(0.15, 3.63, 0.0, np.array([300.0, 330.0, 360.0, 390.0, 420.0]))
    r = np.hypot(x, y)
    z0_line = z[0] - r[0] * (z[1] - z[0]) / (r[1] - r[0])
    assert abs(z0_line) > 150
    inv_2R = 0.5 * 0.3e-3 * 2.0 / 0.15
    s0, s1 = arc_length(r[0], inv_2R), arc_length(r[1], inv_2R)
    assert _meets_beam_line(r[0], z[0], s0, r[1], z[1], s1, 50.0, inv_2R)
    assert not _meets_beam_line(r[0], z[0], r[0], r[1], z[1], r[1], 50.0, 0.0)
    # A 0.31 GeV particle from z0 = -117 mm in a 0.15 GeV pass, between r = 498 and 658 mm
    # (beyond the 0.15 GeV helix's half turn, 2R = 500 mm): its chord's z0 is -152 mm, outside
    # a 100 mm window; the helix ending its half turn at 658 mm (R = 329 mm, stiffer than
    # 0.15 GeV) meets it.
    radius = 0.31 / 0.6e-3
    xs, ys, zs = _helix(0.31, 0.36, -117.0, 2 * radius * np.arcsin(np.array([498.0, 658.0])
                                                                    / (2 * radius)))
    rs = np.hypot(xs, ys)
    chord_z0 = zs[0] - rs[0] * (zs[1] - zs[0]) / (rs[1] - rs[0])
    assert chord_z0 < -140
    assert _meets_beam_line(rs[0], zs[0], arc_length(rs[0], inv_2R), rs[1], zs[1],
                            arc_length(rs[1], inv_2R), 100.0, inv_2R)
    ptr, hits = np.array([0, 5]), np.arange(5)
    assert abs(track_z0(ptr, hits, r, z, x, y)[0]) < 1.0
    assert abs(track_z0(ptr, hits, r, z)[0]) > 150


def test_low_pt_pass_keeps_the_doublets_of_stiffer_tracks_beyond_its_half_turn():
    # A 0.31 GeV particle from the beam line turns by 0.2 rad between the strip layers at
    # r = 500 and 660 mm. In the 0.15 GeV pass (2R = 500 mm) the outer hit lies beyond that
    # helix's half turn; the stiffest track reaching it ends its half turn there and turns by
    # up to pi/2 - asin(500/660) = 0.71 rad, so the pair is a doublet.
    from qtrack.config import BeamSpotConfig, DoubletConfig
    from qtrack.model.doublets import build_doublets, max_turn
    from qtrack.model.layers import TRACKML

    radius = 0.31 / 0.6e-3
    r_layers = TRACKML.position[(TRACKML.volume_id == 13) & np.isin(TRACKML.layer_id, [6, 8])]
    xs, ys, zs = _helix(0.31, 0.2, 10.0, 2 * radius * np.arcsin(r_layers / (2 * radius)))
    layer = TRACKML.index_of(np.array([13, 13]), np.array([6, 8]))
    turn = abs(np.arctan2(ys[1], xs[1]) - np.arctan2(ys[0], xs[0]))
    assert 0.15 < turn < max_turn(r_layers[0], r_layers[1], 0.5 * 0.6e-3 / 0.15)
    d = build_doublets(xs, ys, zs, layer, TRACKML, DoubletConfig(min_pt=0.15),
                       BeamSpotConfig(z0_max=50.0, estimate=False))
    assert list(zip(d.inner, d.outer)) == [(0, 1)]
    # The 0.4 GeV pass (2R = 1333 mm) does not take it: it bends more than 0.4 GeV allows.
    d = build_doublets(xs, ys, zs, layer, TRACKML, DoubletConfig(min_pt=0.4),
                       BeamSpotConfig(z0_max=50.0, estimate=False))
    assert len(d) == 0


def test_order_along_sorts_by_radius():
    from qtrack.tracks import Tracks, order_along

    r = np.array([50.0, 10.0, 30.0, 20.0, 5.0])
    z = np.zeros(5)
    t = Tracks(np.array([0, 3, 5]), np.array([0, 1, 2, 3, 4]), np.zeros(0, np.int64),
               np.zeros(0, np.int64))
    assert order_along(t, r, z).hits.tolist() == [1, 2, 0, 4, 3]


def test_passes_settings_are_checked(tmp_path):
    from qtrack.config import Config
    from qtrack.errors import InputError

    assert Config.from_toml("fast").passes.min_pts == ()
    assert Config.from_toml("fast").passes.displaced_min_pt == 0.0
    # The soft displaced pass follows the displaced one only, and only below it.
    from qtrack.passes import passes_of
    assert len(passes_of(Config.from_toml("fast"))) == 1
    pts = lambda **kw: [p.config.doublets.min_pt for p in passes_of(Config().with_settings(**kw))]
    assert pts(min_pts=[], displaced_min_pt=0.3) == [0.75, 0.3, 0.2]
    assert pts(min_pts=[], displaced_min_pt=0.2) == [0.75, 0.2]
    assert pts(min_pts=[], soft_displaced_min_pt=0.0) == [0.75, 0.3]
    with pytest.raises(InputError, match=r"soft_displaced_min_hits = 2: expected"):
        Config().with_settings(soft_displaced_min_hits=2)
    bad = tmp_path / "bad.toml"
    bad.write_text("[passes]\nmin_pts = [0.15, 0.4]\n")
    with pytest.raises(InputError, match=r"\[passes\] min_pts = \[0.15, 0.4\]: expected .*highest first"):
        Config.from_toml(bad)
    with pytest.raises(InputError, match="config file not found"):
        Config.from_toml(tmp_path / "fastest")


def test_rerun_from_the_recorded_config_gives_the_same_submission(tmp_path):
    """The summary records the applied cuts, and its config reproduces the submission."""
    import qtrack
    from qtrack.config import Config
    from qtrack.pipeline import write_outputs

    config = Config().replace(doublets={"min_pt": 0.5})
    first = write_outputs(qtrack.solve(EVENT, config=config, seed=2), tmp_path / "a")
    summary = json.loads(first["summary"].read_text())
    applied = summary["applied"]
    assert applied["passes"][0]["min_pt"] == 0.5
    # The curvature cut follows min_pt: 0.3e-3 * 2 T / 0.5 GeV.
    assert applied["passes"][0]["tplet_max_curv"] == pytest.approx(0.3e-3 * 2 / 0.5)
    assert applied["luminous_region"]["source"] in ("estimated", "cap (too few segments)")
    rerun = write_outputs(qtrack.solve(EVENT, config=Config.from_dict(summary["config"]),
                                       seed=summary["seed"]), tmp_path / "b")
    assert first["submission"].read_bytes() == rerun["submission"].read_bytes()


def test_allpt_study_on_the_shipped_event(tmp_path, capsys):
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("allpt_study",
                                                  REPO / "experiments" / "allpt_study.py")
    study = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(REPO))
    spec.loader.exec_module(study)
    assert study.main([str(REPO / "nowhere" / "event1"), "--out", str(tmp_path)]) == 2
    assert "no hits file" in capsys.readouterr().err
    assert study.main([str(SIM), "--out", str(tmp_path), "--no-plot"]) == 0
    run = json.loads((tmp_path / "allpt_study.json").read_text())["runs"][0]
    perfect = [run["perfect_score_above_pt"][k] for k in ("1.0", "0.5", "0.3", "0.2", "0.1")]
    assert perfect == sorted(perfect) and perfect[-1] > 0.9
    assert run["scores"]["trackml_score"] <= perfect[-1]
    by_pt = {b["pt_lo"]: b["efficiency"] for b in run["efficiency_vs_pt"]}
    assert by_pt[1.0] >= 0.97 and by_pt[0.3] >= 0.9
    # TrackML's truth has no particle below 0.1 GeV: a perfect tracker of the rest scores 1 there.
    import qtrack
    event = qtrack.load_event(SIM)
    pid = event.truth.particle_id.to_numpy()
    soft = study.particle_table(event).query("pt < 0.1").index.to_numpy()
    assert len(soft) > 0
    assert study.truth_convention_score(event, np.where(np.isin(pid, soft), 0, pid)) == (
        pytest.approx(1.0))
    assert run["trackml_score_truth_from_0p1"] > run["scores"]["trackml_score"]
    table = pd.read_csv(tmp_path / "allpt_study.csv")
    assert set(table.figure) == {"efficiency_vs_pt", "efficiency_vs_production_r",
                                 "fake_rate_vs_track_pt"}


def test_a_qubo_too_big_to_solve_stops_with_one_line():
    from qtrack.memory import OutOfMemory, check_couplers

    # A PU400 event's 0.15 GeV pass held 90 M couplers; with 1 GB allowed that is refused.
    with pytest.raises(OutOfMemory, match=r"needs about 22.8 GB to solve a QUBO of 90000000 "
                                          r"couplers, more than the .* GB left under --max-memory"):
        check_couplers("event000000000", 90_000_000, max_memory_gb=1.0)
    assert check_couplers("event000000000", 1000, max_memory_gb=None) < 1e9
