"""Numba kernels of simulated bifurcation: Lanczos for c0, the trajectory, the polish."""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def lanczos(indptr, indices, data, start, num_iter):
    # Plain loops, not np.dot: BLAS may split sums over threads and change the last bits.
    n = len(start)
    alpha = np.zeros(num_iter)
    beta = np.zeros(num_iter)
    v = start.copy()
    norm = 0.0
    for i in range(n):
        norm += v[i] * v[i]
    v /= np.sqrt(norm)
    v_prev = np.zeros(n)
    w = np.empty(n)
    b = 0.0
    for it in range(num_iter):
        a = 0.0
        for i in range(n):
            s = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                s += data[k] * v[indices[k]]
            w[i] = s
            a += s * v[i]
        norm = 0.0
        for i in range(n):
            w[i] -= a * v[i] + b * v_prev[i]
            norm += w[i] * w[i]
        alpha[it] = a
        b = np.sqrt(norm)
        # An invariant subspace is exhausted: the Ritz values so far are exact eigenvalues.
        if b == 0.0:
            return alpha[: it + 1], beta[:it]
        beta[it] = b
        for i in range(n):
            v_prev[i] = v[i]
            v[i] = w[i] / b
    return alpha, beta[: num_iter - 1]


@njit(cache=True, nogil=True)
def evolve(indptr, indices, data, h, x, y, num_steps, dt, c0, discrete):
    # State is (variable, read): each coupler is loaded once per step and applied to all reads
    # from one contiguous row, about twice as fast as one pass over the matrix per read.
    n, num_reads = x.shape
    a0 = 1.0
    source = np.empty_like(x)
    field = np.empty(num_reads, x.dtype)
    for step in range(num_steps):
        detuning = a0 - a0 * step / num_steps
        # Positions are updated in place below, so the couplings read a copy of the old ones.
        for i in range(n):
            for r in range(num_reads):
                if discrete:
                    source[i, r] = 1.0 if x[i, r] >= 0.0 else -1.0
                else:
                    source[i, r] = x[i, r]
        for i in range(n):
            for r in range(num_reads):
                field[r] = h[i]
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                w = data[k]
                for r in range(num_reads):
                    field[r] += w * source[j, r]
            for r in range(num_reads):
                yr = y[i, r] + (-detuning * x[i, r] - c0 * field[r]) * dt
                xr = x[i, r] + a0 * yr * dt
                if xr > 1.0:
                    xr = 1.0
                    yr = 0.0
                elif xr < -1.0:
                    xr = -1.0
                    yr = 0.0
                x[i, r] = xr
                y[i, r] = yr


@njit(cache=True, nogil=True)
def descend(indptr, indices, data, h, spins, tol):
    num_reads, n = spins.shape
    for r in range(num_reads):
        s = spins[r]
        changed = True
        while changed:
            changed = False
            for i in range(n):
                field = h[i]
                for k in range(indptr[i], indptr[i + 1]):
                    field += data[k] * s[indices[k]]
                # Flipping s_i changes the energy by -2 s_i field.
                if s[i] * field > tol:
                    s[i] = -s[i]
                    changed = True
