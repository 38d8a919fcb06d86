"""The luminous region's length along the beam, estimated from the event.

Vertex spreads differ by almost an order of magnitude between the events qtrack sees (TrackML
event 1000: most vertices within about 10 mm; TrackML Codalab and HL-LHC-like events: sigma_z
50-55 mm). Windows wide enough for the second let through many fakes in the first (fake rate
17 % -> 48 % on the ~97 % barrel event of event 1000 with a 200 mm instead of a 50 mm track z0
check), so the half-length is measured: four-hit segments through the four innermost barrel
layers that are straight in r-z within ``MAX_RESIDUAL`` (pT > ``MIN_PT``) point back to their vertex
(90 % of them are one particle's hits on event 1000 and on a simulated PU200 event). The
half-length covers ``N_SIGMA`` robust standard deviations (from the median absolute deviation) of
their z intercepts beyond their median, and every vertex seen: any ``CLUSTER`` segments within
``CLUSTER_WIDTH`` (a vertex; fake segments rarely pile up). Plus ``MARGIN``; never more than the
configured ``z0_max``. The vertex term matters with few vertices, where one busy vertex makes
the deviation small (PU60: 108 mm from the deviation alone, for sigma_z = 50 mm).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..config import BeamSpotConfig, DoubletConfig, ModelConfig

log = logging.getLogger("qtrack")

#: Segments bend no more than a track of this pT (GeV): fewer combinations to try.
MIN_PT = 2.0
#: Largest distance (mm) of a segment's hit from the segment's straight line in r-z.
MAX_RESIDUAL = 0.1
#: Robust standard deviations of the segments' z0 the luminous region spans.
N_SIGMA = 4.0
#: Added to the half-length (mm): the tails of the vertex distribution and the segments' z0
#: resolution.
MARGIN = 10.0
#: Fewer segments than this and the estimate is not trusted: the configured ``z0_max`` is used.
MIN_SEGMENTS = 30
#: Segments within this z range (mm) ...
CLUSTER_WIDTH = 5.0
#: ... this many of them make a vertex.
CLUSTER = 3


def segment_z0(x, y, z, layer, layers, config: BeamSpotConfig = BeamSpotConfig()) -> np.ndarray:
    """z intercepts (mm) of the straight four-hit segments through the innermost barrel layers."""
    from .doublets import build_doublets
    from .triplets import build_triplets

    barrel = np.flatnonzero(~layers.is_disk)
    inner = barrel[np.argsort(layers.position[barrel])][:4]
    if len(inner) < 4:
        return np.zeros(0)
    sel = np.flatnonzero(np.isin(layer, inner))
    xs, ys, zs = x[sel], y[sel], z[sel]
    wide = config.replace(estimate=False)
    d = build_doublets(xs, ys, zs, layer[sel], layers,
                       DoubletConfig(min_pt=MIN_PT, max_layer_gap=1), wide)
    t = build_triplets(xs, ys, zs, d, 1, ModelConfig(tplet_max_drz=0.02))
    # Pairs of triplets sharing a doublet: (a, b, c) then (b, c, d).
    by_d1 = np.argsort(t.d1, kind="stable")
    lo = np.searchsorted(t.d1[by_d1], t.d2)
    n = np.searchsorted(t.d1[by_d1], t.d2, side="right") - lo
    t1 = np.repeat(np.arange(len(t)), n)
    t2 = by_d1[np.repeat(lo - np.cumsum(n) + n, n) + np.arange(n.sum())]
    hits = np.stack([t.h1[t1], t.h2[t1], t.h3[t1], t.h3[t2]], axis=1)
    r, zz = np.hypot(xs, ys)[hits], zs[hits]
    rm, zm = r.mean(axis=1, keepdims=True), zz.mean(axis=1, keepdims=True)
    slope = ((r - rm) * (zz - zm)).sum(axis=1) / ((r - rm) ** 2).sum(axis=1)
    residual = np.abs(zz - zm - slope[:, None] * (r - rm)).max(axis=1)
    z0 = zm[:, 0] - slope * rm[:, 0]
    return z0[residual < MAX_RESIDUAL]


@dataclass(frozen=True)
class LuminousRegion:
    """The estimate: half-length (mm), the straight segments it came from, and whether it is
    measured (``False``: fewer than ``MIN_SEGMENTS`` segments, the configured cap is used)."""

    z0_max: float
    segments: int
    measured: bool


def estimate_z0_max(x, y, z, layer, layers,
                    config: BeamSpotConfig = BeamSpotConfig()) -> LuminousRegion:
    """Half-length (mm) of the luminous region of this event, at most ``config.z0_max``."""
    z0 = segment_z0(x, y, z, layer, layers, config)
    if len(z0) < MIN_SEGMENTS:
        log.info("luminous region: %d straight pixel segments, fewer than the %d needed to measure "
                 "it; using the cap [beamspot] z0_max = %.1f mm", len(z0), MIN_SEGMENTS,
                 config.z0_max)
        return LuminousRegion(config.z0_max, len(z0), False)
    med = float(np.median(z0))
    sigma = 1.4826 * float(np.median(np.abs(z0 - med)))
    z0 = np.sort(z0)
    near = (np.searchsorted(z0, z0 + CLUSTER_WIDTH / 2, side="right")
            - np.searchsorted(z0, z0 - CLUSTER_WIDTH / 2))
    farthest_vertex = float(np.abs(z0[near >= CLUSTER]).max(initial=0.0))
    half = max(abs(med) + N_SIGMA * sigma, farthest_vertex) + MARGIN
    return LuminousRegion(float(min(config.z0_max, half)), len(z0), True)
