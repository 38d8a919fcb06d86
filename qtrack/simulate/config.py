"""Settings of a simulation run: one frozen dataclass, checked before any work starts."""
from __future__ import annotations

from dataclasses import dataclass

from ..sections import NON_NEGATIVE, POSITIVE, Section, between, one_of
from ..errors import QtrackError

HARD_PROCESSES = ("ttbar", "none")
#: Charge and mass (GeV) of the particles the gun can shoot; the sign of the id is drawn per shot.
GUN_SPECIES = {11: (-1, 0.000511), 13: (-1, 0.105658), 211: (1, 0.139570), 321: (1, 0.493677),
               2212: (1, 0.938272)}
#: Largest mean pile-up: the TrackML particle id keeps 11 bits for the vertex (see write.py), and
#: Poisson(1000) stays below 2047 vertices with overwhelming probability.
MAX_PILEUP = 1000.0


def _range_pair(lo_bound=None):
    def check(v):
        return v[0] <= v[1] and (lo_bound is None or v[0] > lo_bound)
    return check, ("[min, max] with min <= max"
                   + ("" if lo_bound is None else f" and min > {lo_bound}"))


@dataclass(frozen=True)
class SimulationConfig(Section):
    """One event = hard process and gun particles on the primary vertex, plus Poisson(pileup)
    minimum-bias vertices, all in a Gaussian luminous region; lengths in mm, momenta in GeV.

    Every value is checked on construction, as every config section's is."""

    _section = "simulate"
    _rules = {"hard": one_of(*HARD_PROCESSES), "pileup": between(0, MAX_PILEUP),
              "seed": between(0, 2**63 - 1), "noise_fraction": between(0, 0.99),
              "vertex_sigma_z": NON_NEGATIVE, "vertex_sigma_xy": NON_NEGATIVE,
              "gun_particles": NON_NEGATIVE, "gun_pdg": one_of(*GUN_SPECIES),
              "gun_pt": _range_pair(0), "gun_eta": _range_pair(), "min_pt": NON_NEGATIVE,
              "max_eta": POSITIVE, "bfield": POSITIVE, "ecm": POSITIVE}

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

    @property
    def uses_pythia(self) -> bool:
        return self.hard != "none" or self.pileup > 0

    def __post_init__(self):
        super().__post_init__()
        if self.hard == "none" and self.pileup == 0 and self.gun_particles == 0:
            raise QtrackError("nothing to simulate: --hard none, --pileup 0 and no --gun-particles")
