"""Simulated bifurcation sampler: dimod contract, reproducibility, ground states, quality."""
from __future__ import annotations

import inspect
import json
import math
import os
import subprocess
import sys
import warnings

import dimod
import numpy as np
import pytest

from qtrack.samplers.sb import SimulatedBifurcationSampler

VARIANTS = ("ballistic", "discrete")


def random_bqm(seed: int, n: int, density: float, field: float, vartype="SPIN"):
    """Random Ising problem with couplings in [-1, 1] and fields in [-field, field]."""
    rng = np.random.default_rng(seed)
    linear = {i: rng.uniform(-field, field) for i in range(n)}
    quadratic = {(i, j): rng.uniform(-1.0, 1.0)
                 for i in range(n) for j in range(i + 1, n) if rng.random() < density}
    bqm = dimod.BinaryQuadraticModel(linear, quadratic, 0.0, dimod.SPIN)
    return bqm.change_vartype(vartype, inplace=False)


def tracking_bqm(seed: int, num_chains: int, max_length: int = 8) -> dimod.BinaryQuadraticModel:
    """BINARY problem shaped like a tracking QUBO: chains of triplets bound by negative couplers,
    plus +1 conflicts between triplets of nearby chains (which share hits)."""
    rng = np.random.default_rng(seed)
    bqm = dimod.BinaryQuadraticModel(dimod.BINARY)
    chains = []
    for c in range(num_chains):
        chain = [f"t{c}.{k}" for k in range(rng.integers(2, max_length + 1))]
        bqm.add_variables_from((v, rng.choice([0.0, 0.0, 0.1])) for v in chain)
        for u, v in zip(chain, chain[1:]):
            bqm.add_interaction(u, v, rng.uniform(-1.0, -0.2))
        chains.append(chain)
    for c in range(num_chains):
        near = [v for chain in chains[c:c + 4] for v in chain]
        for _ in range(len(chains[c])):
            u, v = rng.choice(len(near), 2, replace=False)
            bqm.add_interaction(near[u], near[v], 1.0)
    return bqm


def ground_energy(bqm) -> float:
    return float(dimod.ExactSolver().sample(bqm).first.energy)


def local_minimum(bqm, sample_row: np.ndarray, labels) -> bool:
    """True if no single flip of ``sample_row`` lowers the energy of ``bqm``."""
    flip = {dimod.SPIN: lambda s: -s, dimod.BINARY: lambda s: 1 - s}[bqm.vartype]
    here = bqm.energy((sample_row, labels))
    rows = np.repeat(sample_row[None, :], len(labels), axis=0)
    rows[np.arange(len(labels)), np.arange(len(labels))] = flip(sample_row)
    return bool(np.all(bqm.energies((rows, labels)) >= here - 1e-9))


@pytest.fixture(scope="module")
def sampler():
    return SimulatedBifurcationSampler()


@pytest.mark.parametrize("variant", VARIANTS)
def test_sampleset_follows_the_dimod_contract(sampler, variant):
    bqm = tracking_bqm(1, 12)
    bqm.offset = 3.5
    result = sampler.sample(bqm, num_reads=7, num_steps=200, variant=variant, seed=5)

    assert isinstance(result, dimod.SampleSet)
    assert result.vartype is dimod.BINARY
    assert list(result.variables) == list(bqm.variables)
    assert len(result) == 7
    assert set(np.unique(result.record.sample)) <= {0, 1}
    np.testing.assert_allclose(result.record.energy, bqm.energies(result), rtol=0, atol=1e-9)
    lowest = result.record.energy.min()
    assert result.first.energy == lowest
    assert np.all(result.lowest().record.energy == lowest)
    assert bqm.energy(result.first.sample) == pytest.approx(lowest)
    timing = result.info["timing"]
    assert set(timing) == {"preprocessing_ns", "sampling_ns", "postprocessing_ns"}
    assert all(isinstance(t, int) and t >= 0 for t in timing.values())
    assert result.info["c0"] > 0


def test_spin_input_gives_spin_samples(sampler):
    bqm = random_bqm(3, 20, 0.3, 0.5)
    result = sampler.sample(bqm, num_reads=4, num_steps=100, seed=2)
    assert result.vartype is dimod.SPIN
    assert set(np.unique(result.record.sample)) <= {-1, 1}
    np.testing.assert_allclose(result.record.energy, bqm.energies(result), atol=1e-9)


def test_any_hashable_labels(sampler):
    labels = ["b", ("t", 3), 7, frozenset({1, 2}), 2.5, "a"]
    bqm = dimod.BinaryQuadraticModel(dimod.SPIN)
    for i, v in enumerate(labels):
        bqm.add_linear(v, 0.5 if i % 2 else -0.5)
    for u, v in zip(labels, labels[1:]):
        bqm.add_interaction(u, v, -0.1)
    result = sampler.sample(bqm, num_reads=3, seed=0)
    assert list(result.variables) == labels
    # Fields dominate the weak couplings: each spin sits against its own field.
    assert result.first.sample == {v: -1 if i % 2 else 1 for i, v in enumerate(labels)}
    assert result.first.energy == pytest.approx(ground_energy(bqm))


def test_dimod_entry_points(sampler):
    result = sampler.sample_qubo({(0, 0): 1.0, (1, 1): 0.5, (0, 1): -2.0}, num_reads=20, seed=1)
    assert result.vartype is dimod.BINARY
    assert result.first.energy == pytest.approx(-0.5)
    result = sampler.sample_ising({"x": 1.0}, {("x", "y"): -1.0}, seed=1)
    assert result.vartype is dimod.SPIN
    assert dict(result.first.sample) == {"x": -1, "y": -1}
    assert set(sampler.parameters) >= {"num_reads", "num_steps", "dt", "variant", "seed"}
    assert set(sampler.properties["variants"]) == set(VARIANTS)


@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
def test_empty_bqm(sampler, vartype):
    bqm = dimod.BinaryQuadraticModel({}, {}, 2.5, vartype)
    result = sampler.sample(bqm, num_reads=3, seed=1)
    assert result.vartype is bqm.vartype
    assert len(result.variables) == 0
    assert len(result) == 3
    assert np.all(result.record.energy == 2.5)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
def test_fields_alone_are_followed_by_the_dynamics(sampler, variant, vartype):
    # No couplings and no polish: only the trajectory itself can set the spins against the fields.
    rng = np.random.default_rng(4)
    h = rng.uniform(0.1, 2.0, 30) * rng.choice([-1, 1], 30)
    bqm = dimod.BinaryQuadraticModel(dict(enumerate(h)), {}, 0.0, dimod.SPIN)
    bqm = bqm.change_vartype(vartype, inplace=False)
    result = sampler.sample(bqm, num_reads=5, num_steps=200, variant=variant, polish=False,
                            seed=3)
    expected = np.where(h > 0, -1, 1) if vartype == "SPIN" else np.where(h > 0, 0, 1)
    assert np.all(result.record.sample == expected)


def _ground_state_found(sampler, bqm, variant, **params) -> bool:
    # Small problems need few steps; long runs follow the adiabatic path so closely that all reads
    # end in the same state, which on a few small instances is not the ground state. With 30 reads
    # dSB solved all 90 instances of these kinds tried, whatever the seed.
    result = sampler.sample(bqm, variant=variant, num_steps=100, num_reads=30, seed=11, **params)
    return bool(result.first.energy == pytest.approx(ground_energy(bqm), abs=1e-9))


@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
@pytest.mark.parametrize("seed", range(6))
def test_discrete_finds_ground_states(sampler, vartype, seed):
    assert _ground_state_found(sampler, random_bqm(seed, 14, 0.3, 0.5, vartype), "discrete")
    tracks = tracking_bqm(seed, 3, max_length=4).change_vartype(vartype, inplace=False)
    assert _ground_state_found(sampler, tracks, "discrete")


@pytest.mark.parametrize("polish", [True, False])
@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
def test_ballistic_finds_ground_states(sampler, vartype, polish):
    # bSB misses the ground state of some instances whatever the number of reads (it does of 1 of
    # these 8 field-free ones, and of about a quarter of small problems with strong fields, which
    # is why discrete is the default); a broken force or sign would miss most of them.
    found = [_ground_state_found(sampler, random_bqm(seed, 13, 0.6, 0.0, vartype), "ballistic",
                                 polish=polish) for seed in range(8)]
    assert sum(found) >= 6, found


def test_polish_leaves_local_minima(sampler):
    bqm = random_bqm(8, 40, 0.2, 0.5)
    # One step leaves the spins where the random start put them, far from any minimum.
    raw = sampler.sample(bqm, num_reads=6, num_steps=1, polish=False, seed=3)
    assert not all(local_minimum(bqm, row, raw.variables) for row in raw.record.sample)
    polished = sampler.sample(bqm, num_reads=6, num_steps=1, polish=True, seed=3)
    assert all(local_minimum(bqm, row, polished.variables) for row in polished.record.sample)
    assert polished.record.energy.sum() < raw.record.energy.sum()


def test_default_c0_is_the_inverse_lowest_eigenvalue(sampler):
    bqm = random_bqm(2, 14, 0.5, 1.0, "BINARY")
    spin = bqm.change_vartype(dimod.SPIN, inplace=False)
    J = np.zeros((14, 14))
    for (u, v), bias in spin.quadratic.items():
        J[u, v] = J[v, u] = bias
    result = sampler.sample(bqm, num_reads=1, num_steps=1, seed=0)
    assert result.info["c0"] == pytest.approx(1.0 / -np.linalg.eigvalsh(J)[0], rel=1e-6)
    result = sampler.sample(bqm, num_reads=1, num_steps=1, seed=0, c0=0.3)
    assert result.info["c0"] == 0.3


_REPRO_SCRIPT = """
import hashlib, json
import dimod
import numpy as np
from qtrack.samplers.sb import SimulatedBifurcationSampler
{generator}
bqm = tracking_bqm(7, 40)
out = {{}}
for variant in ("ballistic", "discrete"):
    r = SimulatedBifurcationSampler().sample(bqm, num_reads=5, num_steps=150, variant=variant,
                                            seed=42)
    out[variant] = [list(r.variables), r.record.sample.tolist(),
                    hashlib.sha256(r.record.energy.tobytes()).hexdigest()]
print(json.dumps(out))
"""


def test_same_seed_same_samples_in_other_processes(sampler):
    script = _REPRO_SCRIPT.format(generator=inspect.getsource(tracking_bqm))
    outputs = []
    # Different hash seeds: nothing may depend on the iteration order of sets or dicts of strings.
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env=env, timeout=120, check=True)
        outputs.append(json.loads(proc.stdout))
    assert outputs[0] == outputs[1]
    here = sampler.sample(tracking_bqm(7, 40), num_reads=5, num_steps=150, variant="discrete",
                          seed=42)
    assert here.record.sample.tolist() == outputs[0]["discrete"][1]


@pytest.mark.parametrize("variant", VARIANTS)
def test_different_seeds_give_different_samples(sampler, variant):
    bqm = tracking_bqm(3, 60)
    a = sampler.sample(bqm, num_reads=4, num_steps=100, variant=variant, seed=1)
    b = sampler.sample(bqm, num_reads=4, num_steps=100, variant=variant, seed=2)
    again = sampler.sample(bqm, num_reads=4, num_steps=100, variant=variant, seed=1)
    assert not np.array_equal(a.record.sample, b.record.sample)
    assert np.array_equal(a.record.sample, again.record.sample)


def test_close_to_simulated_annealing_on_a_tracking_problem(sampler):
    from dwave.samplers import SimulatedAnnealingSampler

    bqm = tracking_bqm(5, 250)
    # The comparison's beta range: hot = ln 2 / largest field, cold = ln 100 / smallest bias.
    strength = {v: abs(bqm.linear[v]) for v in bqm.variables}
    for (u, v), bias in bqm.quadratic.items():
        strength[u] += abs(bias)
        strength[v] += abs(bias)
    biases = [abs(b) for b in [*bqm.linear.values(), *bqm.quadratic.values()] if b]
    beta_range = (math.log(2) / max(strength.values()), math.log(100) / min(biases))
    sb = sampler.sample(bqm, num_reads=10, seed=1)
    sa = SimulatedAnnealingSampler().sample(bqm, num_reads=10, num_sweeps=1000, seed=1,
                                            beta_range=beta_range)
    assert sb.first.energy <= sa.first.energy + 0.005 * abs(sa.first.energy)


def test_rejects_bad_arguments(sampler):
    bqm = random_bqm(0, 4, 1.0, 0.5)
    with pytest.raises(ValueError, match="variant"):
        sampler.sample(bqm, variant="adiabatic")
    with pytest.raises(ValueError):
        sampler.sample(bqm, num_steps=0)
    with pytest.raises(ValueError):
        sampler.sample(bqm, dt=-1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sampler.sample(bqm, num_sweeps=10)
    assert any(issubclass(w.category, dimod.exceptions.SamplerUnknownArgWarning) for w in caught)
