"""D-Wave samplers: the QPU through decomposition, Leap hybrid, a dwave-hybrid loop, a mock.

Importing this subpackage is the boundary: everything below imports ``dwave.system``,
``dwave.cloud``, ``minorminer`` or ``hybrid`` only inside the sampler that needs it, and the
decomposition (:mod:`.decompose`) is plain numpy and scipy. The registry in
:mod:`qtrack.samplers` builds these samplers through the factories below; every one of them has
``offline_report(bqm)``, the dry run.
"""
from __future__ import annotations

import dataclasses

from .credentials import check_credentials, has_credentials

__all__ = ["qpu_sampler", "loop_sampler", "leap_sampler", "check_credentials",
           "has_credentials"]


def _settings(settings, overrides) -> dict:
    from ...config import QPUConfig

    settings = settings or QPUConfig()
    return dataclasses.asdict(settings.replace(**overrides) if overrides else settings)


def qpu_sampler(settings=None, *, mock: bool = False, profile: str | None = None,
                seed: int | None = None, dry_run: bool = False,
                client_options: dict | None = None, **overrides):
    """The QPU (or, with ``mock``, the offline ``MockDWaveSampler`` on Pegasus P16) through
    exact reductions, decomposition, shared embeddings and block descent.

    ``settings`` is a :class:`qtrack.config.QPUConfig` (the ``[qpu]`` section; defaults when
    ``None``); ``overrides`` change single fields of it (``subproblem_size=50``). Nothing is
    contacted here: the connection opens on the first ``sample`` call, after the credentials are
    checked. ``dry_run`` embeds on the mock's graph and submits nothing.
    """
    from .qpu import DecomposedQPUSampler

    return DecomposedQPUSampler(mock=mock, profile=profile, seed=seed, dry_run=dry_run,
                                client_options=client_options, **_settings(settings, overrides))


def loop_sampler(settings=None, *, mock: bool = False, profile: str | None = None,
                 seed: int | None = None, dry_run: bool = False,
                 client_options: dict | None = None, **overrides):
    """The qbsolv-like dwave-hybrid loop over QPU-sized sub-problems (``mock``: on the mock)."""
    from .loop import HybridLoopSampler

    return HybridLoopSampler(mock=mock, profile=profile, seed=seed, dry_run=dry_run,
                             client_options=client_options, **_settings(settings, overrides))


def leap_sampler(settings=None, *, profile: str | None = None, seed: int | None = None,
                 dry_run: bool = False, client_options: dict | None = None, **overrides):
    """Leap's hybrid BQM solver on the whole problem (``dry_run``: a local annealer stands in)."""
    from .leap import LeapHybridBQMSampler

    del seed  # the hybrid solver takes none
    s = _settings(settings, overrides)
    return LeapHybridBQMSampler(profile=profile, client_options=client_options,
                                time_limit=s["time_limit"] or None, dry_run=dry_run)
