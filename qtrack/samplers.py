"""Sampler registry: names on the command line -> dimod samplers.

Any ``dimod.Sampler`` instance works in the Python API; the names here are shortcuts. Heavy or
remote stacks (dwave-system, dwave-hybrid) are imported only when their sampler is asked for.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Callable

import dimod

from .errors import SamplerError


@dataclass(frozen=True)
class SamplerSpec:
    name: str
    description: str
    modules: tuple[str, ...]
    factory: Callable[..., dimod.Sampler]
    #: Largest number of variables the sampler accepts (None: no limit).
    max_variables: int | None = None
    hardware: bool = False


def _neal(**_):
    from dwave.samplers import SimulatedAnnealingSampler

    return SimulatedAnnealingSampler()


def _steepest(**_):
    from dwave.samplers import SteepestDescentSolver

    return SteepestDescentSolver()


def _tabu(**_):
    from dwave.samplers import TabuSampler

    return TabuSampler()


def _exact(**_):
    return dimod.ExactSolver()


def _sb(**_):
    from .sb import SimulatedBifurcationSampler

    return SimulatedBifurcationSampler()


def _hardware(name):
    def factory(**options):
        from . import hardware

        return hardware.make_sampler(name, **options)

    return factory


_DWAVE = ("dwave.system", "dwave.cloud", "minorminer")
SAMPLERS: dict[str, SamplerSpec] = {
    s.name: s
    for s in [
        SamplerSpec("neal", "simulated annealing (dwave-samplers)", ("dwave.samplers",), _neal),
        SamplerSpec("steepest", "steepest descent from random states (dwave-samplers)",
                    ("dwave.samplers",), _steepest),
        # Tabu keeps a dense N x N matrix: 8 bytes * 1e8 is already 0.8 GB at 1e4 variables.
        SamplerSpec("tabu", "tabu search (dwave-samplers); dense, small problems only",
                    ("dwave.samplers",), _tabu, max_variables=10_000),
        SamplerSpec("exact", "exhaustive enumeration (dimod); tiny problems only", ("dimod",),
                    _exact, max_variables=18),
        SamplerSpec("sb", "simulated bifurcation, ballistic or discrete (qtrack, numba)",
                    ("numba",), _sb),
        SamplerSpec("qpu", "D-Wave QPU via dwave-system, decomposed into embeddable sub-problems",
                    _DWAVE + ("hybrid",), _hardware("qpu"), hardware=True),
        SamplerSpec("hybrid", "Leap hybrid BQM solver (dwave-system)", _DWAVE, _hardware("hybrid"),
                    hardware=True),
        SamplerSpec("decomposed", "qbsolv-like loop of QPU-sized sub-problems (dwave-hybrid)",
                    _DWAVE + ("hybrid",), _hardware("decomposed"), hardware=True),
        SamplerSpec("mock-qpu", "the qpu path against an offline MockDWaveSampler (Pegasus P16)",
                    _DWAVE + ("hybrid",), _hardware("mock-qpu"), hardware=True),
    ]
}


def is_installed(spec: SamplerSpec) -> bool:
    return all(importlib.util.find_spec(m.split(".")[0]) is not None and _find(m) for m in spec.modules)


def _find(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def get_sampler(name: str, **options) -> dimod.Sampler:
    """Instantiate the sampler registered as ``name`` (see ``qtrack samplers``)."""
    spec = SAMPLERS.get(name)
    if spec is None:
        raise SamplerError(f"unknown sampler {name!r}; expected one of {', '.join(SAMPLERS)}")
    if not is_installed(spec):
        raise SamplerError(
            f"sampler {name!r} needs {', '.join(spec.modules)}: pip install 'qtrack[dwave]'"
        )
    return spec.factory(**options)


def check_size(name: str | None, num_variables: int) -> None:
    """Refuse a problem too large for a sampler before any work is spent on it."""
    spec = SAMPLERS.get(name) if name else None
    if spec and spec.max_variables is not None and num_variables > spec.max_variables:
        raise SamplerError(
            f"sampler {name!r} handles at most {spec.max_variables} variables per connected "
            f"component, this QUBO has one of {num_variables}; use --sampler neal or sb"
        )
