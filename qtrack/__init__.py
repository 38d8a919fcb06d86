"""qtrack: charged-particle track finding as a QUBO, solved by annealing.

The pipeline, stage by stage: :func:`load_event` -> :func:`build` (doublets, triplets,
quadruplets, conflicts, QUBO) -> :func:`solve_built` (sampler, tracks, scores). :func:`solve` does
it all.
"""
__version__ = "0.1.0"

from .config import Config  # noqa: E402
from .event import Event, load_event  # noqa: E402
from .pipeline import Built, Result, build, solve, solve_built, write_outputs  # noqa: E402

__all__ = ["Config", "Event", "load_event", "Built", "Result", "build", "solve", "solve_built",
           "write_outputs", "__version__"]
