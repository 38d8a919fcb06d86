"""experiments/acts_comparison.py and its ACTS chain (experiments/_acts.py) on the shipped simulated
ttbar + pile-up 20 event (needs pyacts, the [sim] extra, as CI has)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import DATA

pytest.importorskip("acts")

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
sys.path.insert(0, str(EXPERIMENTS))
import acts_comparison as A  # noqa: E402

SHIPPED = DATA / "sim" / "event000000001"


@pytest.fixture(scope="module")
def event():
    import qtrack

    return qtrack.load_event(SHIPPED)


@pytest.fixture(scope="module")
def focused(event):
    from qtrack.scoring import focused_particles

    return focused_particles(event.hits, event.truth, event.particles)


@pytest.fixture(scope="module")
def perfect(event, focused):
    """The submission of exactly the focused particles, each with all its hits."""
    pid = event.truth.particle_id.to_numpy()
    return pd.DataFrame({"hit_id": event.truth.hit_id,
                         "track_id": np.where(np.isin(pid, focused.particle_id), pid, 0)})


@pytest.fixture(scope="module")
def tracker():
    from _acts import ActsTracker

    return ActsTracker()


@pytest.fixture(scope="module")
def acts_tracks(event, tracker):
    detectors = pd.read_csv(DATA / "sim" / "detectors.csv.gz")
    return tracker.reconstruct(event.hits, A.module_pitch(detectors, event.hits))


def test_focused_definition(event, focused):
    p = event.particles.set_index("particle_id").loc[focused.particle_id]
    assert (np.hypot(p.px, p.py) >= 1.0).all() and (np.hypot(p.vx, p.vy) <= 10.0).all()
    # the pT >= 1 GeV primaries of a ttbar + PU20 event: a couple of hundred
    assert 100 < len(focused) < 400
    assert 0 < focused.endcap.sum() < len(focused)


def test_rates_of_truth_and_of_a_merged_track(event, focused, perfect):
    pid = event.truth.particle_id.to_numpy()
    r, found, tracks = A.rates(event, focused, perfect)
    assert r["found"] == r["focused"] == len(focused) and r["fakes"] == 0 and r["duplicates"] == 0
    assert found.all() and len(found) == len(focused)
    assert len(tracks) == r["tracks"] and not tracks.fake.any()
    # a track's fitted eta is its particle's (straight tracks in r-z from near the beam line)
    from qtrack.plot.tables import track_table

    eta = focused.set_index("particle_id").eta
    track_eta = track_table(event, perfect.track_id.to_numpy()).set_index("track_id").eta
    assert (abs(track_eta - eta.reindex(track_eta.index)) < 0.05).mean() > 0.95
    # two focused particles of equal size in one track: no majority, so a fake, and neither is found
    sizes = pd.Series(pid[np.isin(pid, focused.particle_id)]).value_counts()
    same = sizes[sizes == sizes.value_counts().idxmax()].index[:2]
    merged = perfect.copy()
    merged.loc[np.isin(pid, same), "track_id"] = same[0]
    r, found, tracks = A.rates(event, focused, merged)
    assert r["found"] == len(focused) - 2 and r["fakes"] == 1 and tracks.fake.sum() == 1
    assert set(focused.particle_id[~found]) == set(same)


def test_pt_eta_bins_and_figure(event, focused, perfect, acts_tracks, tmp_path):
    """Every focused particle and every track lands in a bin; the truth is found in every bin;
    the figure is drawn from what the JSON keeps."""
    r_truth, found_truth, tracks_truth = A.rates(event, focused, perfect)
    r_acts, found_acts, tracks_acts = A.rates(event, focused, acts_tracks.submission())
    particles = focused[["pt", "eta"]].assign(found_qtrack=found_truth, found_acts=found_acts,
                                              found_acts_ckf=found_acts)
    rows = pd.DataFrame(A.pt_eta_rows(20, particles, {"qtrack": tracks_truth, "acts": tracks_acts,
                                                      "acts_ckf": tracks_acts}))
    total = rows.groupby(["tracker", "curve"])[["n", "k"]].sum()
    for name, r in (("qtrack", r_truth), ("acts", r_acts)):
        assert total.loc[(name, "efficiency_vs_pt")].tolist() == [r["focused"], r["found"]]
        assert total.loc[(name, "efficiency_vs_eta")].tolist() == [r["focused"], r["found"]]
        assert total.loc[(name, "fake_rate_vs_eta")].tolist() == [r["tracks"], r["fakes"]]
    truth = rows[(rows.tracker == "qtrack") & rows.curve.str.startswith("efficiency") & (rows.n > 0)]
    assert (truth.rate == 1.0).all() and (truth.err_hi == 1.0).all() and (truth.err_lo < 1.0).all()
    acts = rows[(rows.tracker == "acts") & (rows.curve == "efficiency_vs_eta") & (rows.n > 0)]
    assert (acts.err_lo <= acts.rate).all() and (acts.rate <= acts.err_hi).all()
    summary = [{"pileup": 20, "events": 1}]
    data = {"pt_eta": rows.to_dict("records"), "summary": summary,
            "measured": {"method": "test", "machine": {"cpu": "cpu", "cores_usable": 2, "ram_gib": 1,
                                                       "python": "3", "versions": {}},
                         "load_average_1_5_15min": [0, 0, 0], "started": "now"}}
    A.draw_pt_eta(data, tmp_path / "pt_eta.png")
    assert (tmp_path / "pt_eta.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_acts_finds_the_focused_particles(event, focused, acts_tracks):
    """Physics floor: measured 0.881 efficiency and no fake on this event."""
    r, _, _ = A.rates(event, focused, acts_tracks.submission())
    assert r["found"] / r["focused"] >= 0.8
    assert r["found_barrel"] / r["focused_barrel"] >= 0.9
    assert r["fakes"] <= 0.01 * r["tracks"]
    assert len(acts_tracks.hit_id) == len(event.hits)
    assert set(acts_tracks.timings) == {"measurements", "spacepoints", "seeding", "parameters", "ckf",
                                        "ambiguity", "submission"}
    assert acts_tracks.counts["tracks"] <= acts_tracks.counts["ckf_tracks"]


def test_hits_off_the_generic_detector_are_refused(event, tracker):
    hits = event.hits.copy()
    hits.loc[0, "module_id"] = 99999
    with pytest.raises(ValueError, match="modules the generic detector does not have"):
        tracker.local_coordinates(hits)
    hits = event.hits.copy()
    hits.loc[0, "x"] += 1.0  # radially off a barrel module (or along an endcap one's plane)
    hits.loc[0, "z"] += 1.0
    with pytest.raises(ValueError, match="off their module's plane"):
        tracker.local_coordinates(hits)


def test_missing_data_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, str(EXPERIMENTS / "acts_comparison.py"), "--data",
                           str(tmp_path / "nope"), "--out", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "data directory" in proc.stderr and "nope" in proc.stderr
