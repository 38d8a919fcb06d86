"""The detector layers and which layer can follow which along a track.

A :class:`LayerTable` row is one layer: (volume_id, layer_id, kind, position, extents). ``kind`` is
``"barrel"`` (position = mean module radius, mm) or ``"disk"`` (position = mean module z, signed,
mm); the extents (r_min, r_max, z_min, z_max) bound the layer's sensitive surface. The table comes
from the event's ``detectors.csv`` (:func:`layers_from_detectors`) or is :data:`TRACKML`, the
nominal TrackML detector (nine volumes, 48 layers).

A :class:`LayerGraph` says which layer pairs a doublet may join and how many layer steps each pair
is (1 = consecutive, 2 = one layer missed, ...). It is made from the geometry
(:func:`layer_graph`): helices of every direction, from every point of the luminous region, at the
lowest pT seeded and at infinite pT, are followed through the layer surfaces; two layers are
joined when one of these trajectories crosses the second within ``max_layer_gap`` layers after the
first. "Inner"/"outer" is the order along the track from the beam line: radius in the barrel,
|z| on the disks, whichever the trajectory meets first.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: Volumes of the TrackML detector that are barrels (the others are endcap disks).
BARREL_VOLUMES = (8, 13, 17)
#: Radiation length of silicon (mm), PDG "Atomic and nuclear properties of materials".
SILICON_X0_MM = 93.7


@dataclass(frozen=True, eq=False)
class LayerTable:
    volume_id: np.ndarray
    layer_id: np.ndarray
    kind: tuple[str, ...]
    position: np.ndarray
    r_min: np.ndarray
    r_max: np.ndarray
    z_min: np.ndarray
    z_max: np.ndarray
    #: Read-out pitch (mm) across the strips (r-phi) and along them (z on barrel layers, r on
    #: disks), and the sensor thickness (mm): the layer's modules in ``detectors.csv``
    #: (``pitch_u``, ``pitch_v``, ``module_t``).
    pitch_across: np.ndarray
    pitch_along: np.ndarray
    thickness: np.ndarray

    def __len__(self) -> int:
        return len(self.volume_id)

    @property
    def is_disk(self) -> np.ndarray:
        return np.array([k == "disk" for k in self.kind], dtype=bool)

    def index_of(self, volume_id: np.ndarray, layer_id: np.ndarray) -> np.ndarray:
        """Layer index of every hit, -1 for hits on layers outside the table."""
        key = volume_id.astype(np.int64) * 1000 + layer_id.astype(np.int64)
        table_key = self.volume_id.astype(np.int64) * 1000 + self.layer_id.astype(np.int64)
        order = np.argsort(table_key)
        pos = np.searchsorted(table_key[order], key)
        pos = np.clip(pos, 0, len(order) - 1)
        found = table_key[order][pos] == key
        return np.where(found, order[pos], -1).astype(np.int32)

    def key(self) -> bytes:
        """The table's content, to cache what is derived from it."""
        return b"".join(np.ascontiguousarray(a, dtype=np.float64).tobytes() for a in (
            self.volume_id, self.layer_id, self.position, self.r_min, self.r_max, self.z_min,
            self.z_max, self.pitch_across, self.pitch_along, self.thickness)) + \
            ",".join(self.kind).encode()

    @property
    def is_pixel(self) -> np.ndarray:
        """Layers read out in two dimensions (pixels: the pitch along no more than twice the
        pitch across; TrackML's are 0.05 x 0.05 mm, its strips 0.08 x 1.2 and 0.12 x 10.8 mm)."""
        return self.pitch_along <= 2.0 * self.pitch_across

    def resolution(self) -> tuple[np.ndarray, np.ndarray]:
        """Hit resolution (mm) of each layer, pitch / sqrt(12) (a uniform distribution over one
        read-out cell): across the strips (r-phi) and along them (z on barrel layers, r on
        disks)."""
        return self.pitch_across / np.sqrt(12.0), self.pitch_along / np.sqrt(12.0)

    def radiation_lengths(self) -> np.ndarray:
        """Thickness of each layer's sensors in radiation lengths at normal incidence: silicon,
        X0 = 93.7 mm (PDG). The simulation (ACTS Fatras in the generic detector) puts its
        material there; a real detector adds supports and services, which
        ``model.tplet_drz_floor`` and ``tracks.rz_chi2_floor`` stand for."""
        return self.thickness / SILICON_X0_MM

    def take(self, rows) -> "LayerTable":
        rows = np.asarray(rows)
        return LayerTable(self.volume_id[rows], self.layer_id[rows],
                          tuple(self.kind[i] for i in rows), self.position[rows], self.r_min[rows],
                          self.r_max[rows], self.z_min[rows], self.z_max[rows],
                          self.pitch_across[rows], self.pitch_along[rows], self.thickness[rows])


def _table(rows) -> LayerTable:
    rows = sorted(rows)
    a = list(zip(*rows))
    return LayerTable(np.array(a[0], dtype=np.int32), np.array(a[1], dtype=np.int32), tuple(a[2]),
                      *(np.array(c, dtype=np.float64) for c in a[3:]))


def layers_from_detectors(detectors: pd.DataFrame) -> LayerTable:
    """The layer table of a TrackML ``detectors.csv`` (one row per module).

    Barrel modules are planes at distance ``r`` from the beam line: a hit at ``u`` from the module
    centre lies at radius sqrt(r^2 + u^2). Disk modules extend ``module_hv`` radially.
    """
    need = ("volume_id", "layer_id", "cx", "cy", "cz", "module_t", "module_maxhu", "module_hv",
            "pitch_u", "pitch_v")
    missing = [c for c in need if c not in detectors.columns]
    if missing:
        raise ValueError(f"missing column(s) {', '.join(missing)}")
    d = detectors.assign(rc=np.hypot(detectors.cx, detectors.cy))
    rows = []
    for (vol, lay), m in d.groupby(["volume_id", "layer_id"], sort=True):
        hu, hv, t = m.module_maxhu.max(), m.module_hv.max(), m.module_t.max()
        # The coarsest module of the layer sets its resolution.
        sensor = (float(m.pitch_u.max()), float(m.pitch_v.max()), float(t))
        if int(vol) in BARREL_VOLUMES:
            rows.append((int(vol), int(lay), "barrel", m.rc.mean(), m.rc.min() - t,
                         float(np.hypot(m.rc.max() + t, hu)), m.cz.min() - hv, m.cz.max() + hv)
                        + sensor)
        else:
            rows.append((int(vol), int(lay), "disk", m.cz.mean(), max(m.rc.min() - hv, 0.0),
                         float(np.hypot(m.rc.max() + hv, hu)), m.cz.min() - t, m.cz.max() + t)
                        + sensor)
    return _table(rows)


def read_detectors(path: str | Path) -> LayerTable:
    """:func:`layers_from_detectors` of a ``detectors.csv[.gz]`` file."""
    return layers_from_detectors(pd.read_csv(path))


def strip_tilts(x: np.ndarray, y: np.ndarray, volume_id: np.ndarray, layer_id: np.ndarray,
                module_id: np.ndarray, detectors: pd.DataFrame) -> np.ndarray:
    """Per hit, the angle (rad) from its radius to the direction of its disk module's strips.

    A disk module's strips are parallel to its ``v`` axis (``rot_xv``, ``rot_yv``), which
    points along the radius through the module's centre: a hit a distance u off that centre
    line sees them tilted by about u / r. On the TrackML outer-strip disks (modules 144 mm wide at
    r = 830 mm) that reaches 0.09 rad, so a 10.8 mm strip moves the hit by up to 0.9 mm across a
    radial track. 0 on barrel modules and on modules ``detectors`` does not list.
    """
    need = ("volume_id", "layer_id", "module_id", "rot_xv", "rot_yv")
    if any(c not in detectors.columns for c in need):
        return np.zeros(len(x))
    d = detectors[~detectors.volume_id.isin(BARREL_VOLUMES)]
    key = (d.volume_id.to_numpy(np.int64) * 100000 + d.layer_id.to_numpy(np.int64)) * 1000000 \
        + d.module_id.to_numpy(np.int64)
    hit_key = (volume_id.astype(np.int64) * 100000 + layer_id.astype(np.int64)) * 1000000 \
        + module_id.astype(np.int64)
    order = np.argsort(key)
    pos = np.clip(np.searchsorted(key[order], hit_key), 0, max(len(order) - 1, 0))
    tilt = np.zeros(len(x))
    if not len(order):
        return tilt
    found = key[order][pos] == hit_key
    row = order[pos[found]]
    vx, vy = d.rot_xv.to_numpy(float)[row], d.rot_yv.to_numpy(float)[row]
    xs, ys = x[found], y[found]
    # The strip is a line: its direction counts modulo pi, so the tilt lies in [-pi/2, pi/2].
    radial, across = xs * vx + ys * vy, xs * vy - ys * vx
    sign = np.where(radial < 0, -1.0, 1.0)
    tilt[found] = np.arctan2(sign * across, sign * radial)
    return tilt


def _trackml() -> LayerTable:
    """The nominal TrackML detector: layer positions, module sizes, pitches and thicknesses of
    its detectors.csv (pixels 0.05 x 0.05 mm, short strips 0.08 x 1.2 mm, long strips
    0.12 x 10.8 mm)."""
    rows = []
    sensor = {8: (0.05, 0.05, 0.15), 13: (0.08, 1.2, 0.25), 17: (0.12, 10.8, 0.35)}
    # (volume, radii): barrel layers, modules of half-length hv along z out to |z| = z_out.
    for vol, radii, z_out, hu, t in ((8, (32, 72, 116, 172), 455 + 36, 8.4, 0.15),
                                     (13, (260, 360, 500, 660), 1030 + 54, 24, 0.25),
                                     (17, (820, 1020), 1030 + 54, 24, 0.35)):
        for k, r in enumerate(radii):
            rows.append((vol, 2 * (k + 1), "barrel", float(r), r - 1.5 - t,
                         float(np.hypot(r + 1.5 + t, hu)), -z_out, z_out) + sensor[vol])
    # (volume -z, volume +z, |z| of the disks inside out, module centre radii, hv, hu, stagger, t)
    pixel = (600, 700, 820, 960, 1100, 1300, 1500)
    strips = (1220, 1500, 1800, 2150, 2550, 2950)
    for vneg, vpos, zs, (rc0, rc1), hv, hu, dz, t in (
            (7, 9, pixel, (66, 140), 36, 8.4, 2.5, 0.15),
            (12, 14, strips, (318, 622), 78, 40, 4.5, 0.25),
            (16, 18, strips, (828, 942), 78, 72, 5.5, 0.35)):
        n = len(zs)
        for k, z in enumerate(zs):
            for vol, sign, lay in ((vneg, -1, 2 * (n - k)), (vpos, 1, 2 * (k + 1))):
                rows.append((vol, lay, "disk", float(sign * z), rc0 - hv, float(np.hypot(rc1 + hv, hu)),
                             sign * z - dz - t, sign * z + dz + t) + sensor[vpos - 1])
    return _table(rows)


#: The TrackML detector (all nine volumes), used when an event comes without a detectors file.
TRACKML = _trackml()
#: Its barrel part (volumes 8, 13, 17), innermost first.
TRACKML_BARREL = TRACKML.take(np.flatnonzero(~TRACKML.is_disk)[np.argsort(
    TRACKML.position[~TRACKML.is_disk])])


@dataclass(frozen=True, eq=False)
class LayerGraph:
    """Which layer may follow which along a track.

    ``step[a, b]`` is the fewest layer steps from ``a`` to ``b`` on any trajectory through both (0:
    never, or ``b`` not after ``a``); ``order`` is a topological order (every allowed pair goes
    from a lower to a higher ``order``), checked when the graph is made.
    """

    step: np.ndarray
    order: np.ndarray

    def pairs(self, max_layer_gap: int) -> np.ndarray:
        """(inner, outer) layer-index pairs a doublet may join, shape (n_pairs, 2)."""
        s = self.step
        return np.argwhere((s > 0) & (s <= max_layer_gap)).astype(np.int32).reshape(-1, 2)

    def between(self, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each pair (a, b), the layers m some track may cross between them (a -> m -> b),
        as CSR (pointers, layer indices)."""
        s = self.step > 0
        lists = [np.flatnonzero(s[a] & s[:, b]) for a, b in pairs]
        ptr = np.concatenate([[0], np.cumsum([len(m) for m in lists])]).astype(np.int64)
        flat = np.concatenate(lists).astype(np.int64) if lists else np.zeros(0, np.int64)
        return ptr, flat


def _crossings(table: LayerTable, z0: np.ndarray, cot: np.ndarray, radius: float) -> np.ndarray:
    """Transverse path length at which each trajectory crosses each layer (inf: it does not).

    A helix from (r=0, z=z0) with transverse radius ``radius`` (inf: a straight line) and
    cot(theta) = ``cot``: z = z0 + s * cot, r = 2 R sin(s / 2R). Only the first half turn counts
    (r growing), as for every track from the luminous region inside the detector.
    """
    pos = table.position[None, :]
    z0, cot = z0[:, None], cot[:, None]
    barrel = ~table.is_disk[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.isinf(radius):
            s_barrel = np.broadcast_to(pos, (len(z0), len(table)))
            s_disk = (pos - z0) / cot
            r_disk = s_disk
        else:
            ratio = np.clip(pos / (2 * radius), -1, 1)
            s_barrel = np.where(pos < 2 * radius, 2 * radius * np.arcsin(ratio), np.inf)
            s_disk = (pos - z0) / cot
            arg = s_disk / (2 * radius)
            r_disk = np.where(arg <= np.pi / 2, 2 * radius * np.sin(np.minimum(arg, np.pi / 2)),
                              np.inf)
        z_barrel = z0 + s_barrel * cot
        hit_barrel = barrel & (z_barrel >= table.z_min) & (z_barrel <= table.z_max) & np.isfinite(s_barrel)
        hit_disk = ~barrel & (s_disk > 0) & (r_disk >= table.r_min) & (r_disk <= table.r_max)
    return np.where(hit_barrel, s_barrel, np.where(hit_disk, s_disk, np.inf))


_GRAPHS: dict = {}


def _graph(table: LayerTable, max_layer_gap: int, z0_max: float, eta_max: float,
           min_radius: float) -> LayerGraph:
    n = len(table)
    big = max_layer_gap + 1
    best = np.full((n, n), big, dtype=np.int64)
    eta = np.linspace(-eta_max, eta_max, 2001)
    cot = np.sinh(eta)
    for z0 in np.linspace(-z0_max, z0_max, 11):
        for radius in (min_radius, 2 * min_radius, np.inf):
            s = _crossings(table, np.full_like(cot, z0), cot, radius)
            order = np.argsort(s, axis=1)
            crossed = np.isfinite(np.take_along_axis(s, order, axis=1))
            for k in range(1, max_layer_gap + 1):
                ok = crossed[:, k:] & crossed[:, :-k]
                code = np.unique(order[:, :-k][ok] * n + order[:, k:][ok])
                best.flat[code] = np.minimum(best.flat[code], k)
    step = np.where(best < big, best, 0)
    np.fill_diagonal(step, 0)
    order = _topological_order(step, table)
    return LayerGraph(step.astype(np.int8), order)


def _topological_order(step: np.ndarray, table: LayerTable) -> np.ndarray:
    """Rank of every layer in an order that every allowed pair follows (Kahn's algorithm; ties by
    distance from the interaction point). A cycle is qtrack's own bug: the geometry is wrong."""
    n = len(step)
    indeg = (step > 0).sum(axis=0)
    dist = np.where(table.is_disk, np.abs(table.position), table.position)
    rank = np.full(n, -1, dtype=np.int64)
    ready = [i for i in range(n) if indeg[i] == 0]
    k = 0
    while ready:
        ready.sort(key=lambda i: dist[i])
        i = ready.pop(0)
        rank[i] = k
        k += 1
        for j in np.flatnonzero(step[i] > 0):
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(int(j))
    if k != n:
        raise RuntimeError("the layer graph has a cycle: layers cannot be ordered along tracks")
    return rank.astype(np.int32)


def layer_graph(table: LayerTable, max_layer_gap: int = 2, z0_max: float = 200.0,
                eta_max: float = 4.0, min_pt: float = 0.5, field_tesla: float = 2.0) -> LayerGraph:
    """The layer graph of ``table`` for tracks from |z0| <= ``z0_max`` (mm), |eta| <= ``eta_max``
    and pT >= ``min_pt`` (GeV) in a field of ``field_tesla``."""
    min_radius = min_pt / (0.3e-3 * field_tesla)
    params = (int(max_layer_gap), float(z0_max), float(eta_max), float(min_radius))
    key = (table.key(), params)
    if key not in _GRAPHS:
        _GRAPHS[key] = _graph(table, *params)
    return _GRAPHS[key]
