"""Event input: TrackML hits, truth and particles files, validated, as arrays.

An event is named by its path prefix (``dir/event000001000`` or ``dir/20-density``, files
``PREFIX-hits.csv[.gz]``, ``PREFIX-truth.csv[.gz]``, ``PREFIX-particles.csv[.gz]``), by its hits file,
or by a directory holding exactly one event.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .model.layers import TRACKML, LayerTable, layers_from_detectors, strip_tilts
from .errors import InputError

log = logging.getLogger(__name__)

HIT_COLUMNS = ("hit_id", "x", "y", "z", "volume_id", "layer_id")
TRUTH_COLUMNS = ("hit_id", "particle_id", "tpx", "tpy", "weight")
PARTICLE_COLUMNS = ("particle_id", "px", "py", "pz")
_SUFFIX = re.compile(r"-(hits|truth|particles)\.(csv|csv\.gz|parquet)$")
#: File endings an event's files may have, in the order they are looked for.
SUFFIXES = (".csv", ".csv.gz", ".parquet")


@dataclass
class Event:
    """Hits of the detector part being solved, as struct-of-arrays, plus optional truth.

    ``hits`` keeps every hit of the file (the submission covers them all); the arrays (``x``, ``y``,
    ``z``, ``r``, ``phi``, ``layer``) cover only the hits on known layers, ``hit_id`` maps array
    index -> TrackML hit id.
    """

    name: str
    prefix: Path
    hits: pd.DataFrame
    truth: pd.DataFrame | None
    particles: pd.DataFrame | None
    hit_id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    layer: np.ndarray
    layers: LayerTable
    #: Per hit (arrays' order), the tilt of its disk module's strips from its radius
    #: (:func:`~qtrack.model.layers.strip_tilts`); None without a detectors file (radial strips).
    strip_tilt: np.ndarray | None = None
    #: Per hit, its ``module_id`` (unique within its layer; -1 where the file has none): the
    #: double-hit collection never gives a track a second hit on one module.
    module: np.ndarray | None = None

    @property
    def r(self) -> np.ndarray:
        return np.hypot(self.x, self.y)

    @property
    def phi(self) -> np.ndarray:
        return np.arctan2(self.y, self.x)

    @property
    def tilt(self) -> np.ndarray:
        """:attr:`strip_tilt`, zeros without one."""
        return np.zeros(len(self.x)) if self.strip_tilt is None else self.strip_tilt

    @property
    def n_hits(self) -> int:
        return len(self.hit_id)

    @property
    def has_truth(self) -> bool:
        return self.truth is not None


def resolve_prefix(path: str | Path) -> Path:
    """Turn an event argument (prefix, hits file or directory) into its file prefix."""
    p = Path(path)
    if p.is_dir():
        hits = [h for s in SUFFIXES for h in sorted(p.glob(f"*-hits{s}"))]
        if len(hits) != 1:
            found = ", ".join(h.name for h in hits) or "none"
            raise InputError(f"{p}: expected one *-hits.csv in the directory, found {found}")
        p = hits[0]
    m = _SUFFIX.search(p.name)
    if m:
        return p.with_name(p.name[: m.start()])
    return p


def find_file(prefix: Path, kind: str) -> Path | None:
    """The event's ``kind`` file (hits, truth, particles), whatever its ending; ``None`` if none."""
    for suffix in SUFFIXES:
        f = prefix.with_name(f"{prefix.name}-{kind}{suffix}")
        if f.exists():
            return f
    return None


def read_table(path: Path, columns: tuple[str, ...], numeric: tuple[str, ...]) -> pd.DataFrame:
    """Read a CSV (optionally gzipped) or Parquet file and check its columns and numbers."""
    try:
        if path.name.endswith(".parquet"):
            df = _read_parquet(path)
        else:
            df = pd.read_csv(path)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: file is empty, expected a CSV header with {', '.join(columns)}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot be read as CSV ({str(exc).splitlines()[0]})") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(columns)}")
    if len(df) == 0:
        raise InputError(f"{path}: no rows")
    for c in numeric:
        values = pd.to_numeric(df[c], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{path}: column {c} has {int(bad.sum())} non-numeric or non-finite value(s), "
                f"first at data row {row + 1} ({df[c].iloc[row]!r})"
            )
        df[c] = values
    return df


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise InputError(f"{path}: reading Parquet needs pyarrow: pip install pyarrow") from None
    import pyarrow.lib

    try:
        return pd.read_parquet(path)
    except (pyarrow.lib.ArrowException, OSError) as exc:
        raise InputError(f"{path}: cannot be read as Parquet ({str(exc).splitlines()[0]})") \
            from None


def _check_ids(df: pd.DataFrame, column: str, path: Path) -> None:
    if (df[column] % 1 != 0).any():
        raise InputError(f"{path}: column {column} must hold integers")
    dup = df[column].duplicated()
    if dup.any():
        raise InputError(
            f"{path}: duplicate {column} {int(df[column][dup].iloc[0])} ({int(dup.sum())} duplicate row(s))"
        )


#: Closest a hit may lie to the beam line (mm): the innermost TrackML layer is at r = 32 mm; a hit
#: at r ~ 0 is a corrupt row (and would divide by zero in the seeding).
MIN_HIT_RADIUS = 1.0


def _check_on_layers(hits: pd.DataFrame, inside: np.ndarray, path: Path) -> None:
    r = np.hypot(hits.x.to_numpy(), hits.y.to_numpy())
    bad = inside & (r < MIN_HIT_RADIUS)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(f"{path}: hit_id {int(hits.hit_id.iloc[row])} lies at r = {r[row]:.3g} mm "
                         f"from the beam line, expected a hit on a detector layer "
                         f"(r >= {MIN_HIT_RADIUS} mm); {int(bad.sum())} such hit(s)")


def _detectors_file(prefix: Path, detectors: str | Path | None) -> Path | None:
    """``detectors`` if given, else a detectors file next to the event, else None."""
    if detectors is not None:
        return Path(detectors)
    found = [prefix.parent / f"detectors{s}" for s in (".csv", ".csv.gz")]
    return next((f for f in found if f.exists()), None)


def _read_detectors(path: Path) -> tuple[LayerTable, pd.DataFrame]:
    """The layer table of a TrackML ``detectors.csv[.gz]`` and its module rows."""
    try:
        modules = pd.read_csv(path)
        return layers_from_detectors(modules), modules
    except FileNotFoundError:
        raise InputError(f"{path}: detectors file not found") from None
    except ValueError as exc:  # missing columns, unreadable numbers
        raise InputError(f"{path}: not a TrackML detectors file ({str(exc).splitlines()[0]})") \
            from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError,
            EOFError) as exc:
        raise InputError(f"{path}: cannot be read as CSV ({str(exc).splitlines()[0]})") from None


def detector_layers(prefix: Path, detectors: str | Path | None = None) -> LayerTable:
    """The layer table of an event: from ``detectors`` (a TrackML ``detectors.csv[.gz]``), else
    from a detectors file next to the event, else the built-in TrackML table."""
    path = _detectors_file(prefix, detectors)
    return TRACKML if path is None else _read_detectors(path)[0]


def load_event(path: str | Path, layers: LayerTable | None = None, with_truth: bool = True,
               detectors: str | Path | None = None) -> Event:
    """Read and validate an event; truth and particles are optional (solved but not scored).

    The layers are ``layers`` if given, else those of :func:`detector_layers`. Hits on layers the
    table does not know stay in the submission (as no track) and are reported in a warning.
    """
    given = Path(path)
    if given.is_file() and not _SUFFIX.search(given.name):
        # A hits file under another name (``...-hits-unlabeled.csv``): read as given, no truth.
        prefix, hits_path, with_truth = given.with_name(given.name.split(".")[0]), given, False
    else:
        prefix = resolve_prefix(path)
        hits_path = find_file(prefix, "hits")
    if hits_path is None:
        raise InputError(f"{prefix}-hits.csv: hits file not found (event argument {path})")
    hits = read_table(hits_path, HIT_COLUMNS, HIT_COLUMNS)
    _check_ids(hits, "hit_id", hits_path)
    hits["hit_id"] = hits["hit_id"].astype(np.int64)
    for c in ("volume_id", "layer_id"):
        hits[c] = hits[c].astype(np.int64)

    truth = particles = None
    truth_path = find_file(prefix, "truth") if with_truth else None
    if truth_path is not None:
        truth = read_table(truth_path, TRUTH_COLUMNS, TRUTH_COLUMNS)
        _check_ids(truth, "hit_id", truth_path)
        truth["hit_id"] = truth["hit_id"].astype(np.int64)
        truth["particle_id"] = truth["particle_id"].astype(np.int64)
        if len(truth) != len(hits) or not np.array_equal(
            np.sort(truth.hit_id.to_numpy()), np.sort(hits.hit_id.to_numpy())
        ):
            extra = np.setdiff1d(truth.hit_id, hits.hit_id)
            lacking = np.setdiff1d(hits.hit_id, truth.hit_id)
            raise InputError(
                f"{truth_path}: truth does not match {hits_path.name}: {len(lacking)} hit(s) without "
                f"truth, {len(extra)} truth row(s) for unknown hits"
            )
        truth = truth.set_index("hit_id", drop=False).loc[hits.hit_id.to_numpy()].reset_index(drop=True)
        particles_path = find_file(prefix, "particles")
        if particles_path is not None:
            particles = read_table(particles_path, PARTICLE_COLUMNS, PARTICLE_COLUMNS)
            particles["particle_id"] = particles["particle_id"].astype(np.int64)

    detectors_path = _detectors_file(prefix, detectors)
    modules = None
    if detectors_path is not None and (layers is None or "module_id" in hits.columns):
        table, modules = _read_detectors(detectors_path)
        layers = table if layers is None else layers
    layers = TRACKML if layers is None else layers
    layer = layers.index_of(hits.volume_id.to_numpy(), hits.layer_id.to_numpy())
    inside = layer >= 0
    _check_on_layers(hits, inside, hits_path)
    if not inside.all():
        unknown = hits[~inside].groupby(["volume_id", "layer_id"]).size()
        listed = ", ".join(f"{v}/{l}: {n}" for (v, l), n in unknown.head(5).items())
        log.warning("%s: left out %d of %d hits on %d layer(s) the layer table does not know "
                    "(volume/layer: hits %s%s)", hits_path.name, int((~inside).sum()), len(hits),
                    len(unknown), listed, ", ..." if len(unknown) > 5 else "")
    sel = hits[inside]
    tilt, module = None, None
    if "module_id" in sel.columns:
        module = pd.to_numeric(sel.module_id, errors="coerce").fillna(-1).to_numpy(np.int64)
    if modules is not None and module is not None:
        tilt = strip_tilts(sel.x.to_numpy(np.float64), sel.y.to_numpy(np.float64),
                           sel.volume_id.to_numpy(), sel.layer_id.to_numpy(),
                           module, modules)
    return Event(
        name=prefix.name,
        prefix=prefix,
        hits=hits,
        truth=truth,
        particles=particles,
        hit_id=sel.hit_id.to_numpy(np.int64),
        x=sel.x.to_numpy(np.float64),
        y=sel.y.to_numpy(np.float64),
        z=sel.z.to_numpy(np.float64),
        layer=layer[inside],
        layers=layers,
        strip_tilt=tilt,
        module=module,
    )
