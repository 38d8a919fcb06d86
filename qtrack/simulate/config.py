"""Settings of a simulation run: one frozen dataclass, checked before any work starts."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..errors import QtrackError

HARD_PROCESSES = ("ttbar", "none")
#: Charge and mass (GeV) of the particles the gun can shoot; the sign of the id is drawn per shot.
GUN_SPECIES = {11: (-1, 0.000511), 13: (-1, 0.105658), 211: (1, 0.139570), 321: (1, 0.493677),
               2212: (1, 0.938272)}
#: Largest mean pile-up: the TrackML particle id keeps 11 bits for the vertex (see write.py), and
#: Poisson(1000) stays below 2047 vertices with overwhelming probability.
MAX_PILEUP = 1000.0


@dataclass(frozen=True)
class SimulationConfig:
    """One event = hard process and gun particles on the primary vertex, plus Poisson(pileup)
    minimum-bias vertices, all in a Gaussian luminous region; lengths in mm, momenta in GeV."""

    #: Hard process on the primary vertex: Pythia8 ttbar, or none.
    hard: str = "ttbar"
    #: Mean number of minimum-bias (Pythia8 inelastic: non-diffractive and diffractive) vertices.
    pileup: float = 200.0
    #: Run seed: every random number of event k comes from (seed, k) alone.
    seed: int = 1
    #: Fraction of all hits that are noise (uniform over the sensitive area), as in TrackML.
    noise_fraction: float = 0.1
    vertex_sigma_z: float = 50.0
    vertex_sigma_xy: float = 0.01
    #: Single particles added to the primary vertex (the tests' tiny events).
    gun_particles: int = 0
    #: PDG id of the gun particles; the charge sign is drawn per particle.
    gun_pdg: int = 13
    gun_pt: tuple[float, float] = (1.0, 10.0)
    gun_eta: tuple[float, float] = (-3.0, 3.0)
    #: Generator particles below this pT or beyond this |eta| are not simulated (TrackML's cuts).
    min_pt: float = 0.1
    max_eta: float = 4.0
    #: Solenoid field along z, tesla.
    bfield: float = 2.0
    #: Proton-proton centre-of-mass energy, GeV.
    ecm: float = 14000.0

    def replace(self, **changes) -> "SimulationConfig":
        return dataclasses.replace(self, **changes)

    @property
    def uses_pythia(self) -> bool:
        return self.hard != "none" or self.pileup > 0

    def check(self) -> "SimulationConfig":
        """Raise QtrackError naming the first bad setting; returns self."""

        def bad(name, value, expected):
            raise QtrackError(f"{name} = {value!r}: expected {expected}")

        if self.hard not in HARD_PROCESSES:
            bad("hard", self.hard, " or ".join(HARD_PROCESSES))
        if not (math.isfinite(self.pileup) and 0 <= self.pileup <= MAX_PILEUP):
            bad("pileup", self.pileup, f"a mean number of vertices from 0 to {MAX_PILEUP:g}")
        if not 0 <= self.seed < 2**63:
            bad("seed", self.seed, "an integer from 0 to 2**63-1")
        if not 0 <= self.noise_fraction < 1:
            bad("noise_fraction", self.noise_fraction, "a fraction in [0, 1)")
        for name in ("vertex_sigma_z", "vertex_sigma_xy"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                bad(name, value, "a width >= 0 in mm")
        if self.gun_particles < 0:
            bad("gun_particles", self.gun_particles, "a number >= 0")
        lo, hi = self.gun_pt
        if not 0 < lo <= hi:
            bad("gun_pt", self.gun_pt, "0 < min <= max (GeV)")
        lo, hi = self.gun_eta
        if not lo <= hi:
            bad("gun_eta", self.gun_eta, "min <= max")
        if not (self.min_pt >= 0 and self.max_eta > 0 and self.bfield > 0 and self.ecm > 0):
            bad("min_pt/max_eta/bfield/ecm", (self.min_pt, self.max_eta, self.bfield, self.ecm),
                "min_pt >= 0 and positive max_eta, bfield and ecm")
        if self.hard == "none" and self.pileup == 0 and self.gun_particles == 0:
            raise QtrackError("nothing to simulate: --hard none, --pileup 0 and no --gun-particles")
        return self
