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

from pathlib import Path

import numpy as np


def make_plots(event, track_id: np.ndarray, outdir: str | Path, what: str = "all",
               dpi: int = 120) -> list[Path]:
    """Write the requested figures for a solved event; returns their paths."""
    from .display import draw_event_display
    from .efficiency import draw_efficiency
    from .tables import _require_truth

    outdir = Path(outdir)
    if what in ("all", "efficiency"):
        _require_truth(event)
    paths = []
    if what in ("all", "display"):
        paths.append(draw_event_display(event, track_id, outdir / f"{event.name}-display.png", dpi=dpi))
    if what in ("all", "efficiency"):
        paths.append(draw_efficiency(event, track_id, outdir / f"{event.name}-efficiency.png", dpi=dpi))
    return paths
