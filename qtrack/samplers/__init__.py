"""The sampler registry: names on the command line -> dimod samplers and what they can do.

Every sampler, given by name or as an instance, takes the same solve path; what differs is decided
by its :class:`Capabilities`, looked up here by the sampler's class (any ``dimod.Sampler`` that is
not registered gets :data:`UNKNOWN`, the conservative defaults). Nothing outside this module looks
at a sampler's name.

Heavy or remote stacks (dwave-system, dwave-hybrid, minorminer) are imported only when their
sampler is asked for; :mod:`qtrack.samplers.dwave` is that boundary.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field

from ..errors import SamplerError


@dataclass(frozen=True)
class Capabilities:
    """What the solve stage may do with a sampler."""

    #: ``sample`` releases the GIL and may run in several threads at once.
    threads: bool = False
    #: Reads are independent and seeded: the solve stage splits them into a fixed number of calls,
    #: each with its own seed (so threads can share them out without changing the answer).
    split_reads: bool = False
    #: Many connected components may share one call (its cost grows about linearly with size);
    #: otherwise every component gets its own call.
    pack: bool = True
    #: Largest connected component it accepts (``None``: no limit).
    max_variables: int | None = None
    #: Talks to a remote service: needs credentials, can fail on the network.
    remote: bool = False
    #: Takes ``[solve]``'s ``num_reads``/``num_sweeps``/``beta_range``; ``False`` for samplers
    #: whose reads mean something else (a QPU's reads per sub-problem), set by their own section.
    solve_settings: bool = True


#: A dimod sampler qtrack does not know: one call over everything, in one thread.
UNKNOWN = Capabilities()

_LOCAL = Capabilities(threads=True, split_reads=True)


@dataclass(frozen=True)
class SamplerSpec:
    name: str
    description: str
    #: ``"module:Class"`` of the sampler; instances of it get this spec's capabilities.
    cls: str
    capabilities: Capabilities
    #: Modules that must be importable, and the pip extra that brings them.
    modules: tuple[str, ...] = ()
    extra: str | None = None
    #: Config section (a field of :class:`qtrack.config.Config`) with this sampler's settings.
    section: str | None = None
    #: ``"module:function"`` making it from its config section (default: the class itself), and
    #: the factory's fixed keyword arguments.
    factory: str | None = None
    options: dict = field(default_factory=dict)

    @property
    def installed(self) -> bool:
        return all(_importable(m) for m in self.modules)


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


_DWAVE = ("dwave.system", "dwave.cloud", "dwave.preprocessing", "minorminer", "hybrid")
#: What the D-Wave samplers report themselves (``qtrack_capabilities``).
REMOTE = Capabilities(remote=True, solve_settings=False)
OFFLINE_QPU = Capabilities(solve_settings=False)
SAMPLERS: dict[str, SamplerSpec] = {
    s.name: s
    for s in [
        SamplerSpec("neal", "simulated annealing (dwave-samplers)",
                    "dwave.samplers:SimulatedAnnealingSampler", _LOCAL, ("dwave.samplers",)),
        SamplerSpec("steepest", "steepest descent from random states (dwave-samplers)",
                    "dwave.samplers:SteepestDescentSolver", _LOCAL, ("dwave.samplers",)),
        # Tabu keeps a dense N x N matrix (0.8 GB at 1e4 variables) and its cost grows faster
        # than linearly: one component per call, never packed.
        SamplerSpec("tabu", "tabu search (dwave-samplers); dense, small components only",
                    "dwave.samplers:TabuSampler",
                    Capabilities(threads=True, split_reads=True, pack=False,
                                 max_variables=10_000), ("dwave.samplers",)),
        SamplerSpec("exact", "exhaustive enumeration (dimod); tiny components only",
                    "dimod:ExactSolver", Capabilities(pack=False, max_variables=18), ("dimod",)),
        SamplerSpec("sb", "simulated bifurcation, ballistic or discrete (qtrack, numba)",
                    "qtrack.samplers.sb:SimulatedBifurcationSampler", _LOCAL, ("numba",),
                    section="sb"),
        SamplerSpec("qpu", "D-Wave QPU via dwave-system, decomposed into embeddable sub-problems",
                    "qtrack.samplers.dwave.qpu:DecomposedQPUSampler", REMOTE, _DWAVE, "dwave",
                    section="qpu", factory="qtrack.samplers.dwave:qpu_sampler"),
        SamplerSpec("hybrid", "Leap hybrid BQM solver (dwave-system)",
                    "qtrack.samplers.dwave.leap:LeapHybridBQMSampler", REMOTE, _DWAVE, "dwave",
                    section="qpu", factory="qtrack.samplers.dwave:leap_sampler"),
        SamplerSpec("decomposed", "qbsolv-like loop of QPU-sized sub-problems (dwave-hybrid)",
                    "qtrack.samplers.dwave.loop:HybridLoopSampler", REMOTE, _DWAVE, "dwave",
                    section="qpu", factory="qtrack.samplers.dwave:loop_sampler"),
        SamplerSpec("mock-qpu", "the qpu path against an offline MockDWaveSampler (Pegasus P16)",
                    "qtrack.samplers.dwave.qpu:DecomposedQPUSampler",
                    OFFLINE_QPU, _DWAVE, "dwave", section="qpu",
                    factory="qtrack.samplers.dwave:qpu_sampler", options={"mock": True}),
    ]
}


def spec_of(name: str) -> SamplerSpec:
    """The registered sampler ``name``; one line naming the choices otherwise."""
    spec = SAMPLERS.get(name)
    if spec is None:
        raise SamplerError(f"unknown sampler {name!r}; expected one of {', '.join(SAMPLERS)}")
    return spec


def _load(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def capabilities_of(sampler) -> Capabilities:
    """The capabilities of a sampler instance, from its class (:data:`UNKNOWN` if unregistered).

    A sampler whose capabilities depend on how it was made (the D-Wave ones: a QPU or its mock)
    says so itself through a ``qtrack_capabilities`` attribute. Only classes whose module is
    already imported are looked at: an instance's own class always is, and nothing heavy gets
    imported to answer.
    """
    own = getattr(sampler, "qtrack_capabilities", None)
    if isinstance(own, Capabilities):
        return own
    for spec in SAMPLERS.values():
        module = spec.cls.partition(":")[0]
        if module in sys.modules and type(sampler) is _load(spec.cls):
            return spec.capabilities
    return UNKNOWN


def get_sampler(name: str, config=None, *, profile: str | None = None, dry_run: bool = False,
                client_options: dict | None = None):
    """A new instance of the sampler registered as ``name``, set up from ``config``'s section.

    ``config`` is a :class:`qtrack.config.Config` (defaults when ``None``). ``profile``,
    ``dry_run`` and ``client_options`` concern the D-Wave samplers only.
    """
    from ..config import Config

    spec = spec_of(name)
    if not spec.installed:
        hint = f"pip install 'qtrack[{spec.extra}]'" if spec.extra else "reinstall qtrack"
        raise SamplerError(f"sampler {name!r} needs {', '.join(spec.modules)}: {hint}")
    config = config or Config()
    section = getattr(config, spec.section) if spec.section else None
    if spec.factory:
        return _load(spec.factory)(section, profile=profile, seed=config.solve.seed,
                                   dry_run=dry_run, client_options=client_options, **spec.options)
    cls = _load(spec.cls)
    if section is not None:
        import dataclasses

        return cls(**dataclasses.asdict(section))
    return cls()


def check_size(capabilities: Capabilities, num_variables: int, what: str) -> None:
    """Refuse a component too large for a sampler before any work is spent on it."""
    limit = capabilities.max_variables
    if limit is not None and num_variables > limit:
        raise SamplerError(
            f"sampler {what} handles at most {limit} variables per connected component, this "
            f"QUBO has one of {num_variables}; use --sampler neal or sb"
        )
