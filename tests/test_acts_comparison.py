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
def tracker():
    from _acts import ActsTracker

    return ActsTracker()


@pytest.fixture(scope="module")
def acts_tracks(event, tracker):
    detectors = pd.read_csv(DATA / "sim" / "detectors.csv.gz")
    return tracker.reconstruct(event.hits, A.module_pitch(detectors, event.hits))


def test_focused_definition(event):
    focused = A.focused_particles(event)
    p = event.particles.set_index("particle_id").loc[focused.particle_id]
    assert (np.hypot(p.px, p.py) >= 1.0).all() and (np.hypot(p.vx, p.vy) <= 10.0).all()
    # the pT >= 1 GeV primaries of a ttbar + PU20 event: a couple of hundred
    assert 100 < len(focused) < 400
    assert 0 < focused.endcap.sum() < len(focused)


def test_rates_of_truth_and_of_a_merged_track(event):
    focused = A.focused_particles(event)
    pid = event.truth.particle_id.to_numpy()
    perfect = pd.DataFrame({"hit_id": event.truth.hit_id,
                            "track_id": np.where(np.isin(pid, focused.particle_id), pid, 0)})
    r = A.rates(event, focused, perfect)
    assert r["found"] == r["focused"] == len(focused) and r["fakes"] == 0 and r["duplicates"] == 0
    # two focused particles of equal size in one track: no majority, so a fake, and neither is found
    sizes = pd.Series(pid[np.isin(pid, focused.particle_id)]).value_counts()
    same = sizes[sizes == sizes.value_counts().idxmax()].index[:2]
    merged = perfect.copy()
    merged.loc[np.isin(pid, same), "track_id"] = same[0]
    r = A.rates(event, focused, merged)
    assert r["found"] == len(focused) - 2 and r["fakes"] == 1


def test_acts_finds_the_focused_particles(event, acts_tracks):
    """Physics floor: measured 0.881 efficiency and no fake on this event."""
    focused = A.focused_particles(event)
    r = A.rates(event, focused, acts_tracks.submission())
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
