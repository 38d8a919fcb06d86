"""Every knob of the pipeline, one frozen dataclass per stage.

Defaults reproduce the reference model (hepqpr-qallse ``QallseMp`` with its ``Config1GeV`` cuts)
where the reference has a knob; doublet seeding is qtrack's own. A TOML file overrides any field:

.. code-block:: toml

    [doublets]
    min_pt = 0.8
    [model]
    use_d0_weights = true
    [solve]
    num_reads = 20
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError


@dataclass(frozen=True)
class DoubletConfig:
    """Seeding cuts: which hit pairs a track from the luminous region could make."""

    #: Largest step in the layer order between the two hits (2 = at most one missing layer).
    max_layer_gap: int = 2
    #: Minimum transverse momentum (GeV) the phi window must accept, at ``field_tesla``.
    min_pt: float = 0.75
    #: Magnetic field (T) along z.
    field_tesla: float = 2.0
    #: Extra phi tolerance (rad) on top of the curvature window (scattering, resolution).
    phi_tolerance: float = 0.01
    #: Largest transverse impact parameter (mm) the phi window allows for: a track passing d0
    #: from the beam line turns by about d0 * (1/r_in - 1/r_out) more, which matters in the pixels.
    #: Off by default: 2.5 mm recovers a few displaced pixel doublets (true-doublet recall 98.8 ->
    #: 99.1 % on the second 0.2 sample) but makes 50 % more doublets and a 30 % larger QUBO at
    #: full density, with lower purity (measured with a 200 mm ``z0_max``).
    d0_max: float = 0.0
    #: |z| of the doublet's straight-line intercept with the beam line (mm). 100 mm lost 1 of
    #: 4607 true focused doublets on the ~97 % barrel event against 200 mm and halved the
    #: doublets (1.8 M -> 0.96 M), the triplets and the build time.
    z0_max: float = 100.0
    #: Largest |eta| of a doublet's direction: |cot theta| <= sinh(eta_max).
    eta_max: float = 2.7


@dataclass(frozen=True)
class ModelConfig:
    """Triplet and quadruplet cuts and QUBO weights (names follow the reference's config)."""

    #: Largest layer span of a triplet is ``max_layer_gap + 1`` of the doublets' config.
    tplet_max_curv: float = 8e-4
    tplet_max_drz: float = 0.1
    qplet_max_dcurv: float = 1e-4
    qplet_max_strength: float = -0.2
    num_multiplier: float = -1.0
    xy_relative_strength: float = 0.5
    xy_power: float = 1.0
    rz_power: float = 1.0
    volayer_power: float = 2.0
    #: Quadruplets are kept only on a chain of at least this many quadruplets ("max path").
    min_qplet_path: int = 2
    #: Coupler between two conflicting triplets.
    conflict_strength: float = 1.0
    #: Constant linear weight of every triplet (reference: 0).
    bias_weight: float = 0.0
    #: Linear weights from the triplet's impact parameters (the reference's QallseD0 model).
    use_d0_weights: bool = False
    d0_factor: float = 0.5
    d0_denom: float = 1.0
    z0_factor: float = 0.2
    z0_denom: float = 0.5
    #: Half-length (mm) of the luminous region used by the z0 weight.
    beamspot_half_length: float = 27.5


@dataclass(frozen=True)
class SolveConfig:
    """Sampler settings.

    The reference ran neal with 10 reads of 1000 sweeps. Because every component keeps its own
    best read, 4 reads do as well here (measured, seeds 1-3: TrackML 95.05 vs 94.89 % on the
    ~97 % barrel event, energy within 0.01 %) in less than half the time.
    """

    num_reads: int = 4
    num_sweeps: int = 1000
    #: Seed of every random choice in solving; the same seed gives the same tracks in any process.
    seed: int = 1
    #: (hot, cold) inverse temperatures; ``None`` scales them to the couplings.
    beta_range: tuple[float, float] | None = None
    #: Components are packed into batches of at most this many variables; the best read is
    #: still chosen per component, so packing changes speed, not quality.
    batch_size: int = 20000
    #: Threads running batches at once (dwave-samplers releases the GIL).
    threads: int = 2


@dataclass(frozen=True)
class TrackConfig:
    """Merging selected triplets into tracks."""

    min_hits: int = 5
    #: Largest |z| (mm) at which a track's straight-line fit in r-z meets the beam line. Not in
    #: the reference: it removes combinatorial fakes built from hits of several low-pT particles,
    #: which dominate at full density, while real tracks stay within a few cm of the luminous
    #: region. 0 turns the check off.
    max_z0: float = 50.0


@dataclass(frozen=True)
class Config:
    doublets: DoubletConfig = field(default_factory=DoubletConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    solve: SolveConfig = field(default_factory=SolveConfig)
    tracks: TrackConfig = field(default_factory=TrackConfig)

    def replace(self, **sections) -> "Config":
        """Return a copy with some fields changed: ``cfg.replace(solve={"seed": 3})``."""
        return _merge(self, sections, "config")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "Config":
        return _merge(cls(), data, source)

    @classmethod
    def from_toml(cls, path: str | Path) -> "Config":
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise InputError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: not valid TOML ({exc})") from None
        return cls.from_dict(data, str(path))


def _merge(obj, changes: dict, source: str):
    """Apply nested ``changes`` to a frozen dataclass, checking names and types."""
    if not isinstance(changes, dict):
        raise InputError(f"{source}: expected a table, got {changes!r}")
    fields = {f.name: f for f in dataclasses.fields(obj)}
    updates = {}
    for key, value in changes.items():
        if key not in fields:
            raise InputError(f"{source}: unknown setting {key!r}; expected one of {sorted(fields)}")
        current = getattr(obj, key)
        where = f"{source}: {key}"
        if dataclasses.is_dataclass(current):
            updates[key] = _merge(current, value, where)
        else:
            updates[key] = _coerce(value, current, fields[key], where)
    return dataclasses.replace(obj, **updates)


def _coerce(value, current, fld, where):
    if fld.name == "beta_range":
        if value is None:
            return None
        if isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, (int, float)) and v > 0 for v in value
        ):
            return (float(value[0]), float(value[1]))
        raise InputError(f"{where}: expected two positive numbers [hot, cold], got {value!r}")
    kind = type(current)
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    raise InputError(f"{where}: expected {kind.__name__}, got {value!r}")
