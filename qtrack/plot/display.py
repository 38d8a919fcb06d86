"""The event display: hits and tracks in x-y (full and a zoom) and r-z."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .figure import FAKE_COLOR, HIT_COLOR, MISSED_COLOR, TRACK_COLORS, add_note, new_figure, save_figure
from .tables import _hit_frame


def classify_segments(event, track_id: np.ndarray) -> dict[str, np.ndarray]:
    """Hit-row index pairs (n, 2) of ``track`` segments (consecutive hits of a track by radius),
    ``fake`` ones (not consecutive hits of one particle; needs truth) and ``missed`` ones
    (consecutive hits of a focused particle, :mod:`qtrack.scoring`'s set, on no track; needs truth
    and production vertices), and the ids of the focused particles and of those ``found``."""
    from ..scoring import has_vertices, particle_table, rows_in, submission_doublets, true_doublets

    df = _hit_frame(event, track_id)
    hid, r = df.hit_id.to_numpy(), df.r.to_numpy()
    row = pd.Series(np.arange(len(hid)), index=hid)
    seg = submission_doublets(hid, r, df.track_id.to_numpy())
    none = np.zeros((0, 2), int)
    out = {"track": row.loc[seg.ravel()].to_numpy().reshape(-1, 2), "fake": none, "missed": none,
           "focused": np.zeros(0, np.int64), "found": np.zeros(0, np.int64)}
    if event.has_truth:
        pid = df.particle_id.to_numpy()
        focused = np.zeros(0, np.int64)
        if has_vertices(event.particles):
            parts = particle_table(event.hits, event.truth, event.particles, df.track_id.to_numpy())
            focused = parts.particle_id.to_numpy()[parts.focused.to_numpy()]
            out["focused"] = focused
            out["found"] = parts.particle_id.to_numpy()[(parts.focused & parts.found).to_numpy()]
        of_focused, of_others = true_doublets(hid, r, pid, np.isin(pid, focused).astype(float))
        fake = seg[~rows_in(seg, np.concatenate([of_focused, of_others]))]
        missed = of_focused[~rows_in(of_focused, seg)]
        out["fake"] = row.loc[fake.ravel()].to_numpy().reshape(-1, 2)
        out["missed"] = row.loc[missed.ravel()].to_numpy().reshape(-1, 2)
    return out


def _zoom_box(x, y, segs: np.ndarray, half: float = 200.0,
              default_phi: float = -np.pi / 2) -> tuple[float, float]:
    """Centre of a (2*half)^2 mm box at radius 350 mm holding the most fake/missed segments
    (pointing along ``default_phi`` when there are none)."""
    if len(segs) == 0:
        return float(350 * np.cos(default_phi)), float(350 * np.sin(default_phi))
    angles = np.linspace(-np.pi, np.pi, 48, endpoint=False)
    cx, cy = 350 * np.cos(angles), 350 * np.sin(angles)
    mx, my = x[segs].mean(axis=1), y[segs].mean(axis=1)
    counts = [np.sum((np.abs(mx - a) < half) & (np.abs(my - b) < half)) for a, b in zip(cx, cy)]
    k = int(np.argmax(counts))
    return float(cx[k]), float(cy[k])


def _in_sector(phi: np.ndarray, lo: float, width: float) -> np.ndarray:
    return np.mod(phi - lo, 2 * np.pi) < width


def draw_event_display(event, track_id: np.ndarray, path: str | Path, title: str | None = None,
                       dpi: int = 120, sector_deg: float | None = None,
                       sector_start_deg: float = 0.0, max_full_tracks: int = 200,
                       note: str | None = None) -> Path:
    """The event display PNG (see the module docstring).

    With more than ``max_full_tracks`` tracks (or when ``sector_deg`` is given) only a phi sector
    ``[sector_start_deg, sector_start_deg + sector_deg)`` is drawn (default 30 degrees): hits inside
    it, and tracks and segments whose inner hit is inside it.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    df = _hit_frame(event, track_id)
    x, y, z, r = (df[c].to_numpy(float) for c in ("x", "y", "z", "r"))
    tid = df.track_id.to_numpy()
    segs = classify_segments(event, track_id)
    uniq_all = np.unique(tid[tid != 0])
    if sector_deg is None and len(uniq_all) > max_full_tracks:
        sector_deg = 30.0
    phi = np.arctan2(y, x)
    if sector_deg is not None and sector_deg < 360:
        lo, width = np.deg2rad(sector_start_deg), np.deg2rad(sector_deg)
        show = _in_sector(phi, lo, width)
        segs |= {k: segs[k][show[segs[k][:, 0]]] for k in ("track", "fake", "missed")}
        shown_tracks = np.unique(tid[segs["track"][:, 0]]) if len(segs["track"]) else uniq_all[:0]
        show |= np.isin(tid, shown_tracks) & (tid != 0)
        where = (f"the sector {sector_start_deg:g}$\\degree$ $\\leq \\phi <$ "
                 f"{sector_start_deg + sector_deg:g}$\\degree$ ({len(shown_tracks)} of "
                 f"{len(uniq_all)} tracks, {int(show.sum())} of {len(df)} hits)")
    else:
        show = np.ones(len(df), dtype=bool)
        shown_tracks = uniq_all
        where = None
    tr = segs["track"]
    colors = np.array(TRACK_COLORS, dtype=object)
    seg_color = list(colors[np.searchsorted(uniq_all, tid[tr[:, 0]]) % len(colors)]) if len(tr) else []
    n_shown = int(show.sum())
    n_tracks = len(shown_tracks)
    dot = 3.0 if n_shown < 5000 else (1.5 if n_shown < 20000 else 0.5)
    lw = 1.2 if n_tracks < 200 else 0.7

    fig = new_figure(15, 11.5)
    gs = fig.add_gridspec(2, 2, height_ratios=[1.25, 1.0])
    ax_xy, ax_zoom, ax_rz = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 1]), fig.add_subplot(gs[1, :])
    free = (tid == 0) & show
    on = (tid != 0) & show
    half = 200.0
    mid_phi = float(np.angle(np.mean(np.exp(1j * phi[show])))) if show.any() else -np.pi / 2
    zx, zy = _zoom_box(x, y, np.concatenate([segs["fake"], segs["missed"]]), half, mid_phi)
    for ax, (u, v) in ((ax_xy, (x, y)), (ax_zoom, (x, y)), (ax_rz, (z, r))):
        zoom = ax is ax_zoom
        big = 4 if zoom else 1
        ax.scatter(u[free], v[free], s=dot * big, c=HIT_COLOR, lw=0, rasterized=True, zorder=1)
        ax.scatter(u[on], v[on], s=dot * big, c="#707070", lw=0, rasterized=True, zorder=2)
        pts = np.stack([u, v], axis=1)
        if len(tr):
            ax.add_collection(LineCollection(pts[tr], colors=seg_color, linewidths=lw * (1.6 if zoom else 1),
                                             zorder=3, rasterized=True))
        if len(segs["fake"]):
            ax.add_collection(LineCollection(pts[segs["fake"]], colors=FAKE_COLOR,
                                             linewidths=lw * (2.4 if zoom else 1.8), zorder=4,
                                             rasterized=True))
        if len(segs["missed"]):
            ax.add_collection(LineCollection(pts[segs["missed"]], colors=MISSED_COLOR,
                                             linewidths=lw * (1.6 if zoom else 1.2),
                                             linestyles=(0, (2, 1.5)), zorder=5, rasterized=True))
        ax.grid(alpha=0.25, lw=0.5)
    if where is None:
        lim = max(np.abs(x).max(), np.abs(y).max()) * 1.03
        ax_xy.set(xlim=(-lim, lim), ylim=(-lim, lim))
    else:
        pad = 30.0
        ax_xy.set(xlim=(x[show].min() - pad, x[show].max() + pad),
                  ylim=(y[show].min() - pad, y[show].max() + pad))
    ax_xy.set(aspect="equal", xlabel="x (mm)", ylabel="y (mm)", title="transverse plane (x-y)")
    ax_xy.add_patch(Rectangle((zx - half, zy - half), 2 * half, 2 * half, fill=False, ec="black",
                              lw=1.0, ls="--", zorder=6))
    ax_zoom.set(xlim=(zx - half, zx + half), ylim=(zy - half, zy + half), aspect="equal",
                xlabel="x (mm)", ylabel="y (mm)",
                title="zoom: the dashed box (400 mm square with the most fake + missed segments)")
    ax_rz.set(xlabel="z (mm)", ylabel="r = $\\sqrt{x^2+y^2}$ (mm)", title="longitudinal view (r-z)")
    z_lo, z_hi = z[show].min(), z[show].max()
    pad = 0.03 * max(z_hi - z_lo, 1.0)
    ax_rz.set_xlim(z_lo - pad, z_hi + pad)
    ax_rz.set_ylim(0, r[show].max() * 1.04)

    handles = [
        Line2D([], [], color=TRACK_COLORS[0], lw=2,
               label=f"found tracks: {n_tracks} (one colour per track, hits joined by radius)"),
        Line2D([], [], color=FAKE_COLOR, lw=2.5,
               label=f"fake segments: {len(segs['fake'])} (consecutive track hits not from one particle)"),
        Line2D([], [], color=MISSED_COLOR, lw=2, ls=(0, (2, 1.5)),
               label=f"missed segments: {len(segs['missed'])} (consecutive hits of a focused "
                     "particle on no track)"),
        Line2D([], [], color="#707070", marker="o", ls="", ms=4, label=f"hits on tracks: {int(on.sum())}"),
        Line2D([], [], color=HIT_COLOR, marker="o", ls="", ms=4,
               label=f"hits on no track: {int(free.sum())}"),
    ]
    if not len(segs["focused"]):
        del handles[2]
    if not event.has_truth:
        del handles[1]
    ax_rz.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=2, fontsize=10,
                 frameon=False)
    if title is None:
        title = f"{event.name}: {len(uniq_all)} tracks found among {len(df)} hits"
        if len(segs["focused"]):
            title += (f"; focused particles found: {len(segs['found'])} of "
                      f"{len(segs['focused'])}")
        if where:
            title += f"\nshowing {where}"
    fig.suptitle(title, fontsize=14)
    add_note(fig, note)
    return save_figure(fig, path, dpi=dpi)
