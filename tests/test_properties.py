"""Property-based tests (hypothesis): readers, the config loader and the QUBO's invariants.

Whatever the input, a reader or the config loader either returns a valid result or raises a
qtrack error with one line; never another exception. Whatever the hits, the QUBO is well formed.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qtrack.config import Config
from qtrack.errors import InputError, QtrackError
from qtrack.event import load_event

from conftest import VOLAYERS

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
RADII = [32.0, 72.0, 116.0, 172.0, 260.0, 360.0, 500.0, 660.0, 820.0, 1020.0]


@st.composite
def barrel_hits(draw, max_tracks=6):
    """Hits of a few straight-ish tracks from the beam line plus noise, on the barrel layers."""
    n_tracks = draw(st.integers(1, max_tracks))
    rows = []
    for t in range(n_tracks):
        phi = draw(st.floats(-math.pi, math.pi))
        cot = draw(st.floats(-1.5, 1.5))
        z0 = draw(st.floats(-40, 40))
        curv = draw(st.floats(-3e-4, 3e-4))
        for (vol, lay), r in zip(VOLAYERS, RADII):
            p = phi + curv * r
            rows.append((r * math.cos(p), r * math.sin(p), z0 + cot * r, vol, lay, t + 1))
    for _ in range(draw(st.integers(0, 10))):
        k = draw(st.integers(0, len(RADII) - 1))
        p = draw(st.floats(-math.pi, math.pi))
        rows.append((RADII[k] * math.cos(p), RADII[k] * math.sin(p), draw(st.floats(-500, 500)),
                     *VOLAYERS[k], 0))
    df = pd.DataFrame(rows, columns=["x", "y", "z", "volume_id", "layer_id", "particle_id"])
    df.insert(0, "hit_id", np.arange(1, len(df) + 1))
    return df


@SETTINGS
@given(hits=barrel_hits(), fmt=st.sampled_from([".csv", ".csv.gz", ".parquet"]))
def test_reader_round_trip(tmp_path_factory, hits, fmt):
    tmp = tmp_path_factory.mktemp("rt")
    prefix = tmp / "event000000042"
    h = hits.drop(columns="particle_id")
    truth = pd.DataFrame({"hit_id": hits.hit_id, "particle_id": hits.particle_id,
                          "tpx": 1.0, "tpy": 0.0, "weight": 1.0 / len(hits)})
    for name, df in (("hits", h), ("truth", truth)):
        path = f"{prefix}-{name}{fmt}"
        df.to_parquet(path) if fmt == ".parquet" else df.to_csv(path, index=False)
    ev = load_event(prefix)
    assert ev.name == "event000000042" and ev.has_truth
    np.testing.assert_array_equal(ev.hits.hit_id.to_numpy(), h.hit_id.to_numpy())
    np.testing.assert_allclose(ev.x, h.x.to_numpy())
    np.testing.assert_array_equal(ev.truth.particle_id.to_numpy(), hits.particle_id.to_numpy())


@SETTINGS
@given(data=st.binary(max_size=400), fmt=st.sampled_from([".csv", ".csv.gz", ".parquet"]))
def test_reader_garbage_is_one_clear_error(tmp_path_factory, data, fmt):
    tmp = tmp_path_factory.mktemp("garbage")
    path = tmp / f"junk-hits{fmt}"
    path.write_bytes(data)
    # No byte string of this size holds the hits table's required columns: always refused.
    with pytest.raises(InputError) as info:
        load_event(tmp / "junk")
    msg = str(info.value)
    assert "junk-hits" in msg and "\n" not in msg


SECTION_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                           st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                           st.lists(st.floats(-10, 10), max_size=3))


@st.composite
def config_tables(draw):
    cfg = Config()
    tables = {}
    for f in dataclasses.fields(cfg):
        if draw(st.booleans()):
            fields = [g.name for g in dataclasses.fields(getattr(cfg, f.name))] + ["bogus"]
            keys = draw(st.lists(st.sampled_from(fields), max_size=3, unique=True))
            tables[f.name] = {k: draw(SECTION_VALUES) for k in keys}
    return tables


@SETTINGS
@given(tables=config_tables())
def test_config_loader_accepts_or_names_the_problem(tables):
    try:
        cfg = Config.from_dict(tables, "cfg.toml")
    except QtrackError as exc:
        msg = str(exc)
        assert msg.startswith("cfg.toml: ") and "\n" not in msg
        return
    for section, values in tables.items():
        for key, value in values.items():
            got = getattr(getattr(cfg, section), key)
            if isinstance(value, float) and not isinstance(got, tuple):
                assert math.isfinite(got) and got == pytest.approx(value)
    # a valid config survives a round trip through its dict
    assert Config.from_dict(cfg.to_dict()) == cfg


@SETTINGS
@given(hits=barrel_hits(max_tracks=8), seed=st.integers(0, 2**16))
def test_qubo_invariants(tmp_path_factory, hits, seed):
    import qtrack

    tmp = tmp_path_factory.mktemp("q")
    hits.drop(columns="particle_id").to_csv(tmp / "e-hits.csv", index=False)
    built = qtrack.build(tmp / "e")
    q, m = built.qubo, built.model
    n = q.num_variables
    assert n == len(m.triplets) and len(q.linear) == n
    if len(q.irow):
        assert q.irow.min() >= 0 and max(q.irow.max(), q.icol.max()) < n
    assert np.all(q.irow != q.icol)
    pairs = np.stack([np.minimum(q.irow, q.icol), np.maximum(q.irow, q.icol)], axis=1)
    assert len(np.unique(pairs, axis=0)) == len(pairs)  # one coupler per pair
    assert np.all(m.quad_strength < 0)
    nq = len(m.quad_t1)
    assert np.all(q.quad[nq:] == built.config.model.conflict_strength)
    state = np.random.default_rng(seed).integers(0, 2, n)
    assert q.energy(state) == pytest.approx(q.to_bqm().energy(dict(enumerate(state))))
