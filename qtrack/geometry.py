"""The circle through hits in x-y, one fit for every stage that needs it.

A track in the solenoid's field is a circle in x-y, an infinitely stiff one a straight line. The
fit returns both in one form, the normalised algebraic circle

    a (x^2 + y^2) + d x + e y + f = 0,   d^2 + e^2 - 4 a f = 1,

so that nothing special happens at zero curvature: ``a = 0`` is the straight line with unit
normal (d, e); otherwise the centre is (-d / 2a, -e / 2a) and the radius 1 / (2 |a|).

The fit is Kasa's (least squares of the algebraic distance), in coordinates centred on the
hits, with the straight line (total least squares) when the hits are collinear to the last few
digits.
"""
from __future__ import annotations

import numpy as np
from numba import njit

#: Hits whose spread across their principal direction is below this fraction of the spread along
#: it (variance ratio) lie on a straight line as far as double precision can tell.
_COLLINEAR = 1e-12


@njit(cache=True)
def circle_fit(h, use, x, y):
    """The circle (or straight line) through the hits ``h[use]`` (indices into ``x``, ``y``):
    ``(a, d, e, f)`` as in the module docstring."""
    n = 0
    xm = ym = 0.0
    for i in range(len(h)):
        if use[i]:
            n += 1
            xm += x[h[i]]
            ym += y[h[i]]
    if n == 0:
        return 0.0, 1.0, 0.0, 0.0
    xm /= n
    ym /= n
    suu = suv = svv = suw = svw = sw = 0.0
    for i in range(len(h)):
        if use[i]:
            u, v = x[h[i]] - xm, y[h[i]] - ym
            w = u * u + v * v
            suu += u * u
            suv += u * v
            svv += v * v
            suw += u * w
            svw += v * w
            sw += w
    det = suu * svv - suv * suv
    spread = suu + svv
    if det <= _COLLINEAR * spread * spread:
        # A straight line through the centroid along the principal direction.
        theta = 0.5 * np.arctan2(2.0 * suv, suu - svv)
        nx, ny = -np.sin(theta), np.cos(theta)
        return 0.0, nx, ny, -(nx * xm + ny * ym)
    # Kasa in centred coordinates: u^2 + v^2 + D u + E v + F = 0 (the centroid rows give
    # F = -mean(w)), then normalised and moved back to x, y.
    big_d = -(svv * suw - suv * svw) / det
    big_e = -(suu * svw - suv * suw) / det
    big_f = -sw / n
    s = np.sqrt(big_d * big_d + big_e * big_e - 4.0 * big_f)
    a, d, e, f = 1.0 / s, big_d / s, big_e / s, big_f / s
    return (a, d - 2.0 * a * xm, e - 2.0 * a * ym,
            a * (xm * xm + ym * ym) - d * xm - e * ym + f)


@njit(cache=True)
def circle_distance(a, d, e, f, px, py):
    """Signed distance of (px, py) from the circle or line ``(a, d, e, f)`` (exact, also for
    ``a = 0``): the root of a |delta|^2 + delta = P, P the algebraic distance."""
    p = a * (px * px + py * py) + d * px + e * py + f
    return 2.0 * p / (1.0 + np.sqrt(max(1.0 + 4.0 * a * p, 0.0)))


@njit(cache=True)
def arc_lengths(a, d, e, f, h, x, y, out):
    """Per hit of ``h``: the length along the circle (or line) from its point closest to the
    beam line (x = y = 0) to the hit's projection on it; half a turn at most."""
    if a == 0.0:
        # The line's point closest to the origin is -f (d, e); along it runs (-e, d).
        for i in range(len(h)):
            out[i] = abs(-e * x[h[i]] + d * y[h[i]])
        return
    cx, cy = -d / (2.0 * a), -e / (2.0 * a)
    radius = 1.0 / (2.0 * abs(a))
    phi0 = np.arctan2(-cy, -cx)
    for i in range(len(h)):
        dphi = np.arctan2(y[h[i]] - cy, x[h[i]] - cx) - phi0
        dphi = (dphi + np.pi) % (2.0 * np.pi) - np.pi
        out[i] = abs(dphi) * radius


@njit(cache=True)
def _circle_fits_kernel(ptr, hits, x, y, out):
    longest = 0
    for k in range(len(ptr) - 1):
        longest = max(longest, ptr[k + 1] - ptr[k])
    use = np.ones(longest, dtype=np.bool_)
    for k in range(len(ptr) - 1):
        a, d, e, f = circle_fit(hits[ptr[k]:ptr[k + 1]], use, x, y)
        out[k, 0], out[k, 1], out[k, 2], out[k, 3] = a, d, e, f


@njit(cache=True)
def _triplet_fits_kernel(h1, h2, h3, x, y, out):
    h = np.empty(3, dtype=np.int64)
    use = np.ones(3, dtype=np.bool_)
    for k in range(len(h1)):
        h[0], h[1], h[2] = h1[k], h2[k], h3[k]
        a, d, e, f = circle_fit(h, use, x, y)
        out[k, 0], out[k, 1], out[k, 2], out[k, 3] = a, d, e, f


def circle_fits(ptr: np.ndarray, hits: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The fits of many hit lists (list k: ``hits[ptr[k]:ptr[k + 1]]``): an array (n, 4) of
    (a, d, e, f)."""
    out = np.empty((len(ptr) - 1, 4))
    if len(out):
        _circle_fits_kernel(np.asarray(ptr, np.int64), np.asarray(hits, np.int64),
                            np.asarray(x, np.float64), np.asarray(y, np.float64), out)
    return out


def triplet_circles(h1: np.ndarray, h2: np.ndarray, h3: np.ndarray, x: np.ndarray,
                    y: np.ndarray) -> np.ndarray:
    """The circle through each triplet of hits (h1[k], h2[k], h3[k]): an array (n, 4)."""
    out = np.empty((len(h1), 4))
    if len(out):
        _triplet_fits_kernel(np.asarray(h1, np.int64), np.asarray(h2, np.int64),
                             np.asarray(h3, np.int64), np.asarray(x, np.float64),
                             np.asarray(y, np.float64), out)
    return out


def radius_of(fits: np.ndarray) -> np.ndarray:
    """Radius (mm) of each fit; infinite for a straight line."""
    with np.errstate(divide="ignore"):
        return 1.0 / (2.0 * np.abs(fits[:, 0]))


def beamline_distance(fits: np.ndarray) -> np.ndarray:
    """Signed distance (mm) of the beam line (x = y = 0) from each circle: the transverse
    impact parameter d0, up to its sign."""
    a, f = fits[:, 0], fits[:, 3]
    return 2.0 * f / (1.0 + np.sqrt(np.maximum(1.0 + 4.0 * a * f, 0.0)))
