"""Output: every file qtrack writes appears whole or not at all, JSON is strict.

One writer per format: :func:`write_json`, :func:`write_csv`, and :func:`atomic_open` under both.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import QtrackError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Temporary files being written right now, for :func:`discard_partial_files`.
_PARTIAL: set[str] = set()


def discard_partial_files() -> None:
    """Remove the temporary files of writes in progress (the Ctrl-C handler exits without
    unwinding, so ``atomic_open``'s own clean-up does not run)."""
    for tmp in list(_PARTIAL):
        try:
            os.unlink(tmp)
        except OSError:
            pass


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs):
    """Open a temporary file next to ``path``; rename it onto ``path`` when the block succeeds.

    An interrupted or failed write leaves neither a partial file nor the temporary one behind.
    The file gets the usual permissions (0666 less the umask), not mkstemp's 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    _PARTIAL.add(tmp)
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        _PARTIAL.discard(tmp)


def jsonable(obj):
    """``obj`` with numpy scalars and arrays, paths and tuples made plain JSON; NaN and
    infinities become ``None`` so the file is strict JSON."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "tolist") and hasattr(obj, "dtype"):  # numpy scalar or array
        return jsonable(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)


def write_json(path: str | Path, data) -> Path:
    """Write ``data`` as indented strict JSON, atomically."""
    path = Path(path)
    with atomic_open(path) as f:
        json.dump(jsonable(data), f, indent=2)
        f.write("\n")
    return path


def write_csv(path: str | Path, frame, **to_csv) -> Path:
    """Write a pandas DataFrame as CSV (no index), atomically. ``frame`` may also be rows
    (dicts: the union of their keys in first-seen order, each value as it is, a missing one
    empty); ``to_csv`` goes to ``DataFrame.to_csv`` (``float_format``, ...)."""
    if not hasattr(frame, "to_csv"):
        import pandas as pd

        frame = pd.DataFrame(list(frame), dtype=object)
    path = Path(path)
    with atomic_open(path, newline="") as f:
        frame.to_csv(f, index=False, **to_csv)
    return path


def check_writable(directory: str | Path) -> Path:
    """Check, before any work, that ``directory`` could be created and written to.

    Nothing is created here (a run that fails later leaves no empty directory): the directory
    must be writable if it exists, else its nearest existing parent must be a writable directory.
    """
    d = Path(directory)
    probe = d
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise QtrackError(f"{d}: output directory cannot be made: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise QtrackError(f"{d}: output directory cannot be written: no write permission "
                          f"on {probe}")
    return d
