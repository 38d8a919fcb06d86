"""The QUBO: E = sum_i a_i T_i + sum_{i<j} b_ij T_i T_j over triplet variables T_i.

Built from numpy vectors (no per-variable Python objects). Variables are labelled 0..n-1, the index
into :attr:`qtrack.model.couplers.Model.triplets`.

File format (``.npz``, readable with ``numpy.load`` by any tool): ``linear`` (n,), ``irow``, ``icol``,
``quad`` (couplers), and ``hit_ids`` (n, 3), the TrackML hit ids of each triplet variable, inner
first. ``dimod.BinaryQuadraticModel.from_numpy_vectors(linear, (irow, icol, quad), 0.0, "BINARY")``
rebuilds the model.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import BeamSpotConfig, ModelConfig
from ..errors import InputError
from ..io import atomic_open
from .couplers import Model

if TYPE_CHECKING:
    import dimod


@dataclass(frozen=True)
class Qubo:
    linear: np.ndarray
    irow: np.ndarray
    icol: np.ndarray
    quad: np.ndarray

    @property
    def num_variables(self) -> int:
        return len(self.linear)

    @property
    def num_couplers(self) -> int:
        return len(self.quad)

    def to_bqm(self) -> "dimod.BinaryQuadraticModel":
        import dimod

        return dimod.BinaryQuadraticModel.from_numpy_vectors(
            self.linear, (self.irow, self.icol, self.quad), 0.0, dimod.BINARY
        )

    def energy(self, state: np.ndarray) -> float:
        """QUBO energy of a 0/1 state over all variables."""
        state = np.asarray(state, dtype=np.float64)
        return float(self.linear @ state + np.sum(self.quad * state[self.irow] * state[self.icol]))

    @classmethod
    def from_bqm(cls, bqm) -> tuple["Qubo", list]:
        """The arrays of any BINARY or SPIN dimod model, and its variable labels (in order)."""
        import dimod

        if bqm.vartype is not dimod.BINARY:
            bqm = bqm.change_vartype(dimod.BINARY, inplace=False)
        labels = list(bqm.variables)
        linear, (irow, icol, quad), _ = bqm.to_numpy_vectors(variable_order=labels)
        return cls(np.asarray(linear, dtype=np.float64), np.asarray(irow, dtype=np.int64),
                   np.asarray(icol, dtype=np.int64), np.asarray(quad, dtype=np.float64)), labels


def impact_weights(x, y, z, model: Model, config: ModelConfig, z0_max: float) -> np.ndarray:
    """The reference's QallseD0 linear weights: penalise triplets far from the beam line.

    d0 is the distance of the circle (or line) through the three hits from the origin; z0 is
    how far the larger of the two doublets' z intercepts lies outside the luminous region
    (|z| <= ``z0_max``), times the cosine of that doublet's R-Z angle.
    """
    from ..geometry import beamline_distance, triplet_circles

    t = model.triplets
    d0 = beamline_distance(triplet_circles(t.h1, t.h2, t.h3, x, y))
    r = np.hypot(x, y)
    z0s, angles = [], []
    for lo, hi in ((t.h1, t.h2), (t.h2, t.h3)):
        dz, dr = z[hi] - z[lo], r[hi] - r[lo]
        z0s.append(np.abs(z[hi] - dz / dr * r[hi]))
        angles.append(np.arctan2(dz, dr))
    first = z0s[0] >= z0s[1]
    z0_far = np.where(first, z0s[0], z0s[1])
    angle = np.where(first, angles[0], angles[1])
    w = z0_max
    z0 = (np.maximum(z0_far, w) - w) * np.cos(angle)
    return (config.d0_factor * (1.0 - np.exp(-np.abs(d0) / config.d0_denom))
            + config.z0_factor * (1.0 - np.exp(-np.abs(z0) / config.z0_denom)))


def build_qubo(x, y, z, model: Model, config: ModelConfig = ModelConfig(),
               beamspot: BeamSpotConfig = BeamSpotConfig()) -> Qubo:
    """Linear weights and couplers of the QUBO over the model's triplet variables."""
    linear = np.full(model.n_variables, config.bias_weight, dtype=np.float64)
    if config.use_d0_weights:
        linear += impact_weights(x, y, z, model, config, beamspot.z0_max)
    irow = np.concatenate([model.quad_t1, model.conflict_i])
    icol = np.concatenate([model.quad_t2, model.conflict_j])
    quad = np.concatenate([model.quad_strength,
                           np.full(len(model.conflict_i), config.conflict_strength)])
    return Qubo(linear, irow, icol, quad)


def save_qubo(path: str | Path, qubo: Qubo, hit_ids: np.ndarray) -> Path:
    """Write the QUBO atomically (temp file in the same directory, then rename)."""
    path = Path(path)
    with atomic_open(path, "wb") as f:
        np.savez_compressed(f, linear=qubo.linear, irow=qubo.irow, icol=qubo.icol,
                            quad=qubo.quad, hit_ids=hit_ids)
    return path


def load_qubo(path: str | Path) -> tuple[Qubo, np.ndarray]:
    """Read a QUBO file written by :func:`save_qubo`: the QUBO and the triplets' hit ids
    (``None`` for a file without them: any QUBO in this layout can be read)."""
    path = Path(path)
    try:
        with np.load(path) as data:
            missing = {"linear", "irow", "icol", "quad"} - set(data.files)
            if missing:
                raise InputError(f"{path}: not a qtrack QUBO file (missing {', '.join(sorted(missing))})")
            qubo = Qubo(np.asarray(data["linear"], dtype=np.float64),
                        np.asarray(data["irow"], dtype=np.int64),
                        np.asarray(data["icol"], dtype=np.int64),
                        np.asarray(data["quad"], dtype=np.float64))
            return qubo, (data["hit_ids"] if "hit_ids" in data.files else None)
    except FileNotFoundError:
        raise InputError(f"{path}: QUBO file not found") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read as a QUBO .npz file ({exc})") from None
