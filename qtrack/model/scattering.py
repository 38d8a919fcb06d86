"""Multiple scattering: how far a track of given momentum bends off its helix in each layer.

The Highland formula (PDG, "Passage of particles through matter", eq. 34.16) gives the width of
the projected scattering angle of a singly charged particle of momentum ``p`` (GeV, beta = 1)
crossing ``x`` radiation lengths::

    theta0 = 0.0136 / p * sqrt(x) * (1 + 0.038 * ln(x))

A layer's material is :meth:`qtrack.model.layers.LayerTable.radiation_lengths` at normal
incidence; a track crosses a barrel layer at polar angle theta (path 1 / sin theta) and a disk at
1 / |cos theta|. Projected on the transverse plane, an angle theta0 perpendicular to the track
turns its azimuth by theta0 / sin theta.
"""
from __future__ import annotations

import numpy as np
from numba import njit

#: pT [GeV] = 0.3 * B [T] * R [m]: GeV per (tesla * mm of radius).
GEV_PER_TESLA_MM = 0.3e-3


@njit(cache=True)
def highland(p: float, x: float) -> float:
    """Width (rad) of the projected scattering angle of momentum ``p`` (GeV) through ``x``
    radiation lengths (0 for no material)."""
    if x <= 0.0 or p <= 0.0:
        return 0.0
    return 0.0136 / p * np.sqrt(x) * max(1.0 + 0.038 * np.log(x), 0.0)


@njit(cache=True)
def scattering_angles(pt: float, cot_theta: float, x_normal: float, disk: bool):
    """(polar, azimuthal) widths (rad) of the direction change of a track of transverse momentum
    ``pt`` (GeV) and dip ``cot_theta`` crossing a layer of ``x_normal`` radiation lengths."""
    sin_theta = 1.0 / np.sqrt(1.0 + cot_theta * cot_theta)
    cos_theta = abs(cot_theta) * sin_theta
    path = 1.0 / max(cos_theta, 1e-3) if disk else 1.0 / sin_theta
    theta0 = highland(pt / sin_theta, x_normal * path)
    return theta0, theta0 / sin_theta


@njit(cache=True)
def pt_of_curvature(curvature: float, field_tesla: float) -> float:
    """Transverse momentum (GeV) of a circle of ``curvature`` (1/mm) in ``field_tesla``."""
    c = abs(curvature)
    return GEV_PER_TESLA_MM * field_tesla / c if c > 0.0 else np.inf


#: The beam pipe of the TrackML and ACTS generic detectors: 0.8 mm of beryllium (X0 = 352.8 mm,
#: PDG) at r = 19 mm.
BEAM_PIPE = (19.0, 0.8 / 352.8)


def material_before(x: np.ndarray, y: np.ndarray, z: np.ndarray, layers, x_layer: np.ndarray):
    """Per hit: the radiation lengths a straight track from the origin crosses before reaching
    it (beam pipe and the layers ``x_layer`` it passes through, each along its path), and their
    sum weighted by the crossing radius squared (how far each scattering moves the track's
    extrapolation to the beam line)."""
    r = np.hypot(x, y)
    az = np.maximum(np.abs(z), 1e-6)
    sin_t = r / np.hypot(r, z)
    cos_t = np.maximum(az / np.hypot(r, z), 1e-3)
    r_pipe, x_pipe = BEAM_PIPE
    total = np.where(r > r_pipe, x_pipe / sin_t, 0.0)
    weighted = total * r_pipe ** 2
    for l in range(len(layers)):
        pos = layers.position[l]
        if layers.is_disk[l]:
            rc = r * abs(pos) / az
            crossed = (np.sign(z) == np.sign(pos)) & (abs(pos) < az - 1.0) \
                & (rc >= layers.r_min[l]) & (rc <= layers.r_max[l])
            path = x_layer[l] / cos_t
        else:
            rc = np.full_like(r, pos)
            zc = z * pos / np.maximum(r, 1e-6)
            crossed = (pos < r - 1.0) & (zc >= layers.z_min[l]) & (zc <= layers.z_max[l])
            path = x_layer[l] / sin_t
        total += np.where(crossed, path, 0.0)
        weighted += np.where(crossed, path * rc * rc, 0.0)
    return total, weighted
