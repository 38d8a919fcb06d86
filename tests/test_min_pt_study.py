"""experiments/min_pt_study.py: the 0.5-1 GeV band's efficiency on the shipped simulated event,
failed children, and its argument errors (the study itself solves PU200 events: not run here)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import DATA

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
sys.path.insert(0, str(EXPERIMENTS))
import min_pt_study as M  # noqa: E402

SHIPPED = DATA / "sim" / "event000000001"


@pytest.fixture(scope="module")
def event():
    import qtrack

    return qtrack.load_event(SHIPPED)


def test_pt_band_counts_the_particles_by_hand(event):
    """The band's particles, counted here from the CSV columns: 0.5 <= pT < 1 GeV at production,
    vertex within 10 mm of the beam line, hits on >= 5 distinct (volume, layer)."""
    p = event.particles.drop_duplicates("particle_id").set_index("particle_id")
    pt = np.hypot(p.px, p.py)
    near = np.hypot(p.vx, p.vy) <= 10.0
    hits = pd.DataFrame({"particle_id": event.truth.particle_id.to_numpy(),
                         "layer": list(zip(event.hits.volume_id, event.hits.layer_id))})
    layers = hits[hits.particle_id != 0].groupby("particle_id").layer.nunique()
    band = p.index[(pt >= 0.5) & (pt < 1.0) & near]
    expected = set(band[layers.reindex(band, fill_value=0).to_numpy() >= 5])
    assert len(expected) > 50  # a ttbar + PU20 event has a few hundred

    pid = event.truth.particle_id.to_numpy()
    every_particle = pid.copy()  # one track per particle, noise hits on none
    counts = M.band_counts(event, every_particle, *M.BAND)
    assert counts == {"particles": len(expected), "found": len(expected)}
    assert M.band_counts(event, np.zeros_like(pid), *M.BAND)["found"] == 0
    # half of the band's particles on tracks: exactly those are found
    chosen = sorted(expected)[::2]
    half = np.where(np.isin(pid, chosen), pid, 0)
    assert M.band_counts(event, half, *M.BAND) == {"particles": len(expected), "found": len(chosen)}


def test_a_child_that_dies_is_recorded_not_raised():
    base = {"stderr": "Traceback ...\nMemoryError\n", "timed_out": False}
    assert M.failure(base | {"returncode": -9}, 1800) == {
        "status": "killed",
        "error": "killed by SIGKILL (the kernel's out-of-memory killer sends this); last output: MemoryError"}
    assert M.failure(base | {"returncode": 1}, 1800) == {"status": "failed", "error": "exit 1: MemoryError"}
    assert M.failure(base | {"returncode": -9, "timed_out": True}, 60)["status"] == "timed out"


def test_summary_pools_efficiencies_and_keeps_failures():
    ok = {"status": "ok", "default": True, "min_pt": 0.75, "peak_rss_mb": 100.0, "fake_rate": 0.0,
          "focused_particles": 10, "focused_found": 9, "endcap_particles": 4, "endcap_found": 3,
          "band_particles": 5, "band_found": 1}
    runs = [ok | {"event": "a"}, ok | {"event": "b", "focused_particles": 30, "focused_found": 30},
            {"event": "c", "status": "killed", "error": "killed by SIGKILL", "default": True,
             "min_pt": 0.75, "peak_rss_mb": 4000.0}]
    (s,) = M.summarize(runs)
    assert s["events"] == 3 and s["events_ok"] == 2 and s["failures"] == ["c: killed by SIGKILL"]
    assert s["focused_efficiency"] == 39 / 40 and s["endcap_efficiency"] == 6 / 8
    assert s["band_efficiency"] == 2 / 10 and s["peak_rss_mb_max"] == 4000.0


@pytest.mark.parametrize("args, words", [
    (["--data", "MISSING"], ["data directory", "MISSING"]),
    (["--min-pt", "0.01"], ["--min-pt 0.01", "min_pt"]),
    (["--events", "99"], ["--events asks for 99"]),
    (["--set", "no_such_setting=1"], ["--set", "no_such_setting"]),
])
def test_bad_arguments_are_one_line_and_exit_2(tmp_path, args, words):
    args = [str(tmp_path / a) if a == "MISSING" else a for a in args]
    if "--data" not in args:
        args += ["--data", str(DATA / "sim")]
    proc = subprocess.run([sys.executable, str(EXPERIMENTS / "min_pt_study.py"), *args, "--out",
                           str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and all(w in proc.stderr for w in words), proc.stderr
    assert not (tmp_path / "out").exists()
