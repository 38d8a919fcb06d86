"""The mock QPU's annealer: what stands in for the hardware when ``mock-qpu`` solves the embedded
sub-problems offline, optionally with the QPU's control errors."""
from __future__ import annotations

import dimod
import numpy as np

from ...config import QPUConfig

#: The defaults of every knob are the fields of ``[qpu]`` (:class:`qtrack.config.QPUConfig`).
DEFAULTS = QPUConfig()
#: The QPU's ranges, |h| <= 4 and |J| <= 1 on Advantage systems: the scale of the control errors.
H_RANGE, J_RANGE = 4.0, 1.0


class SeededSubstitute(dimod.Sampler):
    """The mock QPU's stand-in: simulated annealing (or path-integral Monte Carlo, a simulated
    quantum annealer) on the physical (embedded) problem, seeded
    from a generator that :meth:`reseed` resets, so runs are reproducible. With control errors,
    each call anneals a copy of the problem whose h and J carry fresh Gaussian noise (sigma in
    units of the QPU's J range, the problem scaled into the QPU's ranges as ``auto_scale``
    does); the reads are returned with their energies on the problem as given."""

    parameters = {"num_reads": []}
    properties: dict = {}

    def __init__(self, num_sweeps: int = DEFAULTS.mock_num_sweeps, seed: int = 0,
                 ice_sigma_h: float = 0.0, ice_sigma_j: float = 0.0,
                 annealer: str = DEFAULTS.mock_annealer):
        from dwave.samplers import PathIntegralAnnealingSampler, SimulatedAnnealingSampler

        self._sa = (PathIntegralAnnealingSampler() if annealer == "path-integral"
                    else SimulatedAnnealingSampler())
        self.num_sweeps = int(num_sweeps)
        self.ice_sigma_h = float(ice_sigma_h)
        self.ice_sigma_j = float(ice_sigma_j)
        self.reseed(seed)

    def reseed(self, seed):
        self._rng = np.random.default_rng(seed)

    def _with_control_errors(self, bqm):
        labels = list(bqm.variables)
        h, (r, c, J), off = bqm.spin.to_numpy_vectors(variable_order=labels)
        scale = max(float(np.abs(h).max(initial=0.0)) / H_RANGE,
                    float(np.abs(J).max(initial=0.0)) / J_RANGE) or 1.0
        h = h + self._rng.normal(0.0, self.ice_sigma_h * scale, len(h))
        J = J + self._rng.normal(0.0, self.ice_sigma_j * scale, len(J))
        return dimod.BinaryQuadraticModel.from_numpy_vectors(h, (r, c, J), off, dimod.SPIN), labels

    def sample(self, bqm, num_reads=1, **_):
        if not (self.ice_sigma_h or self.ice_sigma_j):
            return self._sa.sample(bqm, num_reads=num_reads, num_sweeps=self.num_sweeps,
                                   seed=int(self._rng.integers(2**31 - 1)))
        noisy, labels = self._with_control_errors(bqm)
        ss = self._sa.sample(noisy, num_reads=num_reads, num_sweeps=self.num_sweeps,
                             seed=int(self._rng.integers(2**31 - 1)))
        spins = ss.record.sample[:, np.argsort(np.asarray(ss.variables, dtype=np.int64))]
        vals = spins if bqm.vartype is dimod.SPIN else (spins + 1) // 2
        return dimod.SampleSet.from_samples_bqm((vals.astype(np.int8), labels), bqm)
