"""The numba kernels against slow, straightforward Python versions of the reference model.

The brute-force versions below are written from the documentation (qtrack.config docstrings and the
reference model, hepqpr-qallse ``QallseMp``/``QallseD0``), not from qtrack's code: all hit pairs for
doublets, nested loops and dicts for triplets/quadruplets/conflicts, the reference's recursive
longest-path search, and a per-triplet circle fit for the impact weights.
"""
from __future__ import annotations

import itertools
import math
import sys
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from conftest import VOLAYERS
from qtrack.config import BeamSpotConfig, DoubletConfig, ModelConfig, TrackConfig
from qtrack.model.layers import TRACKML, TRACKML_BARREL
from qtrack.model.doublets import Doublets, build_doublets, graph_of
from qtrack.event import Event
from qtrack.model.qubo import build_qubo, impact_weights
from qtrack.tracks import build_tracks
from qtrack.model.couplers import Model, build_couplers
from qtrack.model.triplets import Triplets, build_triplets


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------

def _table_layer(ev: Event) -> np.ndarray:
    """Row of every array hit in the event's layer table, from the raw volume/layer ids."""
    hits = ev.hits.set_index("hit_id").loc[ev.hit_id]
    rows = list(zip(ev.layers.volume_id.tolist(), ev.layers.layer_id.tolist()))
    return np.array([rows.index((int(v), int(l))) for v, l in zip(hits.volume_id, hits.layer_id)])


def _subset(ev: Event, mask: np.ndarray) -> Event:
    return Event(name=ev.name, prefix=ev.prefix, hits=ev.hits[ev.hits.hit_id.isin(ev.hit_id[mask])],
                 truth=None, particles=None, hit_id=ev.hit_id[mask], x=ev.x[mask], y=ev.y[mask],
                 z=ev.z[mask], layer=ev.layer[mask], layers=ev.layers)


@pytest.fixture(scope="module")
def dense_event(event):
    """The shipped event plus two slightly rotated/stretched copies: many forks and conflicts."""
    parts = [(event.x, event.y, event.z)]
    for angle, zscale in ((0.004, 1.003), (-0.007, 0.996)):
        c, s = math.cos(angle), math.sin(angle)
        parts.append((c * event.x - s * event.y, s * event.x + c * event.y, event.z * zscale))
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    z = np.concatenate([p[2] for p in parts])
    n = event.n_hits
    hit_id = np.concatenate([event.hit_id + k * 10_000_000 for k in range(3)])
    layer = np.tile(event.layer, 3)
    hits = pd.DataFrame({"hit_id": hit_id, "x": x, "y": y, "z": z,
                         "volume_id": np.tile(event.hits.volume_id.to_numpy(), 3),
                         "layer_id": np.tile(event.hits.layer_id.to_numpy(), 3)})
    assert len(hits) == 3 * n
    return Event(name="dense", prefix=event.prefix, hits=hits, truth=None, particles=None,
                 hit_id=hit_id, x=x, y=y, z=z, layer=layer, layers=event.layers)


def _order(ev: Event) -> np.ndarray:
    return graph_of(ev.layers).order[ev.layer]


def brute_step(table, li, lj, pi, pj) -> int:
    """1 + the layers of ``table`` (other than the hits' own ``li``, ``lj``) whose surface the
    straight segment from hit ``pi`` to hit ``pj`` ((r, z) each) crosses between them: the layers
    the track passes without a hit."""
    (ri, zi), (rj, zj) = pi, pj
    n = 1
    for k in range(len(table)):
        if k in (li, lj):
            continue
        pos = float(table.position[k])
        if table.kind[k] == "barrel":
            if ri < pos < rj:
                zc = zi + (zj - zi) * (pos - ri) / (rj - ri)
                n += table.z_min[k] <= zc <= table.z_max[k]
        elif min(zi, zj) < pos < max(zi, zj):
            rc = ri + (rj - ri) * (pos - zi) / (zj - zi)
            n += table.r_min[k] <= rc <= table.r_max[k]
    return n


# --------------------------------------------------------------------------------------------
# (1) Doublets
# --------------------------------------------------------------------------------------------


def brute_doublets(x, y, z, layer, cfg: DoubletConfig, bs: BeamSpotConfig = BeamSpotConfig(),
                   table=TRACKML) -> set[tuple[int, int]]:
    """Every hit pair (i, j) on two layers that passes the documented seeding cuts; pure Python.

    |dphi| <= asin(r_out / 2R') - asin(r_in / 2R') + phi_tolerance [+ d0_max (1/r_in - 1/r_out)]
    with R' = max(R, r_out / 2): beyond the lowest pT's half turn (r_out > 2R) the most curved
    track reaching the outer hit is the one whose half turn ends there;
    the segment passes at most ``max_layer_gap - 1`` layers without a hit (:func:`brute_step`);
    z0 somewhere between the straight r-z line's and the lowest-pT helix's (z linear in the arc
    length 2R asin(r / 2R)) within the window; beyond that helix's half turn (r_out > 2R), the
    helix whose half turn ends at the outer hit (2R = r_out).
    """
    R = cfg.min_pt / (0.3e-3 * cfg.field_tesla)  # mm
    cot_max = math.sinh(cfg.eta_max)
    d0_max = bs.d0_max
    z0_max = bs.z0_max + bs.doublet_z0_margin
    n = len(x)
    r = [math.hypot(x[i], y[i]) for i in range(n)]
    phi = [math.atan2(y[i], x[i]) for i in range(n)]
    vl = [int(v) for v in layer]
    zz = [float(v) for v in z]
    out = set()
    for i in range(n):
        for j in range(n):
            if vl[j] == vl[i]:
                continue
            dr = r[j] - r[i]
            if dr <= 0:
                continue
            dz = zz[j] - zz[i]
            if abs(dz / dr) > cot_max:
                continue
            z0_line = zz[i] - r[i] * dz / dr
            Rj = max(R, r[j] / 2)
            si, sj = (2 * Rj * math.asin(min(v / (2 * Rj), 1.0)) for v in (r[i], r[j]))
            z0_helix = zz[i] - si * dz / (sj - si) if sj > si else z0_line
            if min(z0_line, z0_helix) > z0_max or max(z0_line, z0_helix) < -z0_max:
                continue
            dphi = phi[j] - phi[i]
            while dphi > math.pi:
                dphi -= 2 * math.pi
            while dphi < -math.pi:
                dphi += 2 * math.pi
            window = (math.asin(min(r[j] / (2 * Rj), 1.0)) - math.asin(min(r[i] / (2 * Rj), 1.0))
                      + cfg.phi_tolerance
                      + d0_max * (1 / r[i] - 1 / r[j]))
            if abs(dphi) > window:
                continue
            if brute_step(table, vl[i], vl[j], (r[i], zz[i]), (r[j], zz[j])) > cfg.max_layer_gap:
                continue
            out.add((i, j))
    return out


def brute_doublets_numpy(x, y, z, layer, cfg: DoubletConfig, bs: BeamSpotConfig = BeamSpotConfig(),
                         table=TRACKML) -> set[tuple[int, int]]:
    """Same cuts as :func:`brute_doublets`, over all pairs, vectorised one inner layer at a time."""
    R = cfg.min_pt / (0.3e-3 * cfg.field_tesla)
    cot_max = np.sinh(cfg.eta_max)
    d0_max = bs.d0_max
    z0_max = bs.z0_max + bs.doublet_z0_margin
    r = np.hypot(x, y)
    phi = np.arctan2(y, x)
    out = set()
    for v in np.unique(layer):
        ii = np.flatnonzero(layer == v)
        cand = np.flatnonzero(layer != v)
        for jj in np.array_split(cand, max(1, len(cand) // 3000)):
            dr = r[None, jj] - r[ii, None]
            dz = z[None, jj] - z[ii, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                ok = dr > 0
                ok &= np.abs(dz / dr) <= cot_max
                z0_line = z[ii, None] - r[ii, None] * dz / dr
                Rj = np.maximum(R, r[None, jj] / 2)
                si = 2 * Rj * np.arcsin(np.minimum(r[ii, None] / (2 * Rj), 1.0))
                sj = 2 * Rj * np.arcsin(np.minimum(r[None, jj] / (2 * Rj), 1.0))
                z0_helix = np.where(sj > si, z[ii, None] - si * dz / (sj - si), z0_line)
                ok &= (np.minimum(z0_line, z0_helix) <= z0_max) & (
                    np.maximum(z0_line, z0_helix) >= -z0_max)
                dphi = np.remainder(phi[None, jj] - phi[ii, None] + np.pi, 2 * np.pi) - np.pi
                window = (np.arcsin(np.minimum(r[None, jj] / (2 * Rj), 1.0))
                          - np.arcsin(np.minimum(r[ii, None] / (2 * Rj), 1.0))
                          + cfg.phi_tolerance + d0_max * (1 / r[ii, None] - 1 / r[None, jj]))
                ok &= np.abs(dphi) <= window
            a, b = np.nonzero(ok)
            out.update((i, j) for i, j in zip(ii[a].tolist(), jj[b].tolist())
                       if brute_step(table, layer[i], layer[j], (r[i], z[i]), (r[j], z[j]))
                       <= cfg.max_layer_gap)
    return out


def _as_set(d: Doublets) -> set[tuple[int, int]]:
    pairs = list(zip(d.inner.tolist(), d.outer.tolist()))
    assert len(pairs) == len(set(pairs)), "duplicate doublets"
    return set(pairs)


_NARROW = BeamSpotConfig(z0_max=50.0, estimate=False)
DOUBLET_CONFIGS = {  # (seeding cuts, luminous region)
    "default": (DoubletConfig(), _NARROW),
    "wide": (DoubletConfig(), BeamSpotConfig(estimate=False)),
    "no-holes": (DoubletConfig(max_layer_gap=1), _NARROW),
    "loose": (DoubletConfig(max_layer_gap=3, min_pt=0.5, phi_tolerance=0.05, eta_max=1.2),
              BeamSpotConfig(z0_max=70.0, estimate=False)),
    "tight": (DoubletConfig(min_pt=2.0, phi_tolerance=0.0, field_tesla=2.5),
              BeamSpotConfig(z0_max=30.0, doublet_z0_margin=20.0, estimate=False)),
    "d0": (DoubletConfig(), BeamSpotConfig(z0_max=50.0, estimate=False, d0_max=2.5)),
    # The low-pT passes: outer hits beyond the lowest pT's half turn (r > 2R = 500 mm) bound
    # the binned search differently (qtrack.model.doublets._outer_range).
    "low-pt": (DoubletConfig(min_pt=0.15), BeamSpotConfig(z0_max=200.0, estimate=False)),
    "displaced": (DoubletConfig(min_pt=0.4), BeamSpotConfig(z0_max=200.0, estimate=False,
                                                             d0_max=20.0)),
}


@pytest.mark.parametrize("wedge", ["middle", "across-pi"])
@pytest.mark.parametrize("cfg_name", list(DOUBLET_CONFIGS))
def test_doublets_match_pure_python_on_a_phi_wedge(event, cfg_name, wedge):
    cfg, bs = DOUBLET_CONFIGS[cfg_name]
    phi = event.phi
    mask = (phi > 0.3) & (phi < 0.9) if wedge == "middle" else np.abs(phi) > 2.75
    ev = _subset(event, mask)
    assert 200 < ev.n_hits < 450
    d = build_doublets(ev.x, ev.y, ev.z, ev.layer, ev.layers, cfg, bs)
    expected = brute_doublets(ev.x, ev.y, ev.z, _table_layer(ev), cfg, bs)
    assert len(expected) > 50
    got = _as_set(d)
    assert got == expected, (sorted(got - expected)[:5], sorted(expected - got)[:5])
    if wedge == "across-pi":
        # Doublets that cross the +-pi seam exist and are found.
        dphi = np.abs(ev.phi[d.outer] - ev.phi[d.inner])
        assert (dphi > np.pi).any()


@pytest.mark.parametrize("cfg_name", [c for c in DOUBLET_CONFIGS
                                      if c in ("default", "loose", "d0", "low-pt")])
def test_doublets_match_all_pairs_on_the_whole_event(event, cfg_name):
    cfg, bs = DOUBLET_CONFIGS[cfg_name]
    d = build_doublets(event.x, event.y, event.z, event.layer, event.layers, cfg, bs)
    expected = brute_doublets_numpy(event.x, event.y, event.z, _table_layer(event), cfg, bs)
    got = _as_set(d)
    assert got == expected, (sorted(got - expected)[:5], sorted(expected - got)[:5])
    assert len(got) > 3000


def test_doublets_are_sorted_and_point_outwards(event):
    d = build_doublets(event.x, event.y, event.z, event.layer, event.layers)
    # Sorted by inner hit (the triplet kernel walks the doublets leaving a hit as one range), then
    # by step, then by R-Z angle, as the Doublets docstring says.
    assert (np.diff(d.inner) >= 0).all()
    r, z = event.r, event.z
    angle = np.arctan2(z[d.outer] - z[d.inner], r[d.outer] - r[d.inner])
    same = d.inner[1:] == d.inner[:-1]
    assert (np.diff(d.step.astype(int))[same] >= 0).all()
    same &= d.step[1:] == d.step[:-1]
    assert (np.diff(angle)[same] >= 0).all()
    assert (d.step == 2).any()
    assert (r[d.outer] > r[d.inner]).all()


def test_doublets_do_not_depend_on_hit_order(event):
    perm = np.random.default_rng(3).permutation(event.n_hits)
    d0 = build_doublets(event.x, event.y, event.z, event.layer, event.layers)
    d1 = build_doublets(event.x[perm], event.y[perm], event.z[perm], event.layer[perm], event.layers)
    hid = event.hit_id
    a = set(zip(hid[d0.inner].tolist(), hid[d0.outer].tolist()))
    b = set(zip(hid[perm][d1.inner].tolist(), hid[perm][d1.outer].tolist()))
    assert a == b


def test_doublets_dense_event(dense_event):
    ev = dense_event
    d = build_doublets(ev.x, ev.y, ev.z, ev.layer, ev.layers, DoubletConfig(), _NARROW)
    assert _as_set(d) == brute_doublets_numpy(ev.x, ev.y, ev.z, _table_layer(ev), DoubletConfig(),
                                              _NARROW)


def test_doublets_empty_layers():
    # Hits on two layers only, far apart in phi: no doublet; no hits at all: no doublet.
    x = np.array([30.0, -70.0]); y = np.array([5.0, 10.0]); z = np.array([0.0, 0.0])
    layer = np.array([0, 1], dtype=np.int32)
    assert len(build_doublets(x, y, z, layer, TRACKML_BARREL)) == 0
    e = np.empty(0)
    assert len(build_doublets(e, e, e, np.empty(0, dtype=np.int32), TRACKML_BARREL)) == 0
    # Same phi: one doublet.
    x2 = np.array([30.0, 70.0]); y2 = np.array([1.0, 2.0])
    d = build_doublets(x2, y2, z, layer, TRACKML_BARREL)
    assert list(zip(d.inner, d.outer)) == [(0, 1)]


def test_bin_of_unbounded_ranges_and_single_hit_layers():
    from qtrack.model.kernels import bin_of

    # An unbounded search range clamps to the layer's bins ...
    assert bin_of(-np.inf, 10.0, 0.5, 16) == 0
    assert bin_of(np.inf, 10.0, 0.5, 16) == 15
    assert bin_of(13.0, 10.0, 0.5, 16) == 1
    # ... also on a layer whose hits share one along coordinate (no width: all in bin 0), where
    # inf * 0 is NaN: a pixel hit beside lone disk hits, whose disks it may reach at any radius.
    assert bin_of(-np.inf, 100.0, 0.0, 16) == 0
    assert bin_of(np.inf, 100.0, 0.0, 16) == 0
    x = np.array([30.0, 100.0]); y = np.array([1.0, 10.0]); z = np.array([0.0, -1500.0])
    layer = TRACKML.index_of(np.array([8, 7]), np.array([2, 2]))
    assert len(build_doublets(x, y, z, layer, TRACKML, DoubletConfig(),
                              BeamSpotConfig(z0_max=200.0, estimate=False))) == 0


# --------------------------------------------------------------------------------------------
# (2) Triplets
# --------------------------------------------------------------------------------------------

def ref_curvature(p0, p1, p2):
    """Signed Menger curvature, written as hepqpr-qallse's utils.curvature."""
    (x0, y0), (x1, y1), (x2, y2) = p0, p1, p2
    dx1, dy1 = x1 - x0, y1 - y0
    dx2, dy2 = x2 - x0, y2 - y0
    twice_area = dx1 * dy2 - dy1 * dx2
    return 2 * twice_area / (math.hypot(dx1, dy1) * math.hypot(x2 - x1, y2 - y1) * math.hypot(dx2, dy2))


def ref_angle_diff(a1, a2):
    d = abs(a2 - a1)
    return d if d <= math.pi else 2 * math.pi - d


def brute_triplets(ev: Event, d: Doublets, max_layer_gap: int, cfg: ModelConfig):
    """{(h1, h2, h3): (curvature, drz)} from doublet pairs sharing the middle hit."""
    x, y, z, r = ev.x.tolist(), ev.y.tolist(), ev.z.tolist(), ev.r.tolist()
    pairs = list(zip(d.inner.tolist(), d.outer.tolist()))
    step = {(a, b): brute_step(ev.layers, ev.layer[a], ev.layer[b], (r[a], z[a]), (r[b], z[b]))
            for a, b in pairs}
    starting = defaultdict(list)
    for a, b in pairs:
        starting[a].append(b)
    rz = {(a, b): math.atan2(z[b] - z[a], r[b] - r[a]) for a, b in pairs}
    out = {}
    for a, b in pairs:
        for c in starting[b]:
            if step[(a, b)] + step[(b, c)] > max_layer_gap + 1:
                continue
            curv = ref_curvature((x[a], y[a]), (x[b], y[b]), (x[c], y[c]))
            if abs(curv) > cfg.tplet_max_curv:
                continue
            drz = ref_angle_diff(rz[(a, b)], rz[(b, c)])
            if drz > cfg.tplet_max_drz:
                continue
            out[(a, b, c)] = (curv, drz)
    return out


#: The reference's model: its fixed quadruplet curvature cut (qtrack's default has no floor under
#: the resolution's width, which the brute-force reference below does not compute).
REFERENCE_MODEL = ModelConfig(qplet_max_dcurv=1e-4)

MODEL_CONFIGS = {
    "reference": (DoubletConfig(), REFERENCE_MODEL),
    "loose": (DoubletConfig(max_layer_gap=3), ModelConfig(tplet_max_curv=1.5e-3, tplet_max_drz=0.2,
                                                          qplet_max_dcurv=3e-4, qplet_max_strength=-0.1,
                                                          min_qplet_path=3, xy_relative_strength=0.3,
                                                          xy_power=2.0, rz_power=0.5, volayer_power=1.0)),
}


def _triplet_dict(t: Triplets):
    keys = list(zip(t.h1.tolist(), t.h2.tolist(), t.h3.tolist()))
    assert len(keys) == len(set(keys)), "duplicate triplets"
    return dict(zip(keys, zip(t.curvature.tolist(), t.drz.tolist())))


def _check_triplets(ev, dcfg, mcfg):
    d = build_doublets(ev.x, ev.y, ev.z, ev.layer, ev.layers, dcfg)
    t = build_triplets(ev.x, ev.y, ev.z, d, dcfg.max_layer_gap, mcfg)
    # Structure: d1/d2 index the doublets, hits follow from them, sorted by d1 (build_couplers needs it).
    np.testing.assert_array_equal(d.inner[t.d1], t.h1)
    np.testing.assert_array_equal(d.outer[t.d1], t.h2)
    np.testing.assert_array_equal(d.inner[t.d2], t.h2)
    np.testing.assert_array_equal(d.outer[t.d2], t.h3)
    assert (np.diff(t.d1) >= 0).all()
    got = _triplet_dict(t)
    expected = brute_triplets(ev, d, dcfg.max_layer_gap, mcfg)
    assert len(expected) > 100
    assert set(got) == set(expected), (sorted(set(got) - set(expected))[:5],
                                       sorted(set(expected) - set(got))[:5])
    for k, (curv, drz) in expected.items():
        assert abs(got[k][0] - curv) <= 1e-12, (k, got[k], curv)
        assert abs(got[k][1] - drz) <= 1e-12, (k, got[k], drz)
    return d, t


@pytest.mark.parametrize("cfg_name", list(MODEL_CONFIGS))
def test_triplets_match_reference(event, cfg_name):
    _check_triplets(event, *MODEL_CONFIGS[cfg_name])


def test_triplet_curvature_sign_and_value():
    # Three points on a circle of radius 1000 mm centred at (0, 1000): counter-clockwise seen from
    # the centre, so the reference's signed curvature is +1/1000; mirrored in y it is -1/1000.
    ang = np.array([-np.pi / 2, -np.pi / 2 + 0.05, -np.pi / 2 + 0.11])
    x = 1000 * np.cos(ang)
    y = 1000 + 1000 * np.sin(ang)
    z = np.zeros(3)
    d = Doublets(np.array([0, 1]), np.array([1, 2]), np.array([1, 1], dtype=np.int8))
    cfg = ModelConfig(tplet_max_curv=0.1)
    t = build_triplets(x, y, z, d, 2, cfg)
    assert len(t) == 1
    assert t.curvature[0] == pytest.approx(1e-3, rel=1e-9)
    t2 = build_triplets(x, -y, z, d, 2, cfg)
    assert t2.curvature[0] == pytest.approx(-1e-3, rel=1e-9)
    assert ref_curvature((x[0], y[0]), (x[1], y[1]), (x[2], y[2])) == pytest.approx(t.curvature[0], abs=1e-15)


# --------------------------------------------------------------------------------------------
# (3) Quadruplets, strength, max path; (4) conflicts
# --------------------------------------------------------------------------------------------

def ref_model(ev: Event, d: Doublets, t: Triplets, cfg: ModelConfig):
    """The reference's quadruplets, max-path filter and conflicts, as plain Python over hit tuples.

    Returns (all quadruplets, kept triplets {(h1, h2, h3)}, quadruplet couplers {(t1, t2): S},
    conflicts {frozenset({t1, t2})}).
    """
    r, z = ev.r.tolist(), ev.z.tolist()
    trip = list(zip(t.h1.tolist(), t.h2.tolist(), t.h3.tolist()))
    curv, drz = t.curvature.tolist(), t.drz.tolist()
    # t.outer in the reference: triplets whose first doublet is this triplet's second doublet.
    by_first_doublet = defaultdict(list)
    for k, (a, b, c) in enumerate(trip):
        by_first_doublet[(a, b)].append(k)
    quads = []
    for k1, (a, b, c) in enumerate(trip):
        for k2 in by_first_doublet[(b, c)]:
            dcurv = abs(curv[k1] - curv[k2])
            if dcurv > cfg.qplet_max_dcurv:
                continue
            xy_strength = 1 - (dcurv / cfg.qplet_max_dcurv) ** cfg.xy_power
            rz_strength = 1 - (max(drz[k1], drz[k2]) / cfg.tplet_max_drz) ** cfg.rz_power
            numerator = cfg.num_multiplier * (cfg.xy_relative_strength * xy_strength
                                              + (1 - cfg.xy_relative_strength) * rz_strength)
            hits = [a, b, c, trip[k2][2]]
            steps = sum(brute_step(ev.layers, ev.layer[p], ev.layer[q], (r[p], z[p]), (r[q], z[q]))
                        for p, q in zip(hits[:-1], hits[1:]))
            exceeding = steps - len(hits) + 1
            strength = numerator / (1 + exceeding) ** cfg.volayer_power
            if strength > cfg.qplet_max_strength:
                continue
            quads.append((k1, k2, strength))

    # QallseMp._find_max_path, literally (recursion over the quadruplet graph).
    inner = defaultdict(list)   # triplet -> quadruplets ending with it (t.inner)
    outer = defaultdict(list)   # triplet -> quadruplets starting with it (t.outer)
    for q, (k1, k2, _) in enumerate(quads):
        outer[k1].append(q)
        inner[k2].append(q)

    def find_max_path(q, direction=0):
        k1, k2, _ = quads[q]
        inner_length = outer_length = 0
        if direction <= 0 and inner[k1]:
            inner_length = max(find_max_path(p, -1) for p in inner[k1])
        if direction >= 0 and outer[k2]:
            outer_length = max(find_max_path(p, 1) for p in outer[k2])
        return 1 + inner_length + outer_length

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        kept_q = [q for q in quads if find_max_path(quads.index(q)) >= cfg.min_qplet_path]
    finally:
        sys.setrecursionlimit(limit)
    kept_t = {trip[k] for k1, k2, _ in kept_q for k in (k1, k2)}
    couplers = {(trip[k1], trip[k2]): s for k1, k2, s in kept_q}

    # Conflicts (QallseBase.to_qubo): per hit, every pair of distinct kept doublets ending there
    # (or starting there); every kept triplet holding the one against every one holding the other.
    holders = defaultdict(set)
    for tr in kept_t:
        holders[tr[:2]].add(tr)
        holders[tr[1:]].add(tr)
    inner_kept, outer_kept = defaultdict(set), defaultdict(set)
    for (a, b) in holders:
        outer_kept[a].add((a, b))
        inner_kept[b].add((a, b))
    conflicts = set()
    for hit in set(inner_kept) | set(outer_kept):
        for group in (inner_kept[hit], outer_kept[hit]):
            for d1, d2 in itertools.combinations(sorted(group), 2):
                for t1 in holders[d1]:
                    for t2 in holders[d2]:
                        if t1 != t2:
                            conflicts.add(frozenset((t1, t2)))
    return quads, kept_t, couplers, conflicts


def _model_sets(m: Model):
    t = m.triplets
    trip = list(zip(t.h1.tolist(), t.h2.tolist(), t.h3.tolist()))
    couplers = {}
    for i, j, s in zip(m.quad_t1.tolist(), m.quad_t2.tolist(), m.quad_strength.tolist()):
        assert (trip[i], trip[j]) not in couplers, "duplicate quadruplet coupler"
        couplers[(trip[i], trip[j])] = s
    pairs = list(zip(m.conflict_i.tolist(), m.conflict_j.tolist()))
    assert all(i < j for i, j in pairs), "conflicts must be (i < j)"
    assert len(pairs) == len(set(pairs)), "duplicate conflict couplers"
    conflicts = {frozenset((trip[i], trip[j])) for i, j in pairs}
    return set(trip), couplers, conflicts


def _check_model(ev, dcfg, mcfg):
    d, t = _check_triplets(ev, dcfg, mcfg)
    m = build_couplers(ev.x, ev.y, _order(ev), d, t, mcfg)
    quads, kept_t, couplers, conflicts = ref_model(ev, d, t, mcfg)
    assert m.n_triplets_all == len(t)
    assert m.n_quadruplets_all == len(quads)
    got_t, got_c, got_conf = _model_sets(m)
    assert len(kept_t) > 20 and len(conflicts) > 20
    assert got_t == kept_t, (sorted(got_t - kept_t)[:5], sorted(kept_t - got_t)[:5])
    assert set(got_c) == set(couplers)
    for k, s in couplers.items():
        assert abs(got_c[k] - s) <= 1e-12, (k, got_c[k], s)
        assert -1.0 - 1e-12 <= s <= mcfg.qplet_max_strength
    assert got_conf == conflicts, (len(got_conf - conflicts), len(conflicts - got_conf))
    # Quadruplet and conflict couplers never name the same pair.
    assert not {frozenset(k) for k in got_c} & got_conf
    return m


@pytest.mark.parametrize("cfg_name", list(MODEL_CONFIGS))
def test_model_matches_reference(event, cfg_name):
    m = _check_model(event, *MODEL_CONFIGS[cfg_name])
    assert m.n_variables > 300 and len(m.quad_t1) > 300 and len(m.conflict_i) > 300


def test_model_matches_reference_dense_event(dense_event, built):
    m = _check_model(dense_event, DoubletConfig(), REFERENCE_MODEL)
    # Denser than the shipped event: many more conflicts.
    assert len(m.conflict_i) > 3 * len(built.model.conflict_i)


@pytest.mark.parametrize("min_path", [1, 3, 5])
def test_max_path_threshold(event, min_path):
    _check_model(event, DoubletConfig(), REFERENCE_MODEL.replace(min_qplet_path=min_path))


def test_max_path_on_hand_made_chains():
    """Straight tracks along x: one of 5 hits (2 quadruplets, a chain), one of 4 (1 quadruplet, cut)."""
    radii = TRACKML_BARREL.position
    x = np.concatenate([radii[:5], radii[:4]])
    y = np.concatenate([np.zeros(5), np.full(4, 0.0)])
    y[5:] = x[5:] * 1e-9  # second track: collinear, slightly rotated (phi ~ 1e-9)
    x[5:] = -x[5:]  # and on the other side of the detector
    z = np.zeros(9)
    layer = np.concatenate([np.arange(5), np.arange(4)]).astype(np.int32)
    hits = pd.DataFrame({"hit_id": np.arange(9), "volume_id": [VOLAYERS[k][0] for k in layer],
                         "layer_id": [VOLAYERS[k][1] for k in layer]})
    ev = Event("toy", None, hits, None, None, np.arange(9), x, y, z, layer, TRACKML_BARREL)
    d = build_doublets(x, y, z, layer, TRACKML_BARREL)
    t = build_triplets(x, y, z, d, 2, REFERENCE_MODEL)
    m = build_couplers(x, y, _order(ev), d, t, REFERENCE_MODEL)
    trip = set(zip(m.triplets.h1.tolist(), m.triplets.h2.tolist(), m.triplets.h3.tolist()))
    # Only the 5-hit track keeps triplets; its quadruplet with no hole has the strongest coupling.
    assert trip >= {(0, 1, 2), (1, 2, 3), (2, 3, 4)}
    assert all(h < 5 for tr in trip for h in tr)
    assert m.n_quadruplets_all > len(m.quad_t1) >= 2
    strengths = dict(zip(zip(m.quad_t1.tolist(), m.quad_t2.tolist()), m.quad_strength.tolist()))
    assert min(strengths.values()) == pytest.approx(-1.0)
    _, kept_t, couplers, conflicts = ref_model(ev, d, t, REFERENCE_MODEL)
    got_t, got_c, got_conf = _model_sets(m)
    assert got_t == kept_t and got_c.keys() == couplers.keys() and got_conf == conflicts


# --------------------------------------------------------------------------------------------
# (5) QallseD0 impact weights
# --------------------------------------------------------------------------------------------

def ref_impact_weight(p, cfg: ModelConfig, z0_max: float) -> float:
    """One triplet's QallseD0 weight. ``p`` = [(x, y, z), ...] inner to outer."""
    (ax, ay, az), (bx, by, bz), (cx, cy, cz) = p
    # Circle centre: intersection of the perpendicular bisectors, solved relative to the first hit.
    ux, uy = bx - ax, by - ay
    vx, vy = cx - ax, cy - ay
    det = 2.0 * (ux * vy - uy * vx)
    if det == 0:
        d0 = 0.0
    else:
        u2, v2 = ux * ux + uy * uy, vx * vx + vy * vy
        ox = (vy * u2 - uy * v2) / det
        oy = (ux * v2 - vx * u2) / det
        radius = math.hypot(ox, oy)
        d0 = math.hypot(ax + ox, ay + oy) - radius
    ra, rb, rc = math.hypot(ax, ay), math.hypot(bx, by), math.hypot(cx, cy)
    doublets = []
    for (r1, z1), (r2, z2) in (((ra, az), (rb, bz)), ((rb, bz), (rc, cz))):
        dz, dr = z2 - z1, r2 - r1
        doublets.append((abs(z2 - dz / dr * r2), math.atan2(dz, dr)))
    z0_far, angle = max(doublets, key=lambda v: v[0])
    w = z0_max
    z0 = (max(z0_far, w) - w) * math.cos(angle)
    return (cfg.d0_factor * (1 - math.exp(-abs(d0) / cfg.d0_denom))
            + cfg.z0_factor * (1 - math.exp(-abs(z0) / cfg.z0_denom)))


@pytest.mark.parametrize("cfg,z0_max", [(ModelConfig(), 27.5),
                                        (ModelConfig(d0_factor=0.3, d0_denom=3.0, z0_factor=0.1,
                                                     z0_denom=1.0), 10.0)])
def test_impact_weights_match_per_triplet_python(event, built, cfg, z0_max):
    m = built.model
    t = m.triplets
    x, y, z = event.x, event.y, event.z
    got = impact_weights(x, y, z, m, cfg, z0_max)
    assert got.shape == (m.n_variables,)
    expected = np.array([ref_impact_weight([(x[h], y[h], z[h]) for h in (a, b, c)], cfg, z0_max)
                         for a, b, c in zip(t.h1, t.h2, t.h3)])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    assert expected.max() > 0.05  # some triplets are penalised: the comparison is not trivial
    # build_qubo adds them to the bias when asked to.
    bs = BeamSpotConfig(z0_max=z0_max)
    lin = build_qubo(x, y, z, m, ModelConfig(use_d0_weights=True, bias_weight=0.25), bs).linear
    np.testing.assert_allclose(lin, 0.25 + impact_weights(x, y, z, m, ModelConfig(), z0_max),
                               atol=1e-15)
    assert (build_qubo(x, y, z, m, ModelConfig()).linear == 0).all()


def _toy_model(h1, h2, h3):
    n = len(h1)
    zero = np.zeros(n)
    e = np.empty(0, dtype=np.int64)
    trip = Triplets(np.arange(n), np.arange(n), np.asarray(h1), np.asarray(h2), np.asarray(h3), zero, zero,
                    np.full(n, 2, dtype=np.int8), zero, zero)
    return Model(trip, e, e, np.empty(0), e, e, n, 0)


def test_impact_weights_known_geometry():
    cfg = ModelConfig()
    # Hits on a circle of centre (300, 400) (|c| = 500) and radius 497: d0 = 3 mm. z on the line
    # z = 10 + 2 r: z0 = 10 mm inside the luminous region, so only d0 contributes.
    ang = np.array([3.9, 3.6, 3.3])
    x = 300 + 497 * np.cos(ang)
    y = 400 + 497 * np.sin(ang)
    r = np.hypot(x, y)
    assert (np.diff(r) > 0).all()
    z = 10 + 2 * r
    w = impact_weights(x, y, z, _toy_model([0], [1], [2]), cfg, 27.5)
    assert w[0] == pytest.approx(0.5 * (1 - math.exp(-3.0)), rel=1e-9)
    # Move the line to z = 60 + 2 r: intercept 60 mm, 32.5 mm outside, times cos(atan(2)).
    z2 = 60 + 2 * r
    w2 = impact_weights(x, y, z2, _toy_model([0], [1], [2]), cfg, 27.5)
    z0 = 32.5 * math.cos(math.atan(2.0))
    assert w2[0] == pytest.approx(0.5 * (1 - math.exp(-3.0)) + 0.2 * (1 - math.exp(-z0 / 0.5)), rel=1e-9)
    # Negative intercept counts by its absolute value.
    z3 = -60 + 2 * r
    assert impact_weights(x, y, z3, _toy_model([0], [1], [2]), cfg, 27.5)[0] == pytest.approx(w2[0], rel=1e-9)


def test_impact_weights_straight_line_through_origin_is_free():
    x = np.array([30.0, 70.0, 110.0])
    y = 0.5 * x
    z = 0.3 * np.hypot(x, y)
    w = impact_weights(x, y, z, _toy_model([0], [1], [2]), ModelConfig(), 27.5)
    assert w[0] == pytest.approx(0.0, abs=1e-12)


# --------------------------------------------------------------------------------------------
# (6) Tracks
# --------------------------------------------------------------------------------------------

def _chain_triplets(chain):
    return [tuple(chain[k:k + 3]) for k in range(len(chain) - 2)]


def _tracks_as_lists(tracks, hit_id):
    return sorted(hit_id[tracks.hits[a:b]].tolist() for a, b in zip(tracks.ptr[:-1], tracks.ptr[1:]))


def _run_tracks(triplets, n_hits, hit_id=None, selected=None, min_hits=5):
    h1, h2, h3 = (np.array(v, dtype=np.int64) for v in zip(*triplets))
    hit_id = np.arange(n_hits) + 1000 if hit_id is None else hit_id
    sel = np.ones(len(h1), dtype=np.int8) if selected is None else np.asarray(selected)
    return build_tracks(h1, h2, h3, sel, hit_id, TrackConfig(min_hits=min_hits)), hit_id


def _check_one_hit_one_track(tracks, n_hits):
    assert len(np.unique(tracks.hits)) == len(tracks.hits)
    tid = tracks.track_of_hit(n_hits)
    assert (np.bincount(tid[tracks.hits]) [1:] == tracks.lengths()).all()


def test_tracks_fork_and_merge():
    # Fork at hit 3: 0-1-2-3 continues either to 4..9 (6 hits) or to 20..24 (5 hits).
    a = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    fork = [2, 3, 20, 21, 22, 23, 24]
    # Merge at hit 13: 10-11-12 (3 hits) and 30-31 (2 hits) both lead into 13-14-15-16-17.
    b = [10, 11, 12, 13, 14, 15, 16, 17]
    merge = [30, 31, 13, 14]
    # A short stand-alone track (4 hits) is dropped.
    short = [40, 41, 42, 43]
    trip = (_chain_triplets(a) + _chain_triplets(fork) + _chain_triplets(b) + _chain_triplets(merge)
            + _chain_triplets(short))
    tracks, hid = _run_tracks(trip, 50)
    _check_one_hit_one_track(tracks, 50)
    got = _tracks_as_lists(tracks, hid)
    expected = sorted([
        [1000 + h for h in a],                      # the fork goes to the longer branch
        [1000 + h for h in [20, 21, 22, 23, 24]],   # the other branch survives on its own (5 hits)
        [1000 + h for h in b],                      # the merge keeps the longer inner part
    ])
    assert got == expected
    # Doublets of the tracks are consecutive hits of the tracks.
    pairs = set(zip(tracks.doublet_inner.tolist(), tracks.doublet_outer.tolist()))
    expected_pairs = {(t[k] - 1000, t[k + 1] - 1000) for t in expected for k in range(len(t) - 1)}
    assert pairs == expected_pairs


def test_tracks_fork_toward_longer_branch_whatever_the_order():
    # Same fork, the longer branch has the larger hit ids and indices.
    a = [0, 1, 2, 3, 4, 5, 6]             # branch 4-5-6: 3 hits after the fork
    fork = [2, 3, 7, 8, 9, 10, 11]        # branch 7..11: 5 hits after the fork
    tracks, hid = _run_tracks(_chain_triplets(a) + _chain_triplets(fork), 12)
    assert _tracks_as_lists(tracks, hid) == [[1000 + h for h in [0, 1, 2, 3, 7, 8, 9, 10, 11]]]


def test_tracks_min_hits():
    chain = [0, 1, 2, 3, 4]
    tracks, hid = _run_tracks(_chain_triplets(chain), 5, min_hits=5)
    assert _tracks_as_lists(tracks, hid) == [[1000, 1001, 1002, 1003, 1004]]
    tracks, _ = _run_tracks(_chain_triplets(chain), 5, min_hits=6)
    assert len(tracks) == 0 and len(tracks.hits) == 0
    tracks, _ = _run_tracks(_chain_triplets(chain[:4]), 5, min_hits=5)
    assert len(tracks) == 0
    assert (tracks.track_of_hit(5) == 0).all()


def test_tracks_only_selected_triplets():
    chain = [0, 1, 2, 3, 4, 5]
    trip = _chain_triplets(chain)   # 4 triplets
    tracks, hid = _run_tracks(trip, 6, selected=[1, 1, 1, 0])
    # The last triplet (3, 4, 5) is not selected, but its doublets (3, 4) comes from (2, 3, 4).
    assert _tracks_as_lists(tracks, hid) == [[1000, 1001, 1002, 1003, 1004]]
    tracks, _ = _run_tracks(trip, 6, selected=[0, 0, 0, 0])
    assert len(tracks) == 0


def test_tracks_do_not_depend_on_hit_indices():
    a = [0, 1, 2, 3, 4, 5, 6, 7]
    fork = [2, 3, 8, 9, 10, 11, 12]       # equal-length branches after the fork (5 hits each)
    b = [13, 14, 15, 16, 17, 18]
    trip = _chain_triplets(a) + _chain_triplets(fork) + _chain_triplets(b)
    n = 19
    hid = np.random.default_rng(1).permutation(np.arange(500, 500 + n))
    ref, _ = _run_tracks(trip, n, hit_id=hid)
    ref_lists = _tracks_as_lists(ref, hid)
    assert len(ref_lists) == 2 and sum(map(len, ref_lists)) <= n
    perm = np.random.default_rng(2).permutation(n)      # new index of old hit k is perm[k]
    hid2 = np.empty(n, dtype=np.int64)
    hid2[perm] = hid
    trip2 = [tuple(perm[list(t)]) for t in trip][::-1]
    got, _ = _run_tracks(trip2, n, hit_id=hid2)
    assert _tracks_as_lists(got, hid2) == ref_lists


def test_tracks_on_truth_triplets_of_the_event(event, built):
    """Selecting the triplets of consecutive hits of a particle gives pure tracks, one per particle."""
    t = built.model.triplets
    pid = event.truth.set_index("hit_id").particle_id.loc[event.hit_id].to_numpy()
    nxt = {}
    for p, idx in pd.Series(np.arange(event.n_hits)).groupby(pid):
        if p == 0:
            continue
        idx = idx.to_numpy()[np.argsort(event.r[idx.to_numpy()])]
        nxt.update(zip(idx[:-1].tolist(), idx[1:].tolist()))
    consecutive = np.array([nxt.get(a) == b and nxt.get(b) == c
                            for a, b, c in zip(t.h1.tolist(), t.h2.tolist(), t.h3.tolist())])
    assert 100 < consecutive.sum() < len(t)
    tracks = build_tracks(t.h1, t.h2, t.h3, consecutive, event.hit_id)
    _check_one_hit_one_track(tracks, event.n_hits)
    assert len(tracks) > 20
    seen = set()
    for k in range(len(tracks)):
        hits = tracks.hits[tracks.ptr[k]:tracks.ptr[k + 1]]
        assert len(hits) >= 5
        assert len(set(pid[hits])) == 1
        seen.add(pid[hits[0]])
        assert (np.diff(event.r[hits]) > 0).all()   # inside out
        assert all(nxt[a] == b for a, b in zip(hits[:-1].tolist(), hits[1:].tolist()))
    assert len(seen) == len(tracks)   # no duplicates (no fork among consecutive triplets)


def test_csr_row_pointers():
    from qtrack.model.kernels import csr

    # Rows 0 and 2 hold keys, rows 1 and 3 none; a row's keys are keys[ptr[r]:ptr[r + 1]].
    np.testing.assert_array_equal(csr(np.array([0, 0, 2]), 4), [0, 2, 2, 3, 3])
    np.testing.assert_array_equal(csr(np.array([], dtype=np.int64), 2), [0, 0, 0])
    keys = np.sort(np.random.default_rng(3).integers(0, 50, 1000))
    np.testing.assert_array_equal(csr(keys, 60), np.searchsorted(keys, np.arange(61)))
