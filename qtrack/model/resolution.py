"""Each hit's resolution across a track, and what it makes of a triplet's curvature.

A hit's error across the track is its layer's pitch across the strips (``LayerTable.resolution``),
plus, on a disk, the share of its error along the strips that the track's angle to them lets
through (:func:`strip_smear`, :func:`across_track_var`). The triplet cuts, the couplers and the
quality cuts all take it from here.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _norm(dx, dy):
    # Not np.hypot: libm's overflow-safe hypot made up half of the triplet kernel's time, and
    # coordinates in mm are far from overflow.
    return np.sqrt(dx * dx + dy * dy)


def strip_smear(x: np.ndarray, y: np.ndarray, sigma: np.ndarray, along: np.ndarray,
                disk: np.ndarray, tilt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per hit, the x-y vector of its position error along the strips beyond the pitch across
    them: length sqrt(along^2 - sigma^2) along the strip direction on disks, 0 elsewhere.

    On a disk the strips (and the pixels' longer side) run about radially, ``tilt`` (rad) off
    the hit's radius (:func:`~qtrack.model.layers.strip_tilts`), and the hit's radius is known
    only to ``along``. On a barrel layer ``along`` is z and stays out of x-y.
    """
    length = np.where(disk, np.sqrt(np.maximum(along * along - sigma * sigma, 0.0)), 0.0)
    direction = np.arctan2(y, x) + tilt
    return length * np.cos(direction), length * np.sin(direction)


@njit(cache=True, inline="always")
def across_track_var(h, nx, ny, sigma, wx, wy):
    """Variance (mm^2) of hit ``h``'s position across a track whose x-y normal there is the
    unit vector (nx, ny): the pitch across the strips, plus the share of the error along them
    (:func:`strip_smear`) that the track's angle to the strips lets through. On a TrackML
    outer-strip disk (10.8 mm strips) a track 10 degrees off them feels 0.5 mm, fifteen times the
    0.035 mm across."""
    w = wx[h] * nx + wy[h] * ny
    return sigma[h] * sigma[h] + w * w


@njit(cache=True, inline="always")
def triplet_variances(x, y, a, b, c, sigma, wx, wy):
    """:func:`across_track_var` of the three hits of a triplet, the track's normal taken from
    the chord a-c."""
    dx, dy = x[c] - x[a], y[c] - y[a]
    n = _norm(dx, dy)
    if n == 0.0:
        return sigma[a] ** 2, sigma[b] ** 2, sigma[c] ** 2
    nx, ny = -dy / n, dx / n
    return (across_track_var(a, nx, ny, sigma, wx, wy), across_track_var(b, nx, ny, sigma, wx, wy),
            across_track_var(c, nx, ny, sigma, wx, wy))


@njit(cache=True, nogil=True)
def triplet_curvature_sigma(x, y, a, b, c, sigma, wx, wy):
    """:func:`curvature_sigma` of triplet a-b-c, each hit's resolution across the track from
    :func:`triplet_variances`."""
    va, vb, vc = triplet_variances(x, y, a, b, c, sigma, wx, wy)
    return _chords_curvature_sigma(_norm(x[b] - x[a], y[b] - y[a]),
                                   _norm(x[c] - x[b], y[c] - y[b]), va, vb, vc)


@njit(cache=True)
def curvature_sigma(xa, ya, xb, yb, xc, yc, sa, sb, sc):
    """Standard deviation of the Menger curvature of three hits with resolutions sa, sb, sc
    across the track.

    The curvature is 2 h / (|ab| |bc|), h the distance of b from the line ac: moving b across
    that line by d moves h by d, moving a (c) moves it by d |bc| / (|ab| + |bc|) (d |ab| / ...).
    """
    return _chords_curvature_sigma(_norm(xb - xa, yb - ya), _norm(xc - xb, yc - yb), sa * sa,
                                   sb * sb, sc * sc)


@njit(cache=True, inline="always")
def _chords_curvature_sigma(ab, bc, va, vb, vc):
    # curvature_sigma from the chords |ab| and |bc| and the hits' variances.
    span = ab + bc
    if ab == 0.0 or bc == 0.0:
        return np.inf
    sh = np.sqrt(vb + va * (bc / span) ** 2 + vc * (ab / span) ** 2)
    return 2.0 * sh / (ab * bc)
