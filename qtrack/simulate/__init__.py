"""Simulated TrackML events with truth: Pythia8 (hard process and pile-up) + ACTS Fatras on the
generic detector (the TrackML geometry), smeared, with noise, written as TrackML files.

Needs ``pip install 'qtrack[sim]'`` (pyacts, pythia8mc, pyarrow); importing this package does
not import them. Stages, one module each: :mod:`.generate` -> :mod:`.fatras` ->
:mod:`.digitize` -> :mod:`.weights` -> :mod:`.write`; :func:`run` chains them over many events.
"""
from .config import SimulationConfig
from .run import run, simulate_event

__all__ = ["SimulationConfig", "run", "simulate_event"]
