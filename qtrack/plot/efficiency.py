"""Efficiency and fake-rate curves versus pT and pseudorapidity."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .figure import FAKE_COLOR, add_note, new_figure, save_figure
from .tables import efficiency_tables


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
    c_foc, c_prim, c_fake = "#1f77b4", "#ff7f0e", FAKE_COLOR
    foc, prim = tables["eff_vs_pt_focused"], tables["eff_vs_pt_primaries"]
    n_foc, n_prim = int(foc.n.sum()), int(prim.n.sum())
    focus_label = (f"focused particles ({int(foc.k.sum())} of {n_foc} found): primaries, "
                   "$p_T \\geq$ 1 GeV, $\\geq$ 5 layers")

    ax = axs[0, 0]
    _rate_axis(ax, prim, f"primaries on $\\geq$ 5 layers, any $p_T$ ({int(prim.k.sum())} of "
               f"{n_prim} found)", c_prim, "s", offset=0.05, log=True)
    _rate_axis(ax, foc, focus_label, c_foc, "o", log=True)
    _count_axis(ax, [foc, prim], "particles per bin (steps)", [c_foc, c_prim])
    ax.set(xlabel="particle $p_T$ at production (GeV)", ylabel="efficiency",
           ylim=(-0.3, 1.1), xscale="log", title="efficiency vs $p_T$",
           yticks=np.linspace(0, 1, 6))
    ax.legend(loc="lower right", fontsize=9)

    ax = axs[0, 1]
    foc = tables["eff_vs_eta_focused"]
    _rate_axis(ax, foc, focus_label, c_foc, "o")
    _count_axis(ax, [foc], "particles per bin (steps)", [c_foc])
    ax.set(xlabel="particle pseudorapidity $\\eta$ at production", ylabel="efficiency",
           ylim=(-0.02, 1.1), title="efficiency vs $\\eta$")
    _eta_xlim(ax, [foc])
    ax.legend(loc="lower center", fontsize=9)

    t = tables["fake_vs_eta"]
    n_tracks = int(t.n.sum())
    tracks_label = f"tracks ($\\geq$ 3 hits; {int(t.k.sum())} fake of {n_tracks})"
    ax = axs[1, 0]
    _rate_axis(ax, t, tracks_label, c_fake, "D")
    _count_axis(ax, [t], "tracks per bin (steps)", [c_fake])
    ax.set(xlabel="track pseudorapidity $\\eta$ (line fit of z vs r)", ylabel="fake rate",
           ylim=(-0.02, 1.1), title="fake rate vs the track's fitted $\\eta$")
    _eta_xlim(ax, [t])
    ax.legend(loc="upper center", fontsize=9)

    t = tables["fake_vs_pt"]
    ax = axs[1, 1]
    _rate_axis(ax, t, tracks_label, c_fake, "D", log=True)
    _count_axis(ax, [t], "tracks per bin (steps)", [c_fake])
    ax.set(xlabel="track $p_T$ (GeV, circle fit in x-y, 2 T field)", ylabel="fake rate",
           ylim=(-0.02, 1.1), xscale="log", title="fake rate vs the track's fitted $p_T$")
    ax.legend(loc="upper left", fontsize=9)
    for ax in axs.ravel():
        ax.axhline(1.0, color="grey", lw=0.6, ls=":")
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"{event.name}: efficiency (found: a track holds > 50 % of the particle's "
                 "hits, > 50 % of its hits the particle's) and fake rate (no particle has > 50 % of "
                 "the track's hits)\nerror bars: Clopper-Pearson 68 %; steps: entries per bin "
                 "(right axis, log)", fontsize=11)
    add_note(fig, note)
    return save_figure(fig, path, dpi=dpi)
