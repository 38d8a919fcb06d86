"""The passes of iterative tracking: which pT, which origin constraint, which material.

:func:`passes_of` turns a :class:`~qtrack.config.Config` into its passes
(:class:`~qtrack.config.PassesConfig`); :func:`qtrack.pipeline.solve_built` runs them, each its own
QUBO on the hits the earlier passes' tracks left.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import Config


def radiation_lengths(layers, config: Config, per_layer: float | None = None) -> np.ndarray:
    """Radiation lengths per layer the cuts allow for: ``per_layer`` if given, else
    ``model.layer_radiation_length``; the sensors' silicon when that is 0."""
    value = config.model.layer_radiation_length if per_layer is None else per_layer
    if value > 0:
        return np.full(len(layers), value)
    return layers.radiation_lengths()


@dataclass(frozen=True)
class Pass:
    """One pass of the iterative tracking: its settings and the track origins it looks for."""

    config: Config
    #: Triplets must point back to the beam line (:func:`qtrack.model.triplets.d0_sigma`).
    from_beam_line: bool
    #: Tracks must meet the beam line inside the luminous region (r-z fit).
    from_luminous_region: bool
    #: Material (X0 per layer) the triplet cuts allow for (None: ``model.layer_radiation_length``,
    #: which the quadruplets and the quality cuts always take).
    triplet_radiation_length: float | None = None


def passes_of(config: Config) -> list[Pass]:
    """The passes of a config, in order (:class:`qtrack.config.PassesConfig`).

    The first is ``config`` itself. Each ``passes.min_pts`` entry repeats it at that
    ``doublets.min_pt`` (the curvature cuts follow) for tracks from the beam line. The displaced
    pass (``passes.displaced_min_pt``) drops both origin constraints and opens the doublets' phi
    window for impact parameters up to ``passes.displaced_d0_max``; a softer one
    (``passes.soft_displaced_min_pt``) follows it, its tracks longer.
    """
    out = [Pass(config, config.passes.first_from_beam_line, True,
                config.passes.first_layer_radiation_length)]
    gap = {"max_layer_gap": config.passes.max_layer_gap}
    for pt in config.passes.min_pts:
        if pt < config.doublets.min_pt:
            out.append(Pass(config.replace(doublets={"min_pt": pt} | gap), True, True))
    displaced = {"d0_max": config.passes.displaced_d0_max}
    if config.passes.displaced_min_pt > 0:
        out.append(Pass(config.replace(doublets={"min_pt": config.passes.displaced_min_pt} | gap,
                                       beamspot=displaced), False, False))
        soft = config.passes.soft_displaced_min_pt
        if 0 < soft < config.passes.displaced_min_pt:
            out.append(Pass(config.replace(
                doublets={"min_pt": soft} | gap, beamspot=displaced,
                tracks={"min_hits": config.passes.soft_displaced_min_hits}), False, False))
    return out
