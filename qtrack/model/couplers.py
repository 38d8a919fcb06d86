"""Couplers: quadruplets (negative, two triplets sharing a doublet) and conflicts (positive).

This reproduces the reference model (hepqpr-qallse ``QallseMp``): quadruplets are cut on curvature
difference and strength, and kept only on a chain of ``min_qplet_path`` quadruplets. Only triplets
of kept quadruplets become QUBO variables. Two variables conflict when they hold distinct doublets
that start (or end) at the same hit. The strength's R-Z term is each triplet's R-Z kink over the
largest its cut allows (:attr:`~qtrack.model.triplets.Triplets.rz_ratio`; the reference: its
chord angle over ``tplet_max_drz``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..config import ModelConfig
from .doublets import Doublets
from .kernels import csr, sized_pass, unique_ints
from .resolution import strip_smear, triplet_curvature_sigma
from .triplets import Triplets


@dataclass(frozen=True)
class Model:
    """The QUBO's structure: variables are ``triplets`` (kept ones only), couplers index into them."""

    triplets: Triplets
    #: Quadruplet couplers (negative strength): variable pairs and their strength.
    quad_t1: np.ndarray
    quad_t2: np.ndarray
    quad_strength: np.ndarray
    #: Conflict couplers: variable pairs (i < j).
    conflict_i: np.ndarray
    conflict_j: np.ndarray
    #: Sizes before the max-path filter, for the summary.
    n_triplets_all: int
    n_quadruplets_all: int
    n_doublets: int = 0

    @property
    def n_variables(self) -> int:
        return len(self.triplets)


@njit(cache=True, nogil=True)
def _curvature_sigmas(row_lo, row_hi, h1, h2, h3, x, y, sigma, wx, wy, out):
    for t in range(row_lo, row_hi):
        if t - row_lo < len(out):
            out[t - row_lo] = triplet_curvature_sigma(x, y, h1[t], h2[t], h3[t], sigma, wx, wy)
    return row_hi - row_lo


@njit(cache=True, nogil=True)
def _quadruplet_kernel(row_lo, row_hi, t_d2, t_ptr, t_sigma, curv, t_ms, rz_ratio, t_span, d_step,
                       max_dcurv, n_sigma, max_strength, num_mult, xy_rel, xy_pow,
                       rz_pow, vl_pow, q_t1, q_t2, q_s):
    n = 0
    for t1 in range(row_lo, row_hi):
        d = t_d2[t1]
        for t2 in range(t_ptr[d], t_ptr[d + 1]):
            dcurv = abs(curv[t1] - curv[t2])
            # The allowed difference: what the hits' resolution and the scattering at the two
            # middle hits allow, at least max_dcurv (the reference's fixed cut alone without
            # n_sigma).
            allowed = max_dcurv
            if n_sigma > 0.0:
                s1, s2 = t_sigma[t1], t_sigma[t2]
                allowed = max(max_dcurv, n_sigma * np.sqrt(s1 * s1 + s2 * s2 + t_ms[t1] ** 2
                                                           + t_ms[t2] ** 2))
            if dcurv > allowed:
                continue
            xy = 1.0 - (dcurv / allowed) ** xy_pow if allowed > 0.0 else 1.0
            rz = 1.0 - max(rz_ratio[t1], rz_ratio[t2]) ** rz_pow
            holes = t_span[t1] + d_step[t_d2[t2]] - 3
            s = num_mult * (xy_rel * xy + (1.0 - xy_rel) * rz) / (1.0 + holes) ** vl_pow
            if s > max_strength:
                continue
            if n < len(q_t1):
                q_t1[n] = t1
                q_t2[n] = t2
                q_s[n] = s
            n += 1
    return n


@njit(cache=True)
def _max_path(q_t1, q_t2, order_fwd, n_triplets):
    # ``order_fwd`` must be a topological order of the quadruplet graph (checked by the caller).
    longest_in = np.zeros(n_triplets, dtype=np.int64)
    longest_out = np.zeros(n_triplets, dtype=np.int64)
    for k in range(len(order_fwd)):
        q = order_fwd[k]
        v = longest_in[q_t1[q]] + 1
        if v > longest_in[q_t2[q]]:
            longest_in[q_t2[q]] = v
    for k in range(len(order_fwd) - 1, -1, -1):
        q = order_fwd[k]
        v = longest_out[q_t2[q]] + 1
        if v > longest_out[q_t1[q]]:
            longest_out[q_t1[q]] = v
    path = np.empty(len(q_t1), dtype=np.int64)
    for q in range(len(q_t1)):
        path[q] = longest_in[q_t1[q]] + 1 + longest_out[q_t2[q]]
    return path


@njit(cache=True, nogil=True)
def _conflict_kernel(row_lo, row_hi, hit_ptr, hit_doublets, dbl_ptr, dbl_vars, out_i, out_j):
    # For every hit, every pair of distinct kept doublets ending (or starting) there puts all
    # variables holding the one in conflict with all variables holding the other.
    n = 0
    for h in range(row_lo, row_hi):
        for a in range(hit_ptr[h], hit_ptr[h + 1]):
            da = hit_doublets[a]
            for b in range(a + 1, hit_ptr[h + 1]):
                db = hit_doublets[b]
                for ka in range(dbl_ptr[da], dbl_ptr[da + 1]):
                    va = dbl_vars[ka]
                    for kb in range(dbl_ptr[db], dbl_ptr[db + 1]):
                        vb = dbl_vars[kb]
                        if va == vb:
                            continue
                        if n < len(out_i):
                            out_i[n] = min(va, vb)
                            out_j[n] = max(va, vb)
                        n += 1
    return n


def build_couplers(x: np.ndarray, y: np.ndarray, order: np.ndarray,
                   doublets: Doublets, triplets: Triplets, config: ModelConfig = ModelConfig(),
                   sigma: np.ndarray | None = None, threads: int = 1,
                   along: np.ndarray | None = None, disk: np.ndarray | None = None,
                   tilt: np.ndarray | None = None) -> Model:
    """Quadruplets, the max-path filter and conflicts over ``triplets`` (sorted by ``d1``).

    ``order`` is each hit's layer position in the layer graph's topological order
    (:attr:`qtrack.model.layers.LayerGraph.order` of its layer). ``sigma`` is each hit's r-phi
    resolution (mm): two triplets' curvatures may then differ by ``curvature_sigmas`` standard
    deviations of their difference where that is more than ``qplet_max_dcurv`` (the reference's
    fixed cut without it). ``along`` (each hit's resolution along its strips), ``disk`` (the hit
    is on a disk) and ``tilt`` (its strips' angle from its radius) add the disks' radial error
    across the track (:func:`~qtrack.model.resolution.across_track_var`).
    """
    n_hits = len(x)
    sigma = np.zeros(n_hits) if sigma is None else np.asarray(sigma, dtype=np.float64)
    along = np.zeros(n_hits) if along is None else np.asarray(along, dtype=np.float64)
    disk = np.zeros(n_hits, dtype=np.bool_) if disk is None else np.asarray(disk, dtype=np.bool_)
    tilt = np.zeros(n_hits) if tilt is None else np.asarray(tilt, dtype=np.float64)
    n_sigma = config.curvature_sigmas if sigma.any() else 0.0
    t_ptr = csr(triplets.d1, len(doublets))
    # Each triplet's curvature resolution, once (a triplet meets dozens of continuations).
    t_sigma = sized_pass(_curvature_sigmas, (triplets.h1, triplets.h2, triplets.h3, x, y, sigma,
                                            *strip_smear(x, y, sigma, along, disk, tilt)),
                         (np.float64,), len(triplets), len(triplets), threads)[0] \
        if n_sigma > 0.0 else np.zeros(len(triplets))
    # A tenth as many quadruplets as triplets at pile-up 200, a quarter in the barrel-only event.
    q_t1, q_t2, q_s = sized_pass(
        _quadruplet_kernel,
        (triplets.d2, t_ptr, t_sigma, triplets.curvature, triplets.curvature_ms, triplets.rz_ratio,
         triplets.span, doublets.step, config.qplet_max_dcurv, n_sigma,
         config.qplet_max_strength, config.num_multiplier, config.xy_relative_strength,
         config.xy_power, config.rz_power, config.volayer_power),
        (np.int64, np.int64, np.float64), 0.25 * len(triplets), len(triplets), threads,
    )
    n_quadruplets_all = len(q_t1)
    # Quadruplet (t1, t2) leads to (t2, t3): sorted by the layer order of its first hit, every
    # quadruplet comes after those leading to it, provided every doublet goes forward in the order.
    if len(doublets) and not (order[doublets.inner] < order[doublets.outer]).all():
        raise RuntimeError("a doublet goes backwards in the layer order: max-path filter invalid")
    fwd = np.argsort(order[triplets.h1[q_t1]], kind="stable")
    path = _max_path(q_t1, q_t2, fwd, len(triplets))
    keep = path >= config.min_qplet_path
    q_t1, q_t2, q_s = q_t1[keep], q_t2[keep], q_s[keep]

    used = np.zeros(len(triplets), dtype=bool)
    used[q_t1] = True
    used[q_t2] = True
    kept = np.flatnonzero(used)
    var_of = np.full(len(triplets), -1, dtype=np.int64)
    var_of[kept] = np.arange(len(kept))
    tk = triplets.take(kept)

    # Kept doublets and, for each, the variables that hold it.
    dbl = np.concatenate([tk.d1, tk.d2])
    var = np.concatenate([np.arange(len(kept)), np.arange(len(kept))])
    by_dbl = np.lexsort((var, dbl))
    dbl, var = dbl[by_dbl], var[by_dbl]
    new = np.ones(len(dbl), dtype=bool)
    new[1:] = dbl[1:] != dbl[:-1]
    kept_dbl, dbl_local = dbl[new], np.cumsum(new) - 1
    dbl_ptr = csr(dbl_local, len(kept_dbl))
    pairs = []
    for end in (doublets.outer, doublets.inner):
        hits = end[kept_dbl]
        by_hit = np.argsort(hits, kind="stable")
        # 8-14 conflicts per variable and end at pile-up 200 (the lowest pT pass the most).
        pairs.append(sized_pass(
            _conflict_kernel,
            (csr(hits[by_hit], n_hits), by_hit.astype(np.int64), dbl_ptr, var),
            (np.int64, np.int64), 24 * len(kept), n_hits, threads,
        ))
    ci = np.concatenate([pairs[0][0], pairs[1][0]])
    cj = np.concatenate([pairs[0][1], pairs[1][1]])
    n_var = max(len(kept), 1)
    key = unique_ints(ci * n_var + cj)
    return Model(
        triplets=tk,
        quad_t1=var_of[q_t1], quad_t2=var_of[q_t2], quad_strength=q_s,
        conflict_i=key // n_var, conflict_j=key % n_var,
        n_triplets_all=len(triplets), n_quadruplets_all=n_quadruplets_all,
        n_doublets=len(doublets),
    )
