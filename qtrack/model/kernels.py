"""What every count-then-fill numba kernel of the model shares.

Each kernel takes its output arrays and a ``fill`` flag as its last arguments: with ``fill``
false it only counts, so the outputs can be allocated at their exact size before the second pass.
"""
from __future__ import annotations

import numpy as np


def two_pass(kernel, args, dtypes):
    """Run a count-then-fill kernel: the first pass sizes the outputs exactly."""
    empties = [np.empty(0, dtype=t) for t in dtypes]
    n = kernel(*args, *empties, False)
    outs = [np.empty(n, dtype=t) for t in dtypes]
    filled = kernel(*args, *outs, True)
    if filled != n:  # qtrack's own bug: the two passes must walk the same candidates
        raise RuntimeError(f"{kernel.__name__}: counted {n} outputs, filled {filled}")
    return outs


def csr(keys: np.ndarray, n: int) -> np.ndarray:
    """Row pointers of ``keys`` (sorted) over ``n`` rows."""
    return np.searchsorted(keys, np.arange(n + 1)).astype(np.int64)
