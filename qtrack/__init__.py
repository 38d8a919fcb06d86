"""qtrack: charged-particle track finding as a QUBO, solved by annealing.

The pipeline, stage by stage: :func:`load_event` -> :func:`build` (doublets, triplets, couplers,
QUBO) -> :func:`solve_built` (sampler, tracks, scores). :func:`solve` does it all::

    import qtrack
    result = qtrack.solve("data/event000001000", sampler="neal", seed=1)

Importing qtrack is cheap: numba, dimod and pandas load when a stage first needs them.
"""
__version__ = "0.1.0"

_EXPORTS = {
    "Config": "config", "Event": "event", "load_event": "event", "Built": "pipeline",
    "Result": "pipeline", "build": "pipeline", "solve": "pipeline", "solve_built": "pipeline",
    "write_outputs": "pipeline",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qtrack' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
