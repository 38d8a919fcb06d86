"""The passes of iterative tracking: which pT, which origin constraint, which material.

:func:`passes_of` turns a :class:`~qtrack.config.Config` into its passes
(:class:`~qtrack.config.PassesConfig`); :func:`qtrack.pipeline.solve_built` runs them, each its own
QUBO on the hits the earlier passes' tracks left.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import Config


def radiation_lengths(layers, config: Config) -> np.ndarray:
    """Radiation lengths per layer the cuts allow for: ``model.layer_radiation_length``, or the
    sensors' silicon when it is 0."""
    if config.model.layer_radiation_length > 0:
        return np.full(len(layers), config.model.layer_radiation_length)
    return layers.radiation_lengths()


@dataclass(frozen=True)
class Pass:
    """One pass of the iterative tracking: its settings and the track origins it looks for."""

    config: Config
    #: Triplets must point back to the beam line (:func:`qtrack.model.triplets.d0_sigma`).
    from_beam_line: bool
    #: Tracks must meet the beam line inside the luminous region (r-z fit).
    from_luminous_region: bool


def passes_of(config: Config) -> list[Pass]:
    """The passes of a config, in order (:class:`qtrack.config.PassesConfig`).

    The first is ``config`` itself. Each ``passes.min_pts`` entry repeats it at that
    ``doublets.min_pt`` (the curvature cuts follow) for tracks from the beam line. The displaced
    pass (``passes.displaced_min_pt``) drops both origin constraints and opens the doublets' phi
    window for impact parameters up to ``passes.displaced_d0_max``.
    """
    first = config.replace(model={"layer_radiation_length":
                                  config.passes.first_layer_radiation_length})
    out = [Pass(first, config.passes.first_from_beam_line, True)]
    gap = {"max_layer_gap": config.passes.max_layer_gap}
    for pt in config.passes.min_pts:
        if pt < config.doublets.min_pt:
            out.append(Pass(config.replace(doublets={"min_pt": pt} | gap), True, True))
    if config.passes.displaced_min_pt > 0:
        out.append(Pass(config.replace(doublets={"min_pt": config.passes.displaced_min_pt} | gap,
                                       beamspot={"d0_max": config.passes.displaced_d0_max}),
                        False, False))
    return out
