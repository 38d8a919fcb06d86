"""Simulated TrackML events with truth: Pythia8 (hard process and pile-up) + ACTS Fatras on the
generic detector (the TrackML geometry), smeared, with noise, written as TrackML files.

Needs ``pip install 'qtrack[sim]'`` (pyacts, pythia8mc, pyarrow); importing this package does
not import them. Stages, one module each: :mod:`.generate` -> :mod:`.fatras` ->
:mod:`.digitize` -> :mod:`.weights` -> :mod:`.write`; :func:`run` (in :mod:`.pipeline`) chains them over many events.
"""
from .config import SimulationConfig

__all__ = ["SimulationConfig", "run", "simulate_event"]


def __getattr__(name):
    # The stages import numpy, pandas and the simulation stack: only when first used.
    if name in ("run", "simulate_event"):
        import importlib

        return getattr(importlib.import_module(".pipeline", __name__), name)
    raise AttributeError(f"module 'qtrack.simulate' has no attribute {name!r}")
