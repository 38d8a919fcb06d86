"""Figures of a solved event: event display and efficiency / fake-rate curves.

``qtrack plot OUTDIR/<event>-summary.json`` (or ``--submission FILE --event PREFIX``) writes

* ``<event>-display.png``: the hits in x-y (full and a zoom) and r-z; found tracks as coloured lines
  through their hits (ordered by radius), *fake segments* (consecutive hits of a track that are not
  consecutive hits of one particle) in red, *missed segments* (consecutive hits of a focused
  particle that are on no track) as black dashes, hits on no track as light grey dots; the title
  gives the focused particles found;
* ``<event>-efficiency.png``: efficiency of the focused particles vs their pT and pseudorapidity
  at production (and of the primaries on >= 5 layers at any pT vs pT), and the fake rate vs the
  track's pseudorapidity and pT (fitted to its hits), with binomial (Clopper-Pearson 68 %) error
  bars and the number of particles / tracks per bin.

The sets, *found* and *fake* are :mod:`qtrack.scoring`'s, computed by its functions, so the
counts in the figures are those of the score table (``qtrack solve``, ``qtrack score``).

matplotlib is imported only when a figure is drawn and only its Agg canvas is used (no pyplot, no
global backend switch). Figures are written atomically (temporary file, then rename).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def make_plots(event, track_id: np.ndarray, outdir: str | Path, what: str = "all",
               dpi: int = 120) -> list[Path]:
    """Write the requested figures for a solved event; returns their paths."""
    from .display import draw_event_display
    from .efficiency import draw_efficiency
    from .tables import _require_truth, _require_vertices

    outdir = Path(outdir)
    if what in ("all", "efficiency"):
        _require_truth(event)
        _require_vertices(event)
    paths = []
    if what in ("all", "display"):
        paths.append(draw_event_display(event, track_id, outdir / f"{event.name}-display.png", dpi=dpi))
    if what in ("all", "efficiency"):
        paths.append(draw_efficiency(event, track_id, outdir / f"{event.name}-efficiency.png", dpi=dpi))
    return paths
