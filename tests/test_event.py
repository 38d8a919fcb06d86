"""Event loading: every way of naming an event, compressed files, optional truth, endcap hits."""
from __future__ import annotations

import logging
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import DATA, EVENT, VOLAYERS, write_event
from qtrack.errors import InputError
from qtrack.event import load_event, resolve_prefix


def _check_same_as_files(ev, raw_frames):
    hits, truth, particles = raw_frames
    assert ev.name == "event000001000"
    assert len(ev.hits) == len(hits) == 2786
    assert ev.n_hits == 2786  # barrel-only event: every hit is on a known layer
    np.testing.assert_array_equal(ev.hit_id, hits.hit_id.to_numpy())
    np.testing.assert_array_equal(ev.x, hits.x.to_numpy())
    np.testing.assert_array_equal(ev.y, hits.y.to_numpy())
    np.testing.assert_array_equal(ev.z, hits.z.to_numpy())
    np.testing.assert_allclose(ev.r, np.hypot(hits.x, hits.y))
    np.testing.assert_allclose(ev.phi, np.arctan2(hits.y, hits.x))
    # Layer index = row of (volume, layer) in the layer table.
    rows = list(zip(ev.layers.volume_id.tolist(), ev.layers.layer_id.tolist()))
    expected_layer = [rows.index((v, l)) for v, l in zip(hits.volume_id, hits.layer_id)]
    np.testing.assert_array_equal(ev.layer, expected_layer)
    assert {(v, l) for v, l in VOLAYERS} <= set(rows)
    assert ev.has_truth
    np.testing.assert_array_equal(ev.truth.hit_id.to_numpy(), hits.hit_id.to_numpy())
    np.testing.assert_array_equal(ev.truth.particle_id.to_numpy(), truth.particle_id.to_numpy())
    np.testing.assert_allclose(ev.truth.weight.to_numpy(), truth.weight.to_numpy())
    assert ev.particles is not None and len(ev.particles) == len(particles)
    np.testing.assert_array_equal(ev.module, hits.module_id.to_numpy())


def test_load_by_prefix(raw_frames):
    ev = load_event(EVENT)
    _check_same_as_files(ev, raw_frames)
    assert ev.prefix == EVENT


def test_load_by_prefix_as_string(raw_frames):
    _check_same_as_files(load_event(str(EVENT)), raw_frames)


@pytest.mark.parametrize("kind", ["hits", "truth", "particles"])
def test_load_by_any_of_its_files(raw_frames, kind):
    ev = load_event(DATA / f"event000001000-{kind}.csv")
    _check_same_as_files(ev, raw_frames)
    assert ev.prefix == EVENT


def test_load_by_directory(raw_frames):
    ev = load_event(DATA)
    _check_same_as_files(ev, raw_frames)


def test_resolve_prefix_forms():
    assert resolve_prefix(EVENT) == EVENT
    assert resolve_prefix(f"{EVENT}-hits.csv") == EVENT
    assert resolve_prefix(f"{EVENT}-truth.csv.gz") == EVENT
    assert resolve_prefix(DATA) == EVENT


def test_directory_with_two_events_is_an_error(tmp_path, raw_frames):
    hits, truth, _ = raw_frames
    write_event(tmp_path, "a", hits, truth)
    write_event(tmp_path, "b", hits, truth)
    with pytest.raises(InputError, match="a-hits.csv, b-hits.csv"):
        load_event(tmp_path)


def test_empty_directory_is_an_error(tmp_path):
    with pytest.raises(InputError, match="found none"):
        load_event(tmp_path)


def test_load_gz(tmp_path, raw_frames):
    hits, truth, particles = raw_frames
    prefix = write_event(tmp_path, "event000001000", hits, truth, particles, gz=True)
    assert not (tmp_path / "event000001000-hits.csv").exists()
    for arg in (prefix, tmp_path / "event000001000-hits.csv.gz", tmp_path):
        ev = load_event(arg)
        _check_same_as_files(ev, raw_frames)
        assert ev.prefix == prefix


def test_load_gz_copies_of_the_shipped_files(tmp_path, raw_frames):
    import gzip

    for kind in ("hits", "truth", "particles"):
        with open(DATA / f"event000001000-{kind}.csv", "rb") as src, \
                gzip.open(tmp_path / f"event000001000-{kind}.csv.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
    _check_same_as_files(load_event(tmp_path / "event000001000"), raw_frames)


def test_mixed_plain_and_gz(tmp_path, raw_frames):
    hits, truth, _ = raw_frames
    hits.to_csv(tmp_path / "ev-hits.csv", index=False)
    truth.to_csv(tmp_path / "ev-truth.csv.gz", index=False)
    ev = load_event(tmp_path / "ev")
    assert ev.has_truth and ev.particles is None
    np.testing.assert_array_equal(ev.truth.particle_id.to_numpy(), truth.particle_id.to_numpy())


def test_event_without_truth(tmp_path, raw_frames):
    hits, _, _ = raw_frames
    prefix = write_event(tmp_path, "notruth", hits)
    ev = load_event(prefix)
    assert ev.truth is None
    assert ev.particles is None
    assert not ev.has_truth
    assert ev.n_hits == len(hits)


def test_with_truth_false_ignores_truth(raw_frames):
    ev = load_event(EVENT, with_truth=False)
    assert ev.truth is None and not ev.has_truth


def test_truth_is_aligned_with_hits(tmp_path, raw_frames):
    hits, truth, _ = raw_frames
    shuffled = truth.sample(frac=1.0, random_state=7).reset_index(drop=True)
    assert not np.array_equal(shuffled.hit_id, hits.hit_id)
    ev = load_event(write_event(tmp_path, "shuf", hits, shuffled))
    np.testing.assert_array_equal(ev.truth.hit_id.to_numpy(), hits.hit_id.to_numpy())
    expected = truth.set_index("hit_id").loc[hits.hit_id]
    np.testing.assert_array_equal(ev.truth.particle_id.to_numpy(), expected.particle_id.to_numpy())
    np.testing.assert_array_equal(ev.truth.weight.to_numpy(), expected.weight.to_numpy())


def _with_endcap_hits(hits: pd.DataFrame, truth: pd.DataFrame, n: int = 7):
    """Append ``n`` hits on endcap volumes (7, 9, 12, 14, 16, 18) to the event."""
    rng = np.random.default_rng(5)
    volumes = np.array([7, 9, 12, 14, 16, 18])
    extra = pd.DataFrame({
        "hit_id": np.arange(n) + hits.hit_id.max() + 1,
        "x": rng.uniform(-500, 500, n), "y": rng.uniform(-500, 500, n),
        "z": rng.choice([-1, 1], n) * rng.uniform(600, 2900, n),
        "volume_id": volumes[np.arange(n) % len(volumes)], "layer_id": 2 * (np.arange(n) % 7 + 1),
        "module_id": 1,
    })
    # A barrel volume with an unknown layer id is also outside the table.
    extra.loc[0, ["volume_id", "layer_id"]] = (8, 10)
    extra_truth = pd.DataFrame({"hit_id": extra.hit_id, "particle_id": 0, "tx": extra.x, "ty": extra.y,
                                "tz": extra.z, "tpx": 0.0, "tpy": 0.0, "tpz": 0.0, "weight": 0.0})
    # Interleave the endcap hits with the barrel ones.
    h = pd.concat([extra.iloc[:3], hits, extra.iloc[3:]], ignore_index=True)
    t = pd.concat([extra_truth.iloc[:3], truth, extra_truth.iloc[3:]], ignore_index=True)
    return h, t, extra


def test_endcap_hits_are_read_and_unknown_layers_logged(tmp_path, raw_frames, caplog):
    hits, truth, _ = raw_frames
    h, t, extra = _with_endcap_hits(hits, truth, n=7)
    prefix = write_event(tmp_path, "withendcap", h, t)
    with caplog.at_level(logging.INFO, logger="qtrack"):
        ev = load_event(prefix)
    # Every hit of the file is kept in ``hits`` (the submission must cover them all) ...
    assert len(ev.hits) == len(hits) + 7
    np.testing.assert_array_equal(ev.hits.hit_id.to_numpy(), h.hit_id.to_numpy())
    assert len(ev.truth) == len(ev.hits)
    # ... and the arrays hold every hit on a known layer, endcap disks included, in file order;
    # only the hit on barrel layer 8/10 (no such layer) is left out, with a warning naming it.
    known = h[~((h.volume_id == 8) & (h.layer_id == 10))]
    assert ev.n_hits == len(hits) + 6
    np.testing.assert_array_equal(ev.hit_id, known.hit_id.to_numpy())
    np.testing.assert_array_equal(ev.z, known.z.to_numpy())
    assert len(ev.layer) == ev.n_hits and ev.layer.min() >= 0
    assert ev.layers.is_disk[ev.layer].sum() == 6
    lines = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert len(lines) == 1, caplog.text
    assert "left out 1 of 2793" in lines[0] and "8/10: 1" in lines[0]


def test_no_log_line_without_endcap_hits(caplog):
    with caplog.at_level(logging.INFO, logger="qtrack"):
        load_event(EVENT)
    assert not [r for r in caplog.records if "left out" in r.getMessage()]


@pytest.mark.parametrize("mutate, message", [
    (lambda h: h.drop(columns=["z"]), "missing column"),
    (lambda h: h.assign(x=h.x.where(h.index != 4, np.nan)), "column x"),
    (lambda h: h.assign(y=h.y.astype(object).where(h.index != 2, "abc")), "column y"),
    (lambda h: h.assign(hit_id=h.hit_id.where(h.index != 3, h.hit_id[0])), "duplicate hit_id"),
    (lambda h: h.iloc[:0], "no rows"),
])
def test_bad_hits_raise_input_error_naming_the_file(tmp_path, raw_frames, mutate, message):
    hits, _, _ = raw_frames
    prefix = write_event(tmp_path, "bad", mutate(hits.copy()))
    with pytest.raises(InputError, match=message) as info:
        load_event(prefix)
    assert "bad-hits.csv" in str(info.value)


def test_empty_file_raises(tmp_path):
    (tmp_path / "e-hits.csv").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_event(tmp_path / "e")


def test_missing_hits_file_raises(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_event(tmp_path / "nothing")


@pytest.mark.parametrize("which", ["extra", "missing"])
def test_truth_mismatch_raises(tmp_path, raw_frames, which):
    hits, truth, _ = raw_frames
    if which == "extra":
        row = truth.iloc[[0]].assign(hit_id=hits.hit_id.max() + 100)
        truth = pd.concat([truth, row], ignore_index=True)
    else:
        truth = truth.iloc[1:]
    prefix = write_event(tmp_path, "mm", hits, truth)
    with pytest.raises(InputError, match="truth does not match") as info:
        load_event(prefix)
    assert "mm-truth.csv" in str(info.value)
