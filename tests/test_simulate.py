"""qtrack simulate: TrackML files from Pythia8 + ACTS Fatras (needs the [sim] extra, as CI has)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import DATA, run_cli

pytest.importorskip("acts")

GUN = ["--hard", "none", "--pileup", "0", "--gun-particles", "25", "--events", "2", "--seed", "11",
       "--no-progress"]
KINDS = ("hits", "truth", "particles")
TRACKML_LAYERS = {**{v: set(range(2, 15, 2)) for v in (7, 9)}, 8: {2, 4, 6, 8},
                  **{v: set(range(2, 13, 2)) for v in (12, 14, 16, 18)}, 13: {2, 4, 6, 8}, 17: {2, 4}}
SHIPPED = DATA / "sim" / "event000000001"


@pytest.fixture(scope="module")
def gun_runs(tmp_path_factory):
    """The same tiny particle-gun run twice and once with another seed, each in its own process."""
    base = tmp_path_factory.mktemp("sim")
    runs = {}
    for name, extra in (("a", []), ("b", []), ("other", ["--seed", "12"])):
        args = [*GUN, *extra]
        if extra:
            args.remove("11")
            args.remove("--seed")
        proc = run_cli("simulate", "-o", base / name, *args)
        assert proc.returncode == 0, proc.stderr
        runs[name] = base / name
    return runs


def _read(directory: Path, event: int = 0):
    return [pd.read_csv(directory / f"event{event:09d}-{kind}.csv.gz") for kind in KINDS]


def test_trackml_columns_and_dtypes(gun_runs):
    hits, truth, particles = _read(gun_runs["a"])
    assert list(hits.columns) == ["hit_id", "x", "y", "z", "volume_id", "layer_id", "module_id"]
    assert list(truth.columns) == ["hit_id", "particle_id", "tx", "ty", "tz", "tpx", "tpy", "tpz", "weight"]
    assert list(particles.columns) == ["particle_id", "vx", "vy", "vz", "px", "py", "pz", "q", "nhits"]
    for frame, ints in ((hits, ["hit_id", "volume_id", "layer_id", "module_id"]),
                        (truth, ["hit_id", "particle_id"]), (particles, ["particle_id", "q", "nhits"])):
        for c in frame.columns:
            assert frame[c].dtype.kind == ("i" if c in ints else "f"), c
    assert np.array_equal(hits.hit_id, np.arange(1, len(hits) + 1))
    assert np.array_equal(truth.hit_id, hits.hit_id)
    detectors = pd.read_csv(gun_runs["a"] / "detectors.csv.gz")
    assert list(detectors.columns[:6]) == ["volume_id", "layer_id", "module_id", "cx", "cy", "cz"]
    assert len(detectors) == 18728  # every sensitive module of the generic (TrackML) detector


def test_ids_are_trackml_ids_and_hits_lie_on_their_modules(gun_runs):
    hits, truth, _ = _read(gun_runs["a"])
    for volume, group in hits.groupby("volume_id"):
        assert set(group.layer_id) <= TRACKML_LAYERS[volume], volume
    detectors = pd.read_csv(gun_runs["a"] / "detectors.csv.gz")
    d = hits.merge(detectors, on=["volume_id", "layer_id", "module_id"], how="left", validate="many_to_one")
    assert d.cx.notna().all()
    rel = d[["x", "y", "z"]].to_numpy() - d[["cx", "cy", "cz"]].to_numpy()
    rot = d[[f"rot_{g}{l}" for g in "xyz" for l in "uvw"]].to_numpy().reshape(-1, 3, 3)
    u, v, w = np.einsum("nij,ni->jn", rot, rel)
    assert np.abs(w).max() < 1e-3  # on the module plane (float32 output)
    assert (np.abs(v) <= d.module_hv + 1e-3).all()
    half_u = d.module_minhu + (v / d.module_hv + 1) / 2 * (d.module_maxhu - d.module_minhu)
    assert (np.abs(u) <= half_u + 1e-3).all()
    # Smearing moves a measured hit by about the resolution, never by centimetres.
    signal = truth.particle_id != 0
    shift = np.hypot(hits.x - truth.tx, hits.y - truth.ty)[signal]
    assert 0 < np.median(shift) < 0.1


def test_truth_is_consistent(gun_runs):
    hits, truth, particles = _read(gun_runs["a"])
    noise = truth.particle_id == 0
    n_signal = int((~noise).sum())
    assert int(noise.sum()) == round(n_signal * 0.1 / 0.9)  # 10 % of all hits
    counts = truth.particle_id[~noise].value_counts()
    p = particles.set_index("particle_id")
    assert set(counts.index) <= set(p.index)
    assert (p.nhits.reindex(counts.index) == counts).all()
    assert particles.particle_id.is_unique
    assert set(particles.q) <= {-1, 1}
    primaries = particles[(particles.particle_id.to_numpy() >> 24) & 0xFFF == 0]
    assert len(primaries) == 25
    pt = np.hypot(primaries.px, primaries.py)
    assert pt.between(1.0, 10.0).all()  # the gun's default range
    assert truth.weight.sum() == pytest.approx(1.0, abs=1e-5)
    assert (truth.weight[noise] == 0).all()
    few = p.index[p.nhits < 4]
    assert (truth.weight[truth.particle_id.isin(few)] == 0).all()
    # Double hits (one particle, two modules of one layer) are kept.
    signal = hits[~noise].assign(p=truth.particle_id[~noise])
    assert signal.duplicated(["p", "volume_id", "layer_id"]).sum() > 0


def test_same_seed_same_bytes_other_seed_other_event(gun_runs):
    names = sorted(f.name for f in gun_runs["a"].glob("*.csv.gz"))
    assert len(names) == 7
    for name in names:
        assert (gun_runs["a"] / name).read_bytes() == (gun_runs["b"] / name).read_bytes(), name
    for kind in KINDS:
        name = f"event000000000-{kind}.csv.gz"
        assert (gun_runs["a"] / name).read_bytes() != (gun_runs["other"] / name).read_bytes()
    a0, a1 = (_read(gun_runs["a"], k)[0] for k in (0, 1))
    assert len(a0) != len(a1) or not np.allclose(a0.x, a1.x)


def test_workers_and_first_event_give_the_same_files(gun_runs, tmp_path):
    from qtrack.simulate import SimulationConfig, run

    cfg = SimulationConfig(hard="none", pileup=0, gun_particles=25, seed=11)
    run(cfg, tmp_path / "w", events=2, workers=2)
    run(cfg, tmp_path / "f", events=1, first_event=1)
    for name in (f"event00000000{k}-{kind}.csv.gz" for k in (0, 1) for kind in KINDS):
        assert (tmp_path / "w" / name).read_bytes() == (gun_runs["a"] / name).read_bytes(), name
    for kind in KINDS:
        name = f"event000000001-{kind}.csv.gz"
        assert (tmp_path / "f" / name).read_bytes() == (gun_runs["a"] / name).read_bytes()


def test_loads_with_load_event(gun_runs):
    from qtrack import load_event

    event = load_event(gun_runs["a"] / "event000000000")
    assert event.has_truth and event.particles is not None
    assert event.n_hits == len(event.hits)  # every volume's hits are solved


def test_shipped_event():
    from qtrack import load_event

    event = load_event(SHIPPED)
    assert set(event.hits.volume_id) == set(TRACKML_LAYERS)
    assert event.truth.weight.sum() == pytest.approx(1.0, abs=1e-5)
    assert event.particles.nhits.sum() == (event.truth.particle_id != 0).sum()


# ---- truth weights on hand-made tracks -------------------------------------------------------

def test_weights_on_hand_made_tracks():
    from qtrack.simulate.weights import truth_weights

    # A: 5 hits, pT 2 GeV: order weights interpolate the proposal at 0, 2, 4, 6, 8 -> 10, 6, 3, 3, 6
    #    (sum 28); pT weight 0.2 + 0.8 * (2 - 0.5) / 2.5 = 0.68.
    # B: 4 hits, pT 0.3 GeV: proposal at 0, 8/3, 16/3, 8 -> 10, 16/3, 3, 6 = (30, 16, 9, 18) / 3
    #    (sum 73 / 3); pT weight 0.2. Hits on both sides of the vertex (order by |tz - vz|).
    # C: 3 hits: weight 0. Noise (particle 0): weight 0.
    pid = np.array([1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 0, 0])
    tz = np.array([50., 10., 40., 20., 30., -4., 7., 2., -9., 1., 2., 3., 5., 6.])
    ids, vz = np.array([1, 2, 3]), np.array([0., 1., 0.])
    pt, nhits = np.array([2.0, 0.3, 5.0]), np.array([5, 4, 3])
    w = truth_weights(pid, tz, ids, vz, pt, nhits)
    a = 0.68 * np.array([10, 6, 3, 3, 6]) / 28  # by |tz - vz| = 10, 20, 30, 40, 50
    b = 0.2 * np.array([30, 16, 9, 18]) / 73  # by |tz - vz| = 1, 5, 6, 10
    total = a.sum() + b.sum()
    expected = np.r_[a[[4, 0, 3, 1, 2]], b[[1, 2, 0, 3]], 0, 0, 0, 0, 0] / total
    np.testing.assert_allclose(w, expected, rtol=1e-12)


def test_weights_ties_and_long_tracks():
    from qtrack.simulate.weights import ORDER_MATRIX, hit_order, truth_weights

    # pandas' average rank, truncated: a tie at ranks 1 and 2 gives both rank 1.
    assert list(hit_order(np.array([7, 7, 7, 7]), np.array([0.0, 5.0, 5.0, 9.0]))) == [0, 1, 1, 3]
    # 25 hits: the 20-hit row, hits after the 20th weigh 0.
    n = 25
    w = truth_weights(np.ones(n, int), np.arange(n, dtype=float), np.array([1]), np.array([-1.0]),
                      np.array([4.0]), np.array([n]))
    np.testing.assert_allclose(w[:20], ORDER_MATRIX[20, :20], rtol=1e-12)
    assert (w[20:] == 0).all()
    np.testing.assert_allclose(ORDER_MATRIX[20, :20].sum(), 1.0)
    assert ORDER_MATRIX[20, 0] / ORDER_MATRIX[20, 19] == pytest.approx(10 / 6)


# ---- bad arguments ---------------------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["--pileup", "-3"], ["pileup", "-3"]),
    (["--noise-fraction", "1.5"], ["noise_fraction", "1.5"]),
    (["--hard", "none", "--pileup", "0"], ["nothing to simulate"]),
])
def test_bad_arguments_one_line_exit_2(tmp_path, args, words):
    proc = run_cli("simulate", "-o", tmp_path / "out", *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qtrack: error:"), proc.stderr
    assert all(w in lines[0] for w in words), lines[0]
    assert not (tmp_path / "out").exists()


def test_unwritable_output_is_refused_before_any_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = run_cli("simulate", "-o", blocker / "out", *GUN)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "output directory cannot be" in lines[0] and str(blocker / "out") in lines[0]


def test_missing_extra_says_how_to_install(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from qtrack.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "acts" else real(name, *a))
    result = CliRunner().invoke(main, ["simulate", "-o", str(tmp_path / "out"), *GUN])
    assert result.exit_code == 2
    assert "pip install 'qtrack[sim]'" in result.output
    assert not (tmp_path / "out").exists()
