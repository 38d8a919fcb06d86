"""TrackML files: ``eventNNNNNNNNN-{hits,truth,particles}.csv.gz`` and ``detectors.csv.gz``.

Each file is written whole or not at all (:func:`qtrack.io.atomic_open`), gzipped with a zero
timestamp and no file name in the header, so that the same event gives the same bytes.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_open
from .fatras import Modules

HIT_COLUMNS = ("hit_id", "x", "y", "z", "volume_id", "layer_id", "module_id")
TRUTH_COLUMNS = ("hit_id", "particle_id", "tx", "ty", "tz", "tpx", "tpy", "tpz", "weight")
PARTICLE_COLUMNS = ("particle_id", "vx", "vy", "vz", "px", "py", "pz", "q", "nhits")
DETECTOR_COLUMNS = ("volume_id", "layer_id", "module_id", "cx", "cy", "cz",
                    "rot_xu", "rot_xv", "rot_xw", "rot_yu", "rot_yv", "rot_yw", "rot_zu", "rot_zv", "rot_zw",
                    "module_t", "module_minhu", "module_maxhu", "module_hv", "pitch_u", "pitch_v")


def event_name(event: int) -> str:
    return f"event{event:09d}"


def write_csv_gz(frame: pd.DataFrame, path: Path) -> Path:
    """Floats as float32 (TrackML's precision: 0.3 um at 3 m) in their shortest exact decimal form.

    pyarrow formats a 200k-row table ten times faster than pandas; gzip level 1 is four times
    faster than the default for 10 % larger files.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    floats = {c: np.float32 for c in frame.columns if frame[c].dtype.kind == "f"}
    table = pa.Table.from_pandas(frame.astype(floats), preserve_index=False)
    buffer = pa.BufferOutputStream()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(quoting_style="none", quoting_header="none"))
    with atomic_open(path, "wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0,
                                                      compresslevel=1) as gz:
        gz.write(buffer.getvalue().to_pybytes())
    return path


def write_event(outdir: Path, event: int, hits: pd.DataFrame, truth: pd.DataFrame,
                particles: pd.DataFrame) -> dict[str, Path]:
    prefix = Path(outdir) / event_name(event)
    return {kind: write_csv_gz(frame, Path(f"{prefix}-{kind}.csv.gz"))
            for kind, frame in (("hits", hits), ("truth", truth), ("particles", particles))}


def detectors_frame(modules: Modules) -> pd.DataFrame:
    """TrackML's detectors.csv: module centre, local-to-global rotation (rot_<global><local>),
    thickness, half-widths and pitches."""
    columns = {"volume_id": modules.volume, "layer_id": modules.layer, "module_id": modules.module,
               "cx": modules.center[:, 0], "cy": modules.center[:, 1], "cz": modules.center[:, 2]}
    for i, g in enumerate("xyz"):
        for j, loc in enumerate("uvw"):
            columns[f"rot_{g}{loc}"] = modules.rotation[:, i, j]
    columns.update(module_t=modules.thickness, module_minhu=modules.minhu, module_maxhu=modules.maxhu,
                   module_hv=modules.hv, pitch_u=modules.pitch_u, pitch_v=modules.pitch_v)
    frame = pd.DataFrame(columns)
    # -0 and 1e-17 rotation entries are rounding of exact 0: write them as 0.
    rot = [c for c in frame.columns if c.startswith("rot_")]
    frame[rot] = np.where(np.abs(frame[rot].to_numpy()) < 1e-12, 0.0, frame[rot].to_numpy())
    return frame


def write_detectors(outdir: Path, modules: Modules) -> Path:
    return write_csv_gz(detectors_frame(modules), Path(outdir) / "detectors.csv.gz")
