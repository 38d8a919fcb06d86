"""QUBO files (Python and CLI) and TOML configuration."""
from __future__ import annotations

import dataclasses

import dimod
import numpy as np
import pytest

from conftest import EVENT, random_state, run_cli
from qtrack import pipeline
from qtrack.config import Config, DoubletConfig, ModelConfig, SolveConfig, TrackConfig
from qtrack.errors import InputError
from qtrack.model.qubo import load_qubo, save_qubo


def _energy(linear, irow, icol, quad, s):
    """E = sum_i a_i s_i + sum_k b_k s_irow[k] s_icol[k], summed by hand."""
    e = float(np.dot(linear, s))
    for i, j, b in zip(irow.tolist(), icol.tolist(), quad.tolist()):
        e += b * s[i] * s[j]
    return e


def _bqm_from_file(path):
    with np.load(path) as f:
        data = {k: f[k] for k in f.files}
    bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(
        data["linear"], (data["irow"], data["icol"], data["quad"]), 0.0, "BINARY")
    return bqm, data


def test_qubo_structure(built):
    q, m = built.qubo, built.model
    n = m.n_variables
    assert q.num_variables == n == len(q.linear) > 300
    assert q.num_couplers == len(m.quad_t1) + len(m.conflict_i)
    assert len(q.irow) == len(q.icol) == len(q.quad)
    assert (q.irow >= 0).all() and (q.icol < n).all() and (q.irow != q.icol).all()
    # Quadruplet couplers are negative (strength in [-1, -0.2]), conflicts +1.
    nq = len(m.quad_t1)
    assert (q.quad[:nq] <= -0.2).all() and (q.quad[:nq] >= -1).all()
    assert (q.quad[nq:] == 1.0).all()
    assert (q.linear == 0).all()  # reference QallseMp: a_i = 0
    bqm = q.to_bqm()
    assert bqm.num_variables == n
    assert bqm.num_interactions == q.num_couplers  # no pair appears twice


def test_save_load_round_trip(built, tmp_path):
    hit_ids = built.triplet_hit_ids()
    path = save_qubo(tmp_path / "sub" / "dir" / "q.npz", built.qubo, hit_ids)
    assert path.exists()
    assert [p.name for p in path.parent.iterdir()] == ["q.npz"]  # no temp file left
    q2, h2 = load_qubo(path)
    for f in ("linear", "irow", "icol", "quad"):
        a, b = getattr(built.qubo, f), getattr(q2, f)
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    np.testing.assert_array_equal(h2, hit_ids)
    assert h2.shape == (built.qubo.num_variables, 3)
    assert q2.to_bqm() == built.bqm
    # Plain numpy + dimod read it back too.
    bqm, data = _bqm_from_file(path)
    assert bqm == built.bqm
    assert set(data) == {"linear", "irow", "icol", "quad", "hit_ids"}


def test_triplet_hit_ids(built, event):
    hit_ids = built.triplet_hit_ids()
    r = dict(zip(event.hit_id.tolist(), event.r.tolist()))
    assert np.isin(hit_ids, event.hits.hit_id).all()
    for a, b, c in hit_ids.tolist()[:200]:
        assert r[a] < r[b] < r[c]   # inner first
    assert len({tuple(t) for t in hit_ids.tolist()}) == len(hit_ids)


def test_energy_of_random_states(built):
    q = built.qubo
    bqm = built.bqm
    for seed in range(3):
        s = random_state(q.num_variables, seed)
        expected = _energy(q.linear, q.irow, q.icol, q.quad, s)
        assert bqm.energy(s) == pytest.approx(expected, abs=1e-9)


def test_d0_weights_in_the_qubo(event):
    cfg = Config().replace(model={"use_d0_weights": True})
    b = pipeline.build(event, cfg)
    assert (b.qubo.linear > 0).any() and (b.qubo.linear >= 0).all() and (b.qubo.linear <= 0.7).all()


@pytest.mark.parametrize("content, message", [
    (None, "not found"),
    (b"not a zip file", "cannot be read"),
])
def test_load_qubo_errors(tmp_path, content, message):
    path = tmp_path / "q.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_qubo(path)


def test_load_qubo_missing_arrays(tmp_path):
    path = tmp_path / "q.npz"
    np.savez(path, linear=np.zeros(3), irow=np.zeros(0, int))
    with pytest.raises(InputError, match="missing icol, quad"):
        load_qubo(path)


def test_cli_build_writes_a_readable_file(tmp_path, built):
    out = tmp_path / "out"
    proc = run_cli("build", EVENT, "-o", out, "-q")
    assert proc.returncode == 0, proc.stderr
    path = out / "event000001000-qubo.npz"
    assert sorted(p.name for p in out.iterdir()) == [path.name]
    assert f"{built.qubo.num_variables} variables" in proc.stdout
    bqm, data = _bqm_from_file(path)
    assert bqm.num_variables == built.qubo.num_variables
    np.testing.assert_array_equal(data["hit_ids"], built.triplet_hit_ids())
    for seed in range(3):
        s = random_state(bqm.num_variables, 10 + seed)
        e_file = bqm.energy(s)
        assert e_file == pytest.approx(built.bqm.energy(s), abs=1e-9)
        assert e_file == pytest.approx(
            _energy(built.qubo.linear, built.qubo.irow, built.qubo.icol, built.qubo.quad, s), abs=1e-9)


def test_cli_build_honours_config(tmp_path, event, built):
    cfg_path = tmp_path / "cfg.toml"
    cfg_path.write_text("[model]\nuse_d0_weights = true\nbias_weight = -0.5\n"
                        "[doublets]\nmin_pt = 1.0\n")
    proc = run_cli("build", EVENT, "-o", tmp_path / "out", "--config", cfg_path, "-q")
    assert proc.returncode == 0, proc.stderr
    bqm, data = _bqm_from_file(tmp_path / "out" / "event000001000-qubo.npz")
    expected = pipeline.build(event, Config.from_toml(cfg_path))
    # min_pt = 1 GeV: fewer doublets and QUBO variables.
    assert len(expected.doublets) < len(built.doublets)
    assert expected.qubo.num_variables < built.qubo.num_variables
    assert bqm == expected.bqm
    assert (data["linear"] > -0.5).any() and (data["linear"] >= -0.5).all()


# ------------------------------------------------------------------------------------------------
# Config
# ------------------------------------------------------------------------------------------------

def test_config_from_toml(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        "[doublets]\nmin_pt = 0.8\nmax_layer_gap = 3\n"
        "[model]\nuse_d0_weights = true\nd0_denom = 2\n"
        "[solve]\nnum_reads = 20\nbeta_range = [0.1, 5]\n"
        "[tracks]\nmin_hits = 4\n")
    cfg = Config.from_toml(path)
    assert cfg.doublets == DoubletConfig(min_pt=0.8, max_layer_gap=3)
    assert cfg.model == ModelConfig(use_d0_weights=True, d0_denom=2.0)
    assert isinstance(cfg.model.d0_denom, float)
    assert cfg.solve == SolveConfig(num_reads=20, beta_range=(0.1, 5.0))
    assert cfg.tracks == TrackConfig(min_hits=4)
    # Overrides on top of the file keep the file's other settings.
    cfg2 = cfg.replace(solve={"seed": 3}, doublets={"phi_tolerance": 0.02})
    assert cfg2.solve.seed == 3 and cfg2.solve.num_reads == 20 and cfg2.solve.beta_range == (0.1, 5.0)
    assert cfg2.doublets.phi_tolerance == 0.02 and cfg2.doublets.min_pt == 0.8
    assert cfg.solve.seed == 1  # frozen: the original is unchanged


def test_config_defaults_are_the_reference():
    m = ModelConfig()
    assert (m.tplet_max_curv, m.tplet_max_drz, m.qplet_max_strength) == (8e-4, 0.1, -0.2)
    # qtrack's own: no fixed floor (the reference's 1e-4) under the quadruplets' curvature
    # difference, which its resolution and scattering set (curvature_sigmas).
    assert m.qplet_max_dcurv == 0.0 and m.curvature_sigmas == 3.0
    assert (m.min_qplet_path, m.conflict_strength, m.bias_weight) == (2, 1.0, 0.0)
    # qtrack's own: 8 reads of 60 sweeps, one of 500 for giant components (SolveConfig)
    assert (SolveConfig().num_reads, SolveConfig().num_sweeps) == (8, 60)
    assert (SolveConfig().large_num_reads, SolveConfig().large_num_sweeps) == (1, 500)
    assert TrackConfig().min_hits == 5


def test_config_dict_round_trip():
    cfg = Config().replace(model={"use_d0_weights": True}, solve={"beta_range": [0.5, 9]})
    assert Config.from_dict(cfg.to_dict()) == cfg
    assert Config.from_dict({}) == Config()


def test_empty_toml_is_defaults(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("# nothing\n")
    assert Config.from_toml(path) == Config()


@pytest.mark.parametrize("text, names", [
    ("[doublets]\nmin_ptt = 0.8\n", ["min_ptt"]),
    ("[solver]\nnum_reads = 3\n", ["solver"]),
    ("seed = 3\n", ["seed"]),
    ("[model.extra]\nx = 1\n", ["extra"]),
])
def test_unknown_key(tmp_path, text, names):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        Config.from_toml(path)
    msg = str(info.value)
    assert str(path) in msg and "unknown" in msg
    for n in names:
        assert repr(n) in msg


@pytest.mark.parametrize("text, where", [
    ('[solve]\nnum_reads = "ten"\n', "num_reads"),
    ("[solve]\nnum_reads = 2.5\n", "num_reads"),
    ("[solve]\nnum_reads = true\n", "num_reads"),
    ('[doublets]\nmin_pt = "1"\n', "min_pt"),
    ("[doublets]\nmin_pt = false\n", "min_pt"),
    ("[model]\nuse_d0_weights = 1\n", "use_d0_weights"),
    ("[solve]\nbeta_range = [1]\n", "beta_range"),
    ("[solve]\nbeta_range = [-1, 2]\n", "beta_range"),
    ("doublets = 3\n", "doublets"),
])
def test_wrong_type(tmp_path, text, where):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        Config.from_toml(path)
    msg = str(info.value)
    assert str(path) in msg and where in msg


def test_bad_toml_and_missing_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[solve\nnum_reads = 3\n")
    with pytest.raises(InputError, match="not valid TOML"):
        Config.from_toml(path)
    with pytest.raises(InputError, match="not found"):
        Config.from_toml(tmp_path / "missing.toml")


def test_int_accepted_for_float():
    cfg = Config.from_dict({"doublets": {"min_pt": 1}})
    assert cfg.doublets.min_pt == 1.0 and isinstance(cfg.doublets.min_pt, float)


def test_all_fields_are_settable_from_toml(tmp_path):
    """Every field of every section can be written back as TOML and read again."""
    cfg = Config()
    lines = []
    for section in dataclasses.fields(cfg):
        lines.append(f"[{section.name}]")
        for f in dataclasses.fields(getattr(cfg, section.name)):
            v = getattr(getattr(cfg, section.name), f.name)
            if v is None:
                continue
            text = (str(v).lower() if isinstance(v, bool) else repr(list(v))
                    if isinstance(v, tuple) else repr(v))
            lines.append(f"{f.name} = {text}")
    path = tmp_path / "all.toml"
    path.write_text("\n".join(lines) + "\n")
    assert Config.from_toml(path) == cfg
