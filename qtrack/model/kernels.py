"""What every output-writing numba kernel of the model shares.

Each kernel takes a row range as its first two arguments and its output arrays as its last ones,
writes its n-th output only while n is below their length, and returns how many outputs there
are. :func:`sized_pass` gives it arrays of a guessed size and, when the guess was too small, runs
it again with arrays of the exact size: one pass when the guess holds (the usual case), two
otherwise, the same outputs either way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit


#: Row ranges per kernel call. Fixed, so that the outputs (concatenated in row order) do not
#: depend on the number of threads; enough for the threads to share the work evenly.
CHUNKS = 16


def sized_pass(kernel, args, dtypes, guess: float, rows: int, threads: int = 1):
    """Run an output-writing kernel (see the module docstring) over ``rows`` rows, in
    :data:`CHUNKS` row ranges shared out to ``threads`` threads (the kernels release the GIL).

    The kernel's first two arguments are the row range; ``guess`` is the expected number of
    outputs over all rows. The outputs come out in row order, the same for any ``threads``.
    """
    bounds = np.linspace(0, rows, CHUNKS + 1).astype(np.int64)
    per_row = max(float(guess), 16.0) / max(rows, 1)

    def run(k):
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        # Outputs per row vary (pixel hits make more doublets than strip hits): a generous
        # buffer, trimmed below, rarely needs the second pass.
        size = int(per_row * (hi - lo) * 4) + 16
        outs = [np.empty(size, dtype=t) for t in dtypes]
        n = kernel(lo, hi, *args, *outs)
        if n > size:
            outs = [np.empty(n, dtype=t) for t in dtypes]
            filled = kernel(lo, hi, *args, *outs)
            if filled != n:  # qtrack's own bug: both passes must walk the same candidates
                raise RuntimeError(f"{kernel.__name__}: counted {n} outputs, then {filled}")
        # Views, not copies: the buffer's unwritten tail was never touched (no memory), and a
        # copy would write every output once more into fresh memory, which costs more than the
        # kernel on a virtual machine (2.6 s per GB first touched on this project's machines).
        return [o[:n] for o in outs]

    if threads > 1 and rows > CHUNKS:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(threads, CHUNKS), thread_name_prefix="qtrack-build") as pool:
            parts = list(pool.map(run, range(CHUNKS)))
    else:
        parts = [run(k) for k in range(CHUNKS)]
    return [np.concatenate([part[i] for part in parts]) for i in range(len(dtypes))]


@dataclass(frozen=True)
class BinnedHits:
    """Hits sorted by (layer, bin of their along coordinate, phi): the hits of one layer near a
    point are a few bins, and in each a phi range found by binary search.

    The along coordinate is z on a barrel layer and r on a disk; each layer's hits span
    ``n_bins`` equal bins of it. Bin ``k`` of layer ``l`` is ``order[start[l * n_bins + k]:
    start[l * n_bins + k + 1]]``; ``rank`` is each hit's place in ``order``.
    """

    order: np.ndarray
    rank: np.ndarray
    start: np.ndarray
    n_bins: int
    #: Per layer: the smallest along coordinate of its hits, and bins per mm.
    u_min: np.ndarray
    inv_width: np.ndarray


def extent(v: np.ndarray, layer: np.ndarray, n_layers: int) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest ``v`` of each layer's hits (0, 0 for a layer without hits)."""
    lo, hi = np.full(n_layers, np.inf), np.full(n_layers, -np.inf)
    np.minimum.at(lo, layer, v)
    np.maximum.at(hi, layer, v)
    empty = lo > hi
    lo[empty], hi[empty] = 0.0, 0.0
    return lo, hi


def bin_hits(along: np.ndarray, phi: np.ndarray, layer: np.ndarray, n_layers: int,
             n_bins: int) -> BinnedHits:
    """The :class:`BinnedHits` of hits with along coordinates ``along`` (mm)."""
    u_min, u_max = extent(along, layer, n_layers)
    span = u_max - u_min
    inv_width = np.where(span > 0, n_bins / np.where(span > 0, span, 1.0), 0.0)
    key = layer * n_bins + np.clip(np.floor((along - u_min[layer]) * inv_width[layer]), 0,
                                   n_bins - 1).astype(np.int64)
    order = np.lexsort((phi, key))
    rank = np.empty(len(along), dtype=np.int64)
    rank[order] = np.arange(len(along))
    start = np.searchsorted(key[order], np.arange(n_layers * n_bins + 1)).astype(np.int64)
    return BinnedHits(order, rank, start, n_bins, u_min, inv_width)


@njit(cache=True)
def bin_of(u, u0, inv_width, n_bins):
    """The bin of along coordinate ``u`` in a layer binned from ``u0`` (:class:`BinnedHits`),
    clamped to the layer's bins."""
    # Clamped as a float: int() of an infinite bound is undefined. A layer whose hits share one
    # along coordinate has inv_width 0 and all its hits in bin 0; an infinite bound times 0 would
    # be NaN, whose int() is garbage (a read far outside the bins, a crash now and then).
    if inv_width <= 0.0:
        return 0
    return int(min(max(np.floor((u - u0) * inv_width), 0.0), n_bins - 1.0))


def csr(keys: np.ndarray, n: int) -> np.ndarray:
    """Row pointers of ``keys`` (sorted, in 0..n-1) over ``n`` rows."""
    # Counting, not a binary search per row: 5 s of a pile-up 400 event's couplers went to
    # searching 19M doublets' rows among 37M triplets.
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys.astype(np.int64, copy=False), minlength=n), out=ptr[1:])
    return ptr


def unique_ints(a: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an integer array.

    Sort-based: numpy 2.4's ``np.unique`` hashes, which is 50 times slower on the millions of
    coupler keys of a pile-up 200 event (6.8 s against 0.13 s for 4M int64 on this machine).
    """
    a = np.sort(a, kind="stable")
    if len(a) == 0:
        return a
    first = np.empty(len(a), dtype=bool)
    first[0] = True
    np.not_equal(a[1:], a[:-1], out=first[1:])
    return a[first]
