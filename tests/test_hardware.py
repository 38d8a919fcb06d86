"""The hardware path offline: decomposition, embeddings, MockDWaveSampler, credentials, dry runs.

Embeddings are slow, so problems are small (~200 variables) and sub-problems tiny (30).
"""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

dimod = pytest.importorskip("dimod")
pytest.importorskip("dwave.system")
pytest.importorskip("minorminer")
pytest.importorskip("hybrid")

from qtrack.samplers import dwave as hardware  # noqa: E402
from qtrack.samplers.dwave import decompose, qpu, resources  # noqa: E402
from qtrack.samplers.dwave.substitute import SeededSubstitute  # noqa: E402
from qtrack.errors import SamplerError  # noqa: E402
from qtrack.samplers import get_sampler  # noqa: E402

SUB = 30  # sub-problem size that forces decomposition of the test problems
# The toy problems are solved exactly by the reductions (roof duality fixes them); these settings
# switch the reductions off so that the QPU path itself is exercised.
RAW = {"roof_duality": False, "exact_max_variables": 0}


def tracking_bqm(n_tracks=16, length=8, seed=0, conflict_rate=0.4):
    """Tracking-like QUBO: tracks are chains of triplets linked by -0.5 couplers; fake triplets
    branch off a track (-0.5 to one triplet, +1 conflict with the next) and conflict (+1) with
    triplets of the neighbouring track, which joins tracks into larger components."""
    rng = np.random.default_rng(seed)
    quad = {}
    n = 0
    tracks = []
    for _ in range(n_tracks):
        chain = list(range(n, n + length))
        n += length
        quad.update({(a, b): -0.5 for a, b in zip(chain, chain[1:])})
        tracks.append(chain)
    for t, chain in enumerate(tracks):
        for j in rng.choice(length - 1, size=length // 2, replace=False):
            f = n
            n += 1
            quad[(chain[j], f)] = -0.5
            quad[(chain[j + 1], f)] = 1.0
            if t + 1 < n_tracks and rng.random() < conflict_rate:
                quad[(f, tracks[t + 1][j])] = 1.0
    return dimod.BinaryQuadraticModel({v: 0.0 for v in range(n)}, quad, 0.0, "BINARY")


def neal_energy(bqm):
    from dwave.samplers import SimulatedAnnealingSampler

    return SimulatedAnnealingSampler().sample(bqm, num_reads=10, num_sweeps=1000,
                                              seed=1).first.energy


@pytest.fixture(scope="module")
def problem():
    bqm = tracking_bqm()
    return bqm, neal_energy(bqm)


@pytest.fixture(scope="module")
def mock_sampler():
    return hardware.qpu_sampler(mock=True, subproblem_size=SUB, seed=7, num_reads=20, **RAW)


@pytest.fixture(scope="module")
def mock_run(problem, mock_sampler):
    bqm, _ = problem
    t0 = time.perf_counter()
    ss = mock_sampler.sample(bqm, num_reads=20, seed=3)
    return ss, time.perf_counter() - t0


@pytest.fixture
def no_dwave_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("DWAVE"):
            monkeypatch.delenv(key)
    conf = tmp_path / "dwave.conf"
    conf.write_text("")
    monkeypatch.setenv("DWAVE_CONFIG_FILE", str(conf))
    return conf


# ------------------------------------------------------------------------ mock QPU, end to end

def test_mock_qpu_energy_close_to_neal(problem, mock_run):
    bqm, e_neal = problem
    ss, _ = mock_run
    assert isinstance(ss, dimod.SampleSet)
    assert set(ss.variables) == set(bqm.variables)
    assert ss.vartype is dimod.BINARY
    assert len(ss) == 1
    e = ss.first.energy
    assert e == pytest.approx(bqm.energy(ss.first.sample))
    assert e < 0
    # within 1% of simulated annealing on the whole problem (both find -56 here; a run that
    # ignores the clamped neighbours of each block ends at -55)
    assert e <= e_neal + 0.01 * abs(e_neal), (e, e_neal)


def test_mock_qpu_resources(problem, mock_run):
    bqm, _ = problem
    ss, _ = mock_run
    res = ss.info["resources"]
    json.dumps(res)  # JSON-serialisable
    assert res["split_components"] >= 1  # decomposition really happened
    assert res["subproblems"] > 1 and res["qpu_calls"] == res["subproblems"]
    assert 0 < res["logical_qubits_max"] <= SUB
    assert res["physical_qubits_max"] >= res["logical_qubits_max"]
    assert res["physical_qubits_total"] >= res["logical_qubits_total"] >= bqm.num_variables
    assert res["longest_chain"] >= 1
    assert 0.0 <= res["chain_break_fraction"] <= 1.0
    assert res["qpu_access_time_us"] > 0 and res["qpu_access_time_is_placeholder"] is True
    assert "placeholder" in res["qpu_access_time_note"]
    # the timing model: programming + reads x (anneal + readout + delay), per call
    timing = qpu.TimingModel.from_settings()
    low = res["qpu_calls"] * timing.call_us(1, 20) * 1e-6
    high = res["qpu_calls"] * timing.call_us(res["physical_qubits_max"], 20) * 1e-6
    assert low <= res["qpu_access_time_estimate_s"] <= high + 1e-6
    # one clique embedding per size bucket serves every sub-problem of that size
    assert res["embedding"] == "clique"
    assert 1 <= res["embedding_cache_misses"] <= SUB // 8 + 1 and res["embedding_time_s"] > 0
    planned = res["blocks"] + res["packed_subproblems"]  # embedded once, solved every sweep
    assert res["embedding_cache_hits"] + res["embedding_cache_misses"] == planned
    assert res["sweeps"] >= 2
    assert res["initial_energy"] == 0.0 and ss.first.energy < res["initial_energy"]
    # the polish is reported apart: the state the QPU left, and after the steepest descent
    assert res["polish"] is True
    assert res["energy_after_polish"] <= res["energy_before_polish"] <= res["initial_energy"]
    assert res["energy_after_polish"] == pytest.approx(ss.first.energy)


def test_mock_qpu_is_deterministic_and_reuses_embeddings(problem, mock_sampler, mock_run):
    bqm, _ = problem
    first, _ = mock_run
    again = mock_sampler.sample(bqm, num_reads=20, seed=3)
    assert again.first.sample == first.first.sample
    res = again.info["resources"]
    assert res["embedding_cache_misses"] == 0
    assert res["embedding_cache_hits"] == res["blocks"] + res["packed_subproblems"]
    assert res["embedding_time_s"] == 0


def test_embedding_cache_hits_for_repeated_graph():
    # six copies of one 20-variable component: packed one per call (size 20), one embedding
    one = tracking_bqm(n_tracks=2, length=6, seed=4)
    assert one.num_variables <= 20
    bqm = dimod.BinaryQuadraticModel("BINARY")
    for copy in range(6):
        bqm.update(one.relabel_variables({v: f"c{copy}_{v}" for v in one.variables},
                                         inplace=False))
    s = hardware.qpu_sampler(mock=True, subproblem_size=one.num_variables, seed=1,
                              num_reads=5, **RAW)
    ss = s.sample(bqm)
    res = ss.info["resources"]
    assert res["qpu_calls"] == 6
    assert res["embedding_cache_misses"] == 1
    assert res["embedding_cache_hits"] == 5
    # one pass over packed components, chains of a clique embedding: within 5% of annealing
    assert 6 * neal_energy(one) <= ss.first.energy <= 0.95 * 6 * neal_energy(one)


def test_subproblem_clamps_the_rest_exactly(problem):
    # E_sub(y) - E_sub(y') must equal E(x with block=y) - E(x with block=y') for any state x
    bqm, _ = problem
    g = decompose.Graph(bqm)
    comp = max(g.components(), key=len)
    block = g.grow_blocks(comp, 12)[1]
    unit = decompose.make_unit(g, [block])
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, g.n).astype(np.int8)
    sub, h_eff, Wl = qpu._sub_bqm(g, unit, x)
    ys = rng.integers(0, 2, (5, unit.size)).astype(np.int8)
    full = []
    for y in ys:
        z = x.copy()
        z[unit.order] = y
        full.append(g.energy(z))
    local = sub.energies((ys, range(unit.size)))
    assert np.allclose(np.diff(full), np.diff(local))
    assert np.allclose(qpu._group_energies(ys, h_eff, Wl, unit)[:, 0], local)
    assert g.energy(x) == pytest.approx(bqm.energy({v: x[i] for i, v in enumerate(g.labels)}))


def test_blocks_follow_tracks():
    # three 10-triplet tracks joined by conflicts: blocks of 10 must be exactly the tracks
    quad = {}
    for t in range(3):
        quad.update({(10 * t + i, 10 * t + i + 1): -0.5 for i in range(9)})
    quad.update({(3, 14): 1.0, (15, 26): 1.0, (8, 21): 1.0})
    bqm = dimod.BinaryQuadraticModel({v: 0.0 for v in range(30)}, quad, 0.0, "BINARY")
    g = decompose.Graph(bqm)
    blocks = g.grow_blocks(np.arange(30), 10)
    assert sorted(sorted(b.tolist()) for b in blocks) == [list(range(10 * t, 10 * t + 10))
                                                         for t in range(3)]
    shifted = g.grow_blocks(np.arange(30), 10, first=5)
    assert sorted(np.concatenate(shifted).tolist()) == list(range(30))
    assert all(len(b) <= 10 for b in shifted)
    assert {frozenset(b.tolist()) for b in shifted} != {frozenset(b.tolist()) for b in blocks}


def test_spin_bqm_and_labels_round_trip():
    bqm = tracking_bqm(n_tracks=3, length=5, seed=2).change_vartype("SPIN", inplace=False)
    bqm.relabel_variables({v: f"t{v}" for v in bqm.variables})
    ss = hardware.qpu_sampler(mock=True, subproblem_size=8, seed=0, num_reads=5,
                              **RAW).sample(bqm)
    assert ss.vartype is dimod.SPIN
    assert set(ss.first.sample.values()) <= {-1, 1}
    assert ss.first.energy == pytest.approx(bqm.energy(ss.first.sample))
    assert ss.first.energy <= neal_energy(bqm) + 1e-9 + 0.03 * abs(neal_energy(bqm))


def test_registry_builds_mock_qpu(problem):
    from qtrack.components import sample_kwargs
    from qtrack.config import Config
    from qtrack.samplers import capabilities_of

    config = Config().replace(qpu={"subproblem_size": SUB, "num_reads": 7}, solve={"seed": 1})
    s = get_sampler("mock-qpu", config)
    assert isinstance(s, qpu.DecomposedQPUSampler)
    assert s.subproblem_size == SUB and s.num_reads == 7
    assert "seed" in s.parameters and "num_reads" in s.parameters
    caps = capabilities_of(s)
    assert not caps.remote and not caps.solve_settings
    # reads per QPU call come from [qpu], not from the pipeline's neal-sized [solve] num_reads
    assert sample_kwargs(s, caps, config.solve, (0.1, 1.0), 5) == {"seed": 5}
    assert capabilities_of(hardware.qpu_sampler()).remote


def test_dwave_samplers_follow_the_dimod_api():
    from dimod.testing import assert_sampler_api

    for s in (hardware.qpu_sampler(mock=True, subproblem_size=SUB),
              hardware.loop_sampler(mock=True, subproblem_size=SUB),
              hardware.leap_sampler(dry_run=True)):
        assert_sampler_api(s)
        assert isinstance(s.parameters, dict) and isinstance(s.properties, dict)


# ------------------------------------------------------------------ decomposed (dwave-hybrid)

def test_decomposed_with_mock(problem):
    bqm, e_neal = problem
    # from all-zeros, so the dwave-hybrid loop (not the initial annealer) does the work
    # minorminer's short chains (a clique embedding's long chains cost the mock's annealer ~3%)
    s = hardware.loop_sampler(mock=True, subproblem_size=SUB, seed=2, num_reads=10,
                              loop_initial_state="zeros", embedding="minorminer", **RAW)
    ss = s.sample(bqm, seed=4)
    res = ss.info["resources"]
    assert res["initial_energy"] == 0.0
    assert ss.first.energy == pytest.approx(bqm.energy(ss.first.sample))
    assert ss.first.energy <= e_neal + 0.01 * abs(e_neal)
    assert res["hybrid_loop_components"] >= 1
    assert res["qpu_calls"] > 1
    assert res["physical_qubits_total"] >= res["logical_qubits_total"] > 0
    assert 0.0 <= res["chain_break_fraction"] <= 1.0
    json.dumps(res)


# ------------------------------------------------------------------------------- credentials

@pytest.mark.parametrize("name", ["qpu", "hybrid", "decomposed"])
def test_check_credentials_without_token(no_dwave_env, name):
    t0 = time.perf_counter()
    with pytest.raises(SamplerError) as err:
        hardware.check_credentials(f"sampler {name!r}")
    assert time.perf_counter() - t0 < 2.0
    msg = str(err.value)
    assert "DWAVE_API_TOKEN" in msg and "dwave config" in msg and "\n" not in msg


def test_check_credentials_missing_config_file(monkeypatch, no_dwave_env, tmp_path):
    monkeypatch.setenv("DWAVE_CONFIG_FILE", str(tmp_path / "missing.conf"))
    with pytest.raises(SamplerError, match="DWAVE_API_TOKEN"):
        hardware.check_credentials("sampler 'qpu'")


def test_check_credentials_never_shows_the_token(no_dwave_env, monkeypatch):
    monkeypatch.setenv("DWAVE_API_TOKEN", "fake")
    summary = hardware.check_credentials("sampler 'qpu'")
    assert "fake" not in json.dumps(summary)


def test_sampling_without_token_fails_fast(no_dwave_env, problem):
    bqm, _ = problem
    t0 = time.perf_counter()
    with pytest.raises(SamplerError, match="DWAVE_API_TOKEN"):
        hardware.qpu_sampler().sample(bqm)
    assert time.perf_counter() - t0 < 2.0


@pytest.mark.parametrize("name", ["qpu", "hybrid", "decomposed"])
def test_unreachable_endpoint_fails_fast(no_dwave_env, monkeypatch, name):
    monkeypatch.setenv("DWAVE_API_TOKEN", "fake")
    monkeypatch.setenv("DWAVE_API_ENDPOINT", "http://127.0.0.1:9/sapi/v2/")
    bqm = tracking_bqm(n_tracks=2, length=4)
    t0 = time.perf_counter()
    with pytest.raises(SamplerError) as err:
        get_sampler(name).sample(bqm)
    assert time.perf_counter() - t0 < 15.0
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------------- dry run

def test_dry_run_report(no_dwave_env, problem):
    bqm, _ = problem
    rep = hardware.qpu_sampler(subproblem_size=SUB, seed=7, sweeps=3,
                               **RAW).offline_report(bqm)
    json.dumps(rep)
    assert rep["submitted"] == 0 and rep["credentials_needed"] is True
    assert rep["target"].startswith("pegasus 16") and "5640" in rep["target"]
    assert rep["variables"] == bqm.num_variables
    assert rep["subproblems"] > 1 and rep["split_components"] >= 1
    assert rep["logical_qubits_max"] <= SUB
    assert rep["physical_qubits_max"] >= rep["logical_qubits_max"]
    assert rep["physical_qubits_total"] >= rep["logical_qubits_total"] >= bqm.num_variables
    assert rep["longest_chain"] >= 1 and rep["mean_chain_length"] >= 1.0
    assert sum(rep["chain_lengths"].values()) == rep["logical_qubits_total"]
    assert max(rep["chain_lengths"]) == rep["longest_chain"]
    assert len(rep["qpu_calls_per_sweep"]) == 3 and sum(rep["qpu_calls_per_sweep"]) == \
        rep["qpu_calls"]
    assert rep["qpu_calls_per_sweep"][0] > rep["packed_subproblems"]  # + the first blocks
    assert rep["embedding_failures"] == 0
    # the access-time estimate: per call, programming + reads x (anneal + readout + delay)
    timing = qpu.TimingModel.from_settings()
    assert rep["qpu_access_time_estimate_s"] == pytest.approx(
        sum(rep["qpu_access_time_estimate_per_sweep_s"]), abs=0.01)
    assert rep["qpu_calls"] * timing.call_us(1, rep["num_reads"]) * 1e-6 <= \
        rep["qpu_access_time_estimate_s"] <= \
        rep["qpu_calls"] * timing.call_us(rep["physical_qubits_max"], rep["num_reads"]) * 1e-6
    assert rep["hybrid_alternative"]["calls"] == 1
    assert rep["hybrid_alternative"]["min_time_limit_s"] == 3.0  # under 1024 variables
    # the same seed plans the same sub-problems and embeddings
    again = hardware.qpu_sampler(subproblem_size=SUB, seed=7, sweeps=3,
                                 **RAW).offline_report(bqm)
    for key in ("subproblems", "physical_qubits_total", "longest_chain", "qpu_calls"):
        assert again[key] == rep[key]
    assert hardware.leap_sampler().offline_report(bqm)["hybrid_calls"] == 1


def test_dry_run_sampler_needs_no_credentials(no_dwave_env):
    bqm = tracking_bqm(n_tracks=3, length=5, seed=5)
    ss = hardware.qpu_sampler(dry_run=True, subproblem_size=10, seed=1,
                               num_reads=5, **RAW).sample(bqm)
    res = ss.info["resources"]
    assert res["dry_run"] is True and res["mock"] is True
    assert ss.first.energy == pytest.approx(bqm.energy(ss.first.sample))


# ----------------------------------------------------------------------------------- errors

def test_bad_arguments():
    from qtrack.errors import QtrackError

    with pytest.raises(SamplerError, match="unknown sampler 'quantum'"):
        get_sampler("quantum")
    with pytest.raises(SamplerError, match="seed"):
        hardware.qpu_sampler(mock=True, seed=-1)
    with pytest.raises(QtrackError, match="subproblem_size"):
        hardware.qpu_sampler(mock=True, subproblem_size=1)
    s = hardware.qpu_sampler(mock=True, subproblem_size=SUB)
    # dimod's contract: an unknown keyword argument is warned about and ignored
    with pytest.warns(dimod.exceptions.SamplerUnknownArgWarning):
        ss = s.sample(tracking_bqm(2, 3), beta_range=(1, 2))
    assert len(ss) == 1


def test_merge_resources():
    a = {"qpu_calls": 2, "subproblems": 2, "chain_break_fraction": 0.1, "physical_qubits_max": 5,
         "physical_qubits_total": 9, "longest_chain": 2, "solver": "x",
         "qpu_access_time_is_placeholder": True}
    b = {"qpu_calls": 6, "subproblems": 6, "chain_break_fraction": 0.5, "physical_qubits_max": 3,
         "physical_qubits_total": 11, "longest_chain": 4, "solver": "x",
         "qpu_access_time_is_placeholder": True}
    a.update(subproblem_size=100, largest_component=70, components=4)
    b.update(subproblem_size=100, largest_component=150, components=9)
    m = resources.merge_resources([a, b])
    # sizes are not added up: the sub-problem size stays 100, the largest component is the max
    assert m["subproblem_size"] == 100 and m["largest_component"] == 150
    assert m["components"] == 13
    assert m["qpu_calls"] == 8 and m["physical_qubits_total"] == 20
    assert m["physical_qubits_max"] == 5 and m["longest_chain"] == 4
    assert m["chain_break_fraction"] == pytest.approx((2 * 0.1 + 6 * 0.5) / 8)
    assert m["solver"] == "x" and m["batches"] == 2
    assert m["qpu_access_time_is_placeholder"] is True


# ------------------------------------------------------------------- experiments/solver_study

def _experiment(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "experiments" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _solver_study():
    return _experiment("solver_study")


def test_solver_study_runs_and_writes(tmp_path, capsys):
    bqm = tracking_bqm(n_tracks=4, length=6, seed=3)
    lin, (irow, icol, quad), _ = bqm.to_numpy_vectors(variable_order=range(bqm.num_variables))
    qfile = tmp_path / "toy-qubo.npz"
    np.savez(qfile, linear=lin, irow=irow, icol=icol, quad=quad)
    out = tmp_path / "study"
    rc = _solver_study().main([str(qfile), "--samplers", "neal", "steepest", "mock-qpu", "qpu",
                               "--seeds", "2", "--subproblem-size", "12", "--out", str(out)])
    assert rc == 0
    data = json.loads((tmp_path / "study.json").read_text())
    rows = data["rows"]
    assert {r["sampler"] for r in rows} == {"neal", "steepest", "mock-qpu"}
    assert len(rows) == 6
    best = min(r["energy"] for r in rows)
    assert all(r["best_energy"] == best and r["gap"] >= 0 for r in rows)
    assert any(r["gap"] == 0 for r in rows)
    mock = [r for r in rows if r["sampler"] == "mock-qpu"]
    # the toy is solved by the exact reductions alone: no QPU call is needed
    assert all(r["qpu_calls"] == 0 and r["qpu_access_time_is_placeholder"] for r in mock)
    for r in rows:  # the recorded energy is the QUBO's energy of some state
        assert r["energy"] <= 0
    header = (tmp_path / "study.csv").read_text().splitlines()[0].split(",")
    assert {"sampler", "seed", "energy", "relative_gap", "wall_s"} <= set(header)
    skipped = {s["sampler"]: s["reason"] for s in data["skipped"]}
    assert "account" in skipped["qpu"] and skipped["tabu"] == "not selected"


def test_solver_study_missing_file_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        _solver_study().main([str(tmp_path / "nope.npz"), "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "nope.npz" in err and "not found" in err and "\n" not in err
    assert not (tmp_path / "x.json").exists()


# ------------------------------------------------------------- exact reductions, control errors

def test_reductions_are_exact_on_the_shipped_event(built):
    from dwave.samplers import SimulatedAnnealingSampler
    from qtrack.samplers.dwave.reduce import reduce_exactly

    bqm = built.bqm
    g = decompose.Graph(bqm)
    red = reduce_exactly(g, roof_duality=True, exact_max=12)
    st = red.stats
    assert st["variables"] == g.n
    assert st["roof_duality_fixed"] > 0
    assert st["roof_duality_fixed"] + st["exact_variables"] + st["qpu_variables"] == g.n
    # the shipped event is solved by the reductions alone, and their state is optimal: its
    # energy is no higher than annealing's and no lower than roof duality's lower bound
    from dwave.preprocessing import roof_duality

    assert st["qpu_variables"] == 0 and len(red.rest) == 0
    lower_bound, _ = roof_duality(bqm, strict=True)
    full = SimulatedAnnealingSampler().sample(bqm, num_reads=8, num_sweeps=2000,
                                              seed=5).first.energy
    assert lower_bound - 1e-9 <= g.energy(red.x) <= full + 1e-9


def test_small_components_are_solved_exactly():
    # tracks without conflicts between them: components of 8 triplets and their fakes
    bqm = tracking_bqm(n_tracks=6, length=6, seed=2, conflict_rate=0.0)
    bqm.add_linear_from({v: 0.1 * ((7 * v) % 5 - 2) for v in bqm.variables})  # no easy ties
    from qtrack.samplers.dwave.reduce import reduce_exactly

    g = decompose.Graph(bqm)
    red = reduce_exactly(g, roof_duality=False, exact_max=12)
    assert red.stats["exact_components"] == 6 and red.stats["qpu_variables"] == 0
    ground = 0.0
    for c in _components(bqm):
        part = dimod.BinaryQuadraticModel({v: bqm.get_linear(v) for v in c},
                                          {(u, v): w for (u, v), w in bqm.quadratic.items()
                                           if u in c}, 0.0, "BINARY")
        ground += dimod.ExactSolver().sample(part).first.energy
    assert g.energy(red.x) == pytest.approx(ground)
    # with a limit below the component size nothing is enumerated
    assert reduce_exactly(g, roof_duality=False, exact_max=4).stats["exact_components"] == 0


def _components(bqm):
    import networkx as nx

    return [set(c) for c in nx.connected_components(dimod.to_networkx_graph(bqm))]


def test_control_errors_perturb_each_call_reproducibly():
    bqm = tracking_bqm(n_tracks=2, length=4, seed=1)
    clean = SeededSubstitute(num_sweeps=500, seed=3)
    noisy = SeededSubstitute(num_sweeps=500, seed=3, ice_sigma_h=1.0, ice_sigma_j=1.0)
    a = clean.sample(bqm, num_reads=50)
    b = noisy.sample(bqm, num_reads=50)
    assert b.vartype is bqm.vartype and set(b.variables) == set(bqm.variables)
    # the energies are the given problem's, whatever the noise made the annealer see
    assert np.allclose(b.record.energy, bqm.energies(b))
    assert b.first.energy >= a.first.energy
    # fresh noise on every call costs energy on average
    clean_e = np.concatenate([clean.sample(bqm, num_reads=20).record.energy for _ in range(5)])
    noisy_e = np.concatenate([noisy.sample(bqm, num_reads=20).record.energy for _ in range(5)])
    assert clean_e.mean() < noisy_e.mean()
    again = SeededSubstitute(num_sweeps=500, seed=3, ice_sigma_h=1.0, ice_sigma_j=1.0)
    assert np.array_equal(again.sample(bqm, num_reads=50).record.sample, b.record.sample)
    # through the config: control errors are off unless asked for
    assert hardware.qpu_sampler(mock=True).properties["control_errors"] is False
    assert hardware.qpu_sampler(mock=True, control_errors=True).properties["control_errors"]


def test_qpu_settings_are_checked():
    from qtrack.config import QPUConfig

    assert QPUConfig().embedding == "clique"
    from qtrack.errors import QtrackError

    with pytest.raises(QtrackError, match="embedding"):
        hardware.qpu_sampler(mock=True, embedding="spiral")
    with pytest.raises(QtrackError, match="ice_sigma_h"):
        hardware.qpu_sampler(mock=True, ice_sigma_h=-0.1)
    assert resources.hybrid_min_time_limit(500) == 3.0
    assert resources.hybrid_min_time_limit(2560) == pytest.approx(6.5)  # halfway 1024..4096
    assert resources.hybrid_min_time_limit(10**7) == 600.0
    t = resources.TimingModel.from_settings()
    assert t.readout_us(12) == pytest.approx(25.0) and t.readout_us(5000) == pytest.approx(150.0)
    assert t.call_us(12, 10) == pytest.approx(15_936 + 10 * (20 + 25 + 21))


def test_path_integral_stand_in():
    bqm = tracking_bqm(n_tracks=3, length=4, seed=6)
    s = hardware.qpu_sampler(mock=True, subproblem_size=SUB, seed=2, num_reads=10,
                             mock_annealer="path-integral", **RAW)
    assert s.properties["mock_annealer"] == "path-integral"
    ss = s.sample(bqm)
    assert ss.first.energy == pytest.approx(bqm.energy(ss.first.sample))
    assert ss.first.energy <= 0.8 * neal_energy(bqm)  # -4.0 against -4.5 here


def test_control_errors_experiment_refuses_a_missing_event(tmp_path, capsys):
    out = tmp_path / "ce"
    assert _experiment("control_errors").main([str(tmp_path / "nope"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "nope" in err and "\n" not in err and err.startswith("control_errors.py: error:")
    assert not list(tmp_path.glob("ce*"))


def test_reduced_problem_is_the_full_problem_clamped():
    # the shipped PU20 event keeps most of its variables for the QPU: the reduced problem's
    # energy differences must be the full problem's with the fixed variables at their values
    import dataclasses
    from pathlib import Path

    from qtrack import pipeline
    from qtrack.config import QPUConfig

    event = Path(__file__).resolve().parent.parent / "data" / "sim" / "event000000001"
    g = decompose.Graph(pipeline.build(event).bqm)
    x, rest, core, st = qpu.reduced_problem(g, dataclasses.asdict(QPUConfig()), 1, "zeros")
    assert st["roof_duality_fixed"] > 0 and st["exact_components"] > 0
    assert 0 < core.n == len(rest) == st["qpu_variables"] < g.n
    rng = np.random.default_rng(3)
    full, reduced = [], []
    for _ in range(4):
        y = rng.integers(0, 2, core.n).astype(np.int8)
        z = x.copy()
        z[rest] = y
        full.append(g.energy(z))
        reduced.append(core.energy(y))
    assert np.allclose(np.diff(full), np.diff(reduced))
