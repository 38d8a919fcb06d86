"""The dataset maker (reference "dsmaker" convention) on the shipped event."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import EVENT, run_cli, write_event
from qtrack.dataset import make_dataset, reduce_event
from qtrack.errors import InputError
from qtrack.event import load_event

FILES = ("hits.csv", "truth.csv", "particles.csv", "meta.json")


def _files(prefix):
    return {f: prefix.with_name(f"{prefix.name}-{f}").read_bytes() for f in FILES}


@pytest.fixture(scope="module")
def half(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds")
    info = make_dataset(EVENT, density=0.5, outdir=out / "a", seed=7)
    return info, out


def test_reproducible(half, tmp_path):
    info, _ = half
    again = make_dataset(EVENT, density=0.5, outdir=tmp_path / "b", seed=7)
    assert again.prefix.name == info.prefix.name == "event000001000"
    assert _files(again.prefix) == _files(info.prefix)
    other = make_dataset(EVENT, density=0.5, outdir=tmp_path / "c", seed=8)
    assert _files(other.prefix)["truth.csv"] != _files(info.prefix)["truth.csv"]


def test_round_trip_and_convention(half, raw_frames):
    info, _ = half
    src_hits, src_truth, src_particles = raw_frames
    src = src_hits.merge(src_truth, on="hit_id")
    n_particles = src[src.particle_id != 0].particle_id.nunique()
    n_noise = int((src.particle_id == 0).sum())

    ev = load_event(info.prefix)
    assert ev.has_truth and ev.particles is not None
    hits, truth = ev.hits, ev.truth
    assert len(hits) == info.n_hits == ev.n_hits
    np.testing.assert_array_equal(truth.hit_id.to_numpy(), hits.hit_id.to_numpy())

    # int(density * n) particles with all their hits, int(density * n_noise) noise hits.
    pids = np.setdiff1d(truth.particle_id.unique(), [0])
    assert len(pids) == info.n_particles == int(0.5 * n_particles) == 204
    assert int((truth.particle_id == 0).sum()) == info.n_noise == int(0.5 * n_noise)
    for pid, grp in truth[truth.particle_id != 0].groupby("particle_id"):
        assert set(grp.hit_id) == set(src.hit_id[src.particle_id == pid]), pid
    # Rows are copied unchanged (apart from the weight).
    merged = hits.merge(src_hits, on="hit_id", suffixes=("", "_src"))
    assert len(merged) == len(hits)
    for c in ("x", "y", "z", "volume_id", "layer_id"):
        np.testing.assert_array_equal(merged[c].to_numpy(), merged[f"{c}_src"].to_numpy())

    # Weights: sum to 1; non-zero only at pT >= 1 GeV hits of particles with >= 5 hits.
    w = truth.weight.to_numpy()
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    assert (w >= 0).all()
    pt = np.hypot(truth.tpx, truth.tpy).to_numpy()
    counts = truth.particle_id.map(truth.particle_id.value_counts()).to_numpy()
    weighted = w > 0
    assert (pt[weighted] >= 1.0).all()
    assert (counts[weighted] >= 5).all()
    assert (truth.particle_id.to_numpy()[weighted] != 0).all()
    weighted_ids = truth.particle_id[weighted].unique()
    assert len(weighted_ids) > 5
    for pid in weighted_ids:
        assert (truth.particle_id == pid).sum() >= 5
    # ... and proportional to the original weights where they are kept.
    orig = src_truth.set_index("hit_id").weight.loc[truth.hit_id].to_numpy()
    eligible = (pt >= 1.0) & (counts >= 5) & (truth.particle_id.to_numpy() != 0) & (orig > 0)
    np.testing.assert_array_equal(weighted, eligible)
    ratio = w[weighted] / orig[weighted]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)

    # Particles file: exactly the kept particles.
    assert set(ev.particles.particle_id) == set(pids)

    meta = json.loads(info.prefix.with_name("event000001000-meta.json").read_text())
    assert meta["seed"] == 7 and meta["density"] == 0.5
    assert meta["num_hits"] == len(hits) and meta["num_particles"] == len(pids)
    assert meta["num_noise"] == info.n_noise
    assert meta["num_weighted_particles"] == len(weighted_ids)


def test_reduced_event_solves(half):
    from qtrack import pipeline

    res = pipeline.solve(half[0].prefix, "neal")
    assert res.scores["trackml_score"] > 0.8


def test_double_hits_and_endcaps_are_dropped(tmp_path, raw_frames):
    hits, truth, particles = raw_frames
    # Two double hits, each listed before the original (the first in file order is kept), and two
    # endcap hits.
    pid = truth.particle_id.to_numpy()
    rows = [int(np.flatnonzero(pid == p)[0]) for p in pd.Series(pid[pid != 0]).unique()[:2]]
    doubles_h = hits.iloc[rows].copy()
    doubles_h["hit_id"] = [900_001, 900_002]
    doubles_h["x"] += 0.5
    doubles_t = truth.iloc[rows].copy()
    doubles_t["hit_id"] = [900_001, 900_002]
    endcap_h = hits.iloc[rows].copy().assign(hit_id=[900_003, 900_004], volume_id=[7, 9], z=[-1600.0, 1600.0])
    endcap_t = truth.iloc[rows].copy().assign(hit_id=[900_003, 900_004])
    h = pd.concat([doubles_h, endcap_h, hits], ignore_index=True)
    t = pd.concat([doubles_t, endcap_t, truth], ignore_index=True)
    prefix = write_event(tmp_path / "src", "dbl", h, t, particles)
    info = make_dataset(prefix, density=1.0, outdir=tmp_path / "out", seed=1)
    out = load_event(info.prefix)
    ids = set(out.hits.hit_id)
    assert {900_001, 900_002} <= ids                      # the first of each double is kept
    assert not ids & set(hits.hit_id.iloc[rows])          # the later ones are dropped
    assert not ids & {900_003, 900_004}                   # endcaps dropped
    assert len(out.hits) == len(hits)
    assert info.n_particles == truth[truth.particle_id != 0].particle_id.nunique()


def test_reduce_event_density_bounds(raw_frames):
    hits, truth, _ = raw_frames
    for d in (0.0, 1.5, -0.1):
        with pytest.raises(InputError, match="density"):
            reduce_event(hits, truth, d, seed=1)


def test_make_dataset_needs_truth(tmp_path, raw_frames):
    prefix = write_event(tmp_path, "nt", raw_frames[0])
    with pytest.raises(InputError, match="needs truth"):
        make_dataset(prefix, density=0.5, outdir=tmp_path / "out", seed=1)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cli_dataset(half, tmp_path):
    info, _ = half
    out = tmp_path / "cli"
    proc = run_cli("dataset", EVENT, "--density", "0.5", "--seed", "7", "-o", out, "--prefix", "half")
    assert proc.returncode == 0, proc.stderr
    assert "204 particles" in proc.stdout and "seed 7" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(f"half-{f}" for f in FILES)
    got, ref = _files(out / "half"), _files(info.prefix)
    for f in ("hits.csv", "truth.csv", "particles.csv"):
        assert got[f] == ref[f], f
    ev = load_event(out)
    assert ev.name == "half" and len(ev.hits) == info.n_hits

    # Without --seed a seed is drawn and recorded; it reproduces the files.
    out2 = tmp_path / "cli2"
    proc = run_cli("dataset", EVENT, "--density", "0.3", "-o", out2)
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((out2 / "event000001000-meta.json").read_text())
    redo = make_dataset(EVENT, density=0.3, outdir=tmp_path / "redo", seed=meta["seed"])
    assert _files(redo.prefix) == _files(out2 / "event000001000")


def test_refuses_to_overwrite_its_input(tmp_path, raw_frames):
    prefix = write_event(tmp_path, "ev", *raw_frames)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(InputError, match="overwrite the input"):
        make_dataset(prefix, density=0.5, outdir=tmp_path, seed=1)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    # Another prefix in the same directory is fine.
    info = make_dataset(prefix, density=0.5, outdir=tmp_path, seed=1, prefix="half")
    assert load_event(info.prefix).n_hits < len(raw_frames[0])
