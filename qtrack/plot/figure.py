"""Figures on matplotlib's Agg canvas (no pyplot state, no backend switch), written atomically."""
from __future__ import annotations

from pathlib import Path

from ..io import atomic_open

FAKE_COLOR = "#d62728"
MISSED_COLOR = "black"
HIT_COLOR = "#c8c8c8"
#: Track colours: a qualitative palette without reds (fakes) and greys (free hits).
TRACK_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
                "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94", "#f7b6d2",
                "#dbdb8d", "#9edae5", "#393b79", "#637939", "#8c6d31", "#7b4173"]


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


def add_note(fig, note: str | None) -> None:
    """A small grey line at the bottom (e.g. how the numbers were measured)."""
    if note:
        fig.supxlabel(note, x=0.005, ha="left", fontsize=7, color="#606060")
