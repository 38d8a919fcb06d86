"""Exact reductions before any QPU call: roof duality, then exhaustive solves of small components.

Both are exact: roof duality (dwave-preprocessing, strong persistency) fixes only variables that
take the same value in every ground state, and a component of at most ``exact_max`` variables is
solved by enumerating its ``2**k`` states. What is left - the variables of larger components -
goes to the QPU with the fixed variables folded into its linear biases.
"""
from __future__ import annotations

from dataclasses import dataclass

import dimod
import numpy as np

from .decompose import Graph, triu

_BATCH = 64  # components enumerated together (memory: batch x 2**k x k doubles)


@dataclass
class Reduction:
    #: 0/1 per variable; final for the positions not in ``rest``.
    x: np.ndarray
    #: positions left for the QPU (ascending).
    rest: np.ndarray
    stats: dict


def _states(k: int) -> np.ndarray:
    return ((np.arange(2**k)[:, None] >> np.arange(k)[None, :]) & 1).astype(np.float64)


def reduce_exactly(g: Graph, *, roof_duality: bool, exact_max: int) -> Reduction:
    """Fix what can be fixed exactly; see the module docstring. ``exact_max`` 0 solves nothing
    by enumeration (singletons then go to the QPU too). Enumerating every component of up to 12
    variables (2**12 states, equal sizes batched) takes well under a second on a PU200 event."""
    from scipy.sparse.csgraph import connected_components

    n = g.n
    x = np.zeros(n, dtype=np.int8)
    fixed = np.zeros(n, dtype=bool)
    if roof_duality and n and g.W.nnz:
        from dwave.preprocessing import roof_duality as roof

        bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(g.h, triu(g), 0.0, dimod.BINARY)
        _, assigned = roof(bqm, strict=True)
        if assigned:
            idx = np.fromiter(assigned.keys(), dtype=np.int64, count=len(assigned))
            val = np.fromiter(assigned.values(), dtype=np.int64, count=len(assigned))
            x[idx] = val
            fixed[idx] = True
    roof_fixed = int(fixed.sum())
    free = np.flatnonzero(~fixed)
    sub = g.W[free][:, free].tocoo()
    if len(free):
        _, lab = connected_components(sub, directed=False)
        sizes = np.bincount(lab)
    else:
        lab = np.zeros(0, dtype=np.int64)
        sizes = np.zeros(0, dtype=np.int64)
    h_eff = g.h[free] + g.W[free] @ np.where(fixed, x, 0).astype(np.float64)
    small = sizes[lab] <= exact_max if len(free) else np.zeros(0, dtype=bool)
    # local position of each free variable within its component
    order = np.argsort(lab, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)])[:-1] if len(sizes) else np.zeros(0, int)
    local = np.empty(len(free), dtype=np.int64)
    local[order] = np.arange(len(free)) - np.repeat(starts, sizes)
    same = (lab[sub.row] == lab[sub.col]) & small[sub.row] if len(free) else np.zeros(0, bool)
    er, ec, ed = sub.row[same], sub.col[same], sub.data[same]
    exact_components = 0
    for k in range(1, exact_max + 1):
        comps = np.flatnonzero(sizes == k)
        if not len(comps):
            continue
        exact_components += len(comps)
        S = _states(k)
        row = np.full(len(sizes), -1, dtype=np.int64)
        row[comps] = np.arange(len(comps))
        members = order[np.repeat(starts[comps], k) + np.tile(np.arange(k), len(comps))]
        members = members.reshape(len(comps), k)  # free positions, in local order
        H = h_eff[members]
        edge = row[lab[er]] >= 0
        W = np.zeros((len(comps), k, k))
        np.add.at(W, (row[lab[er[edge]]], local[er[edge]], local[ec[edge]]), ed[edge])
        for a in range(0, len(comps), _BATCH):
            b = slice(a, a + _BATCH)
            E = H[b] @ S.T + 0.5 * np.einsum("sk,mkl,sl->ms", S, W[b], S, optimize=True)
            best = S[np.argmin(E, axis=1)].astype(np.int8)
            x[free[members[b]]] = best
    rest = np.sort(free[~small]) if len(free) else np.zeros(0, dtype=np.int64)
    stats = {
        "variables": int(n),
        "roof_duality_fixed": roof_fixed,
        "exact_components": int(exact_components),
        "exact_variables": int(small.sum()),
        "qpu_variables": int(len(rest)),
    }
    return Reduction(x=x, rest=rest, stats=stats)
