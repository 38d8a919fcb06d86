"""Figures of a solved event: event display and efficiency / fake-rate curves.

``qtrack plot OUTDIR/<event>-summary.json`` (or ``--submission FILE --event PREFIX``) writes

* ``<event>-display.png``: the hits in x-y (full and a zoom) and r-z; found tracks as coloured lines
  through their hits (ordered by radius), *fake segments* (consecutive hits of a track that are not
  consecutive hits of one particle) in red, *missed segments* (consecutive hits of a focused
  particle, the reference's true doublets, that are on no track) as black dashes, hits on no track as
  light grey dots;
* ``<event>-efficiency.png``: track efficiency vs the particle's pT and pseudorapidity, and the fake
  rate vs the track's pseudorapidity and pT (fitted to its hits), with binomial (Clopper-Pearson
  68 %) error bars and the number of particles / tracks per bin.

Definitions follow :mod:`qtrack.scoring`: a track *matches* a particle when more than half of its
hits are that particle's and it holds more than half of that particle's hits; a track is *fake*
when no particle (noise excluded) holds more than half of its hits. Focused particles are those with
non-zero truth weight (pT >= 1 GeV and >= 5 hits in the reference's datasets).

matplotlib is imported only when a figure is drawn and only its Agg canvas is used (no pyplot, no
global backend switch). Figures are written atomically (temporary file, then rename).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np
import pandas as pd

from .errors import InputError, QtrackError
from .io import atomic_open

#: Magnetic field (T) used to turn a fitted radius into pT (TrackML: 2 T solenoid).
FIELD_TESLA = 2.0
_GEV_PER_TESLA_MM = 0.3e-3
FAKE_COLOR = "#d62728"
MISSED_COLOR = "black"
HIT_COLOR = "#c8c8c8"
#: Track colours: a qualitative palette without reds (fakes) and greys (free hits).
TRACK_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
                "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94", "#f7b6d2",
                "#dbdb8d", "#9edae5", "#393b79", "#637939", "#8c6d31", "#7b4173"]


# --------------------------------------------------------------------------------------------------
# Inputs


def load_submission(path: str | Path, event) -> np.ndarray:
    """Track id of every row of ``event.hits`` from a ``hit_id,track_id`` CSV (0 = no track)."""
    from .event import _read_csv

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: submission file not found")
    sub = _read_csv(path, ("hit_id", "track_id"), ("hit_id", "track_id"))
    s = pd.Series(sub.track_id.to_numpy(np.int64), index=sub.hit_id.to_numpy(np.int64))
    if s.index.duplicated().any():
        raise InputError(f"{path}: hit_id {s.index[s.index.duplicated()][0]} appears more than once")
    hid = event.hits.hit_id.to_numpy()
    missing = ~pd.Index(hid).isin(s.index)
    if missing.any():
        raise InputError(f"{path}: {int(missing.sum())} hit(s) of {event.name} missing, "
                         f"e.g. hit_id {hid[missing][0]}; is it the submission of this event?")
    return s.loc[hid].to_numpy()


def load_inputs(summary: str | Path | None = None, submission: str | Path | None = None,
                event: str | Path | None = None):
    """(event, track_id per hit row, default output directory) from a summary or submission+event."""
    from .event import load_event

    if summary is not None:
        summary = Path(summary)
        if not summary.exists():
            raise InputError(f"{summary}: summary file not found")
        try:
            data = json.loads(summary.read_text())
            ev_path, sub_name = data["event_path"], data["submission"]
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError(f"{summary}: not a JSON summary written by qtrack solve") from None
        except (KeyError, TypeError) as exc:
            raise InputError(f"{summary}: no {exc} field; expected a summary written by qtrack solve") from None
        ev_path = Path(ev_path)
        if not ev_path.is_absolute() and not _event_exists(ev_path):
            ev_path = summary.parent / ev_path
        if not _event_exists(ev_path):
            raise InputError(f"{summary}: its event {data['event_path']} (event_path) is not there")
        ev = load_event(ev_path)
        return ev, load_submission(summary.parent / sub_name, ev), summary.parent
    if submission is None or event is None:
        raise InputError("give a SUMMARY json, or both --submission FILE and --event PREFIX")
    ev = load_event(event)
    return ev, load_submission(submission, ev), Path(submission).parent


def _event_exists(prefix: Path) -> bool:
    from .event import _find, resolve_prefix

    try:
        return _find(resolve_prefix(prefix), "hits") is not None
    except QtrackError:
        return False


def _require_truth(event) -> None:
    if not event.has_truth:
        raise InputError(f"{event.prefix}-truth.csv: no truth for {event.name}; efficiency and "
                         "fake rates need it (use --what display)")


# --------------------------------------------------------------------------------------------------
# Per-particle and per-track tables


def _hit_frame(event, track_id: np.ndarray) -> pd.DataFrame:
    h = event.hits
    df = pd.DataFrame({"hit_id": h.hit_id.to_numpy(), "x": h.x.to_numpy(), "y": h.y.to_numpy(),
                       "z": h.z.to_numpy(), "track_id": np.asarray(track_id)})
    df["r"] = np.hypot(df.x, df.y)
    if event.has_truth:
        df["particle_id"] = event.truth.particle_id.to_numpy()
        df["weight"] = event.truth.weight.to_numpy(dtype=float)
    return df


def _track_majority(df: pd.DataFrame) -> pd.DataFrame:
    """Per track (track_id != 0): hits, majority particle (smallest id among ties) and its count."""
    on = df[df.track_id != 0]
    g = on.groupby(["track_id", "particle_id"], sort=True).size().rename("n").reset_index()
    g["nhits"] = g.groupby("track_id")["n"].transform("sum")
    g = g.sort_values(["track_id", "n", "particle_id"], ascending=[True, False, True], kind="stable")
    return g.drop_duplicates("track_id", keep="first").set_index("track_id")


def _momentum(event, df: pd.DataFrame) -> pd.DataFrame:
    """px, py, pz per particle: truth momentum at its innermost hit (tpx, tpy, tpz; the momentum
    the weights' pT cut uses), else the vertex momentum of particles.csv."""
    t = event.truth
    p = None
    if {"tpx", "tpy", "tpz"} <= set(t.columns):
        inner = pd.DataFrame({"particle_id": t.particle_id.to_numpy(), "r": df.r.to_numpy(),
                              "px": t.tpx.to_numpy(), "py": t.tpy.to_numpy(), "pz": t.tpz.to_numpy()})
        inner = inner[inner.particle_id != 0].sort_values("r", kind="stable")
        p = inner.drop_duplicates("particle_id").set_index("particle_id")[["px", "py", "pz"]]
    if event.particles is not None:
        vtx = event.particles.drop_duplicates("particle_id").set_index("particle_id")[["px", "py", "pz"]]
        p = vtx if p is None else p.combine_first(vtx)
    if p is None:
        raise InputError(f"{event.prefix}: no tpx,tpy,tpz in truth and no particles file: "
                         "cannot compute pT and eta")
    return p


def particle_table(event, track_id: np.ndarray) -> pd.DataFrame:
    """One row per particle with hits: nhits, weight, focused, pt (GeV), eta, matched (bool)."""
    _require_truth(event)
    df = _hit_frame(event, track_id)
    parts = df[df.particle_id != 0].groupby("particle_id").agg(nhits=("hit_id", "size"),
                                                                weight=("weight", "sum"))
    parts["focused"] = parts.weight > 0
    maj = _track_majority(df)
    pn = parts.nhits.reindex(maj.particle_id).to_numpy()
    good = (maj.n / maj.nhits > 0.5).to_numpy() & (maj.n.to_numpy() / np.where(np.isnan(pn), np.inf, pn) > 0.5)
    good &= maj.particle_id.to_numpy() != 0
    parts["matched"] = parts.index.isin(maj.particle_id[good])
    mom = _momentum(event, df).reindex(parts.index)
    pt = np.hypot(mom.px, mom.py).to_numpy()
    parts["pt"] = pt
    with np.errstate(divide="ignore", invalid="ignore"):
        parts["eta"] = np.arcsinh(mom.pz.to_numpy() / pt)
    return parts.reset_index()


def fit_tracks(df: pd.DataFrame, field_tesla: float = FIELD_TESLA) -> pd.DataFrame:
    """Per track of ``df`` (hit rows with x, y, z, r, track_id): eta from a straight-line fit of z
    vs r, pT from an algebraic (Kasa) circle fit in x-y, and the number of hits."""
    on = df[df.track_id != 0]
    tid, inv = np.unique(on.track_id.to_numpy(), return_inverse=True)
    x, y, z, r = (on[c].to_numpy(float) for c in ("x", "y", "z", "r"))
    n = np.bincount(inv).astype(float)

    def s(v):
        return np.bincount(inv, weights=v, minlength=len(tid))

    # z = z0 + cot(theta) * r, least squares
    sr, sz, srr, srz = s(r), s(z), s(r * r), s(r * z)
    with np.errstate(divide="ignore", invalid="ignore"):
        cot = (n * srz - sr * sz) / (n * srr - sr * sr)
    eta = np.arcsinh(np.nan_to_num(cot))
    # x^2 + y^2 + D x + E y + F = 0, least squares (normal equations, one 3x3 system per track)
    w = x * x + y * y
    a = np.empty((len(tid), 3, 3))
    b = np.empty((len(tid), 3))
    cols = (x, y, np.ones_like(x))
    for i in range(3):
        b[:, i] = -s(w * cols[i])
        for j in range(3):
            a[:, i, j] = s(cols[i] * cols[j])
    ok = np.abs(np.linalg.det(a)) > 1e-12
    sol = np.full((len(tid), 3), np.nan)
    sol[ok] = np.linalg.solve(a[ok], b[ok][..., None])[..., 0]
    radius = np.sqrt(np.clip(sol[:, 0] ** 2 / 4 + sol[:, 1] ** 2 / 4 - sol[:, 2], 0, None))
    pt = _GEV_PER_TESLA_MM * field_tesla * radius
    return pd.DataFrame({"track_id": tid, "nhits": n.astype(int), "eta": eta, "pt": pt})


def track_table(event, track_id: np.ndarray) -> pd.DataFrame:
    """One row per track: nhits, eta and pT fitted to its hits, majority particle, fake (bool)."""
    _require_truth(event)
    df = _hit_frame(event, track_id)
    t = fit_tracks(df).set_index("track_id")
    maj = _track_majority(df).reindex(t.index)
    t["particle_id"] = maj.particle_id
    t["fake"] = ~((maj.n / maj.nhits > 0.5) & (maj.particle_id != 0)).to_numpy()
    return t.reset_index()


def binomial_interval(k, n, cl: float = 0.6827):
    """Clopper-Pearson interval of k successes in n trials (arrays); NaN where n == 0."""
    from scipy.stats import beta

    k, n = np.asarray(k, float), np.asarray(n, float)
    alpha = 1 - cl
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(k > 0, beta.ppf(alpha / 2, k, n - k + 1), 0.0)
        hi = np.where(k < n, beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
    lo = np.where(n > 0, lo, np.nan)
    hi = np.where(n > 0, hi, np.nan)
    return lo, hi


def binned_rate(values: np.ndarray, passed: np.ndarray, edges: np.ndarray) -> pd.DataFrame:
    """Per bin of ``values``: n, k (passed), rate = k/n and its Clopper-Pearson 68 % interval."""
    values = np.asarray(values, float)
    passed = np.asarray(passed, bool)
    idx = np.digitize(values, edges) - 1
    inside = (idx >= 0) & (idx < len(edges) - 1) & np.isfinite(values)
    n = np.bincount(idx[inside], minlength=len(edges) - 1)
    k = np.bincount(idx[inside], weights=passed[inside], minlength=len(edges) - 1)
    lo, hi = binomial_interval(k, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, k / n, np.nan)
    return pd.DataFrame({"lo_edge": edges[:-1], "hi_edge": edges[1:], "n": n, "k": k.astype(int),
                         "rate": rate, "err_lo": lo, "err_hi": hi})


PT_EDGES = np.array([0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 100.0])


def eta_edges(n: int, eta_max: float = 4.0) -> np.ndarray:
    """Pseudorapidity bins: 0.25 wide with >= 200 entries, else 0.5."""
    width = 0.25 if n >= 200 else 0.5
    return np.arange(-eta_max, eta_max + width / 2, width)


def efficiency_tables(event, track_id: np.ndarray) -> dict[str, pd.DataFrame]:
    """The binned numbers behind the efficiency figure, keyed by curve name."""
    parts = particle_table(event, track_id)
    tracks = track_table(event, track_id)
    foc = parts[parts.focused]
    long = parts[parts.nhits >= 5]
    return {
        "eff_vs_pt_focused": binned_rate(foc.pt, foc.matched, PT_EDGES),
        "eff_vs_pt_all5": binned_rate(long.pt, long.matched, PT_EDGES),
        "eff_vs_eta_focused": binned_rate(foc.eta, foc.matched, eta_edges(len(foc))),
        "fake_vs_eta": binned_rate(tracks.eta, tracks.fake, eta_edges(len(tracks))),
        "fake_vs_pt": binned_rate(tracks.pt, tracks.fake, PT_EDGES),
    }


# --------------------------------------------------------------------------------------------------
# Drawing


def new_figure(width: float, height: float):
    """A matplotlib Figure on the Agg canvas (no pyplot state, no backend switch)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` as PNG atomically (temporary file in the same directory, then rename)."""
    path = Path(path)
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=dpi)
    return path


def _note(fig, note: str | None) -> None:
    """A small grey line at the bottom (e.g. how the numbers were measured)."""
    if note:
        fig.supxlabel(note, x=0.005, ha="left", fontsize=7, color="#606060")


def classify_segments(event, track_id: np.ndarray) -> dict[str, np.ndarray]:
    """Hit-row index pairs (n, 2) of ``track`` segments, ``fake`` ones (not consecutive hits of one
    particle) and ``missed`` true focused doublets on no track; fake/missed empty without truth."""
    from .scoring import rows_in, submission_doublets, true_doublets

    df = _hit_frame(event, track_id)
    hid = df.hit_id.to_numpy()
    row = pd.Series(np.arange(len(hid)), index=hid)
    seg = submission_doublets(hid, df.r.to_numpy(), df.track_id.to_numpy())
    out = {"track": row.loc[seg.ravel()].to_numpy().reshape(-1, 2),
           "fake": np.zeros((0, 2), int), "missed": np.zeros((0, 2), int)}
    if event.has_truth:
        focused, unfocused = true_doublets(hid, df.r.to_numpy(), df.particle_id.to_numpy(),
                                           df.weight.to_numpy())
        true_all = np.concatenate([focused, unfocused])
        fake = seg[~rows_in(seg, true_all)]
        missed = focused[~rows_in(focused, seg)]
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
        segs = {k: v[show[v[:, 0]]] for k, v in segs.items()}
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
               label=f"missed segments: {len(segs['missed'])} (true focused doublets on no track)"),
        Line2D([], [], color="#707070", marker="o", ls="", ms=4, label=f"hits on tracks: {int(on.sum())}"),
        Line2D([], [], color=HIT_COLOR, marker="o", ls="", ms=4,
               label=f"hits on no track: {int(free.sum())}"),
    ]
    if not event.has_truth:
        handles = [handles[0]] + handles[3:]
    ax_rz.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=2, fontsize=10,
                 frameon=False)
    if title is None:
        title = f"{event.name}: {len(uniq_all)} tracks found among {len(df)} hits"
        if where:
            title += f"\nshowing {where}"
    fig.suptitle(title, fontsize=14)
    _note(fig, note)
    return save_figure(fig, path, dpi=dpi)


def _rate_axis(ax, table: pd.DataFrame, label: str, color: str, marker: str = "o", offset: float = 0.0,
               log: bool = False):
    t = table[table.n > 0]
    if log:
        mid = np.sqrt(t.lo_edge * t.hi_edge) * (1 + offset)
    else:
        mid = (t.lo_edge + t.hi_edge) / 2 + offset
    ax.errorbar(mid, t.rate, yerr=[t.rate - t.err_lo, t.err_hi - t.rate],
                xerr=None, fmt=marker, color=color, ms=5, capsize=2, lw=1.2, label=label, zorder=3)


def _count_axis(ax, tables: list[pd.DataFrame], label: str, colors: list[str]):
    ax2 = ax.twinx()
    for t, c in zip(tables, colors):
        edges = np.concatenate([t.lo_edge.to_numpy(), t.hi_edge.to_numpy()[-1:]])
        ax2.stairs(t.n.to_numpy(), edges, color=c, alpha=0.35, lw=1.2, zorder=1)
    ax2.set_ylabel(label, color="#606060")
    ax2.tick_params(axis="y", colors="#606060")
    ax2.set_yscale("log")
    ax2.set_ylim(0.8, max(t.n.max() for t in tables) * 30)
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    return ax2


def _eta_xlim(ax, tables: list[pd.DataFrame]):
    used = [t[t.n > 0] for t in tables]
    lo = min(t.lo_edge.min() for t in used if len(t))
    hi = max(t.hi_edge.max() for t in used if len(t))
    ax.set_xlim(lo - 0.25, hi + 0.25)


def draw_efficiency(event, track_id: np.ndarray, path: str | Path, title: str | None = None,
                    dpi: int = 120, tables: dict | None = None, note: str | None = None) -> Path:
    """The efficiency / fake-rate PNG (see the module docstring)."""
    tables = tables or efficiency_tables(event, track_id)
    fig = new_figure(13, 9.5)
    axs = fig.subplots(2, 2)
    c_foc, c_all, c_fake = "#1f77b4", "#ff7f0e", FAKE_COLOR
    n_foc = int(tables["eff_vs_pt_focused"].n.sum())
    n_all = int(tables["eff_vs_pt_all5"].n.sum())
    focus_label = f"focused particles ({n_foc}): $p_T \\geq$ 1 GeV, $\\geq$ 5 hits"

    ax = axs[0, 0]
    foc, all5 = tables["eff_vs_pt_focused"], tables["eff_vs_pt_all5"]
    _rate_axis(ax, all5, f"all particles with $\\geq$ 5 hits ({n_all})", c_all, "s", offset=0.05, log=True)
    _rate_axis(ax, foc, focus_label, c_foc, "o", log=True)
    _count_axis(ax, [foc, all5], "particles per bin (steps)", [c_foc, c_all])
    ax.set(xlabel="particle $p_T$ at its innermost hit (GeV)", ylabel="track efficiency",
           ylim=(-0.3, 1.1), xscale="log", title="track efficiency vs $p_T$",
           yticks=np.linspace(0, 1, 6))
    ax.legend(loc="lower right", fontsize=9)

    ax = axs[0, 1]
    foc = tables["eff_vs_eta_focused"]
    _rate_axis(ax, foc, focus_label, c_foc, "o")
    _count_axis(ax, [foc], "particles per bin (steps)", [c_foc])
    ax.set(xlabel="particle pseudorapidity $\\eta$", ylabel="track efficiency", ylim=(-0.02, 1.1),
           title="track efficiency vs $\\eta$")
    _eta_xlim(ax, [foc])
    ax.legend(loc="lower center", fontsize=9)

    n_tracks = int(tables["fake_vs_eta"].n.sum())
    t = tables["fake_vs_eta"]
    ax = axs[1, 0]
    _rate_axis(ax, t, f"tracks ({n_tracks})", c_fake, "D")
    _count_axis(ax, [t], "tracks per bin (steps)", [c_fake])
    ax.set(xlabel="track pseudorapidity $\\eta$ (line fit of z vs r)", ylabel="fake rate",
           ylim=(-0.02, 1.1), title="fake rate vs the track's fitted $\\eta$")
    _eta_xlim(ax, [t])
    ax.legend(loc="upper center", fontsize=9)

    t = tables["fake_vs_pt"]
    ax = axs[1, 1]
    _rate_axis(ax, t, f"tracks ({n_tracks})", c_fake, "D", log=True)
    _count_axis(ax, [t], "tracks per bin (steps)", [c_fake])
    ax.set(xlabel="track $p_T$ (GeV, circle fit in x-y, 2 T field)", ylabel="fake rate",
           ylim=(-0.02, 1.1), xscale="log", title="fake rate vs the track's fitted $p_T$")
    ax.legend(loc="upper left", fontsize=9)
    for ax in axs.ravel():
        ax.axhline(1.0, color="grey", lw=0.6, ls=":")
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"{event.name}: track efficiency (track matches particle: > 50 % of the "
                 "track's hits and of the particle's hits) and fake rate (no particle has > 50 % of "
                 "the track's hits)\nerror bars: Clopper-Pearson 68 %; steps: entries per bin "
                 "(right axis, log)", fontsize=11)
    _note(fig, note)
    return save_figure(fig, path, dpi=dpi)


# --------------------------------------------------------------------------------------------------
# The command


def make_plots(event, track_id: np.ndarray, outdir: str | Path, what: str = "all",
               dpi: int = 120) -> list[Path]:
    """Write the requested figures for a solved event; returns their paths."""
    outdir = Path(outdir)
    if what in ("all", "efficiency"):
        _require_truth(event)
    paths = []
    if what in ("all", "display"):
        paths.append(draw_event_display(event, track_id, outdir / f"{event.name}-display.png", dpi=dpi))
    if what in ("all", "efficiency"):
        paths.append(draw_efficiency(event, track_id, outdir / f"{event.name}-efficiency.png", dpi=dpi))
    return paths


@click.command("plot")
@click.argument("summary", required=False, type=click.Path(dir_okay=False))
@click.option("--submission", type=click.Path(dir_okay=False),
              help="A hit_id,track_id CSV (instead of SUMMARY); needs --event.")
@click.option("--event", "event_path", help="Event prefix, hits file or directory (with --submission).")
@click.option("-o", "--outdir", type=click.Path(file_okay=False),
              help="Directory for the PNGs (default: next to SUMMARY or the submission).")
@click.option("--what", type=click.Choice(["all", "display", "efficiency"]), default="all",
              show_default=True, help="Which figures; efficiency needs truth.")
@click.option("--dpi", type=click.IntRange(50, 600), default=120, show_default=True)
def plot_command(summary, submission, event_path, outdir, what, dpi):
    """Draw a solved event: event display and efficiency / fake-rate curves.

    SUMMARY is OUTDIR/<event>-summary.json written by `qtrack solve` (its event and submission are
    found from it); or give --submission FILE --event PREFIX. Writes <event>-display.png and
    <event>-efficiency.png.
    """
    try:
        if summary is not None and (submission is not None or event_path is not None):
            raise InputError("give either SUMMARY or --submission/--event, not both")
        if summary is None and (submission is None or event_path is None):
            raise InputError("give a SUMMARY json, or both --submission FILE and --event PREFIX")
        event, track_id, default_dir = load_inputs(summary, submission, event_path)
        paths = make_plots(event, track_id, Path(outdir) if outdir else default_dir, what, dpi)
    except QtrackError as exc:
        click.echo(f"qtrack: error: {exc}", err=True)
        sys.exit(2)
    for p in paths:
        click.echo(str(p))


if __name__ == "__main__":
    plot_command()
