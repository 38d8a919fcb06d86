"""Will the event fit in memory? An estimate from the counts, checked before the large arrays.

The kernels count before they fill, so once the triplets are built the sizes of everything that
follows (quadruplets, conflicts, the QUBO, the sampler's copy of it) are known to within a
factor that the measurements below fix. :func:`check_memory` compares the estimate with what
the process may still use: the machine's available memory, an address-space limit
(``ulimit -v``, ``prlimit --as``) and ``--max-memory``, and stops with one line
(:class:`OutOfMemory`, exit 2) before anything large is allocated or any file written.
"""
from __future__ import annotations

import resource

from .errors import QtrackError

GB = 1e9

#: Peak bytes beyond the process's baseline per triplet (all of them, before the max-path filter)
#: and per doublet, with the default sampler (neal) and settings. Measured with
#: ``/usr/bin/time -v qtrack solve`` on simulated events (data/sim PU20, PU60, PU200): the peak
#: comes in the couplers and sampling stages and grows with the triplets; see
#: :data:`_MEASURED` and ``tests/test_memory.py``.
BYTES_PER_TRIPLET = 1100.0
BYTES_PER_DOUBLET = 60.0
#: Virtual address space that the sampler's threads and numpy's arenas reserve beyond what they
#: touch: an address-space limit counts it, resident memory does not.
ADDRESS_SPACE_MARGIN = 1.5

HINT = ("try a higher doublets.min_pt or tplet_max_curv in a --config file, a machine with more "
        "memory, or --max-memory if more is free than qtrack sees")


class OutOfMemory(QtrackError):
    """The event needs more memory than the process may use."""


def needed_bytes(n_doublets: int, n_triplets: int) -> float:
    """Estimated peak memory (bytes) beyond the current use, to solve an event of these sizes."""
    return BYTES_PER_TRIPLET * n_triplets + BYTES_PER_DOUBLET * n_doublets


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def available_bytes(max_memory_gb: float | None = None) -> tuple[float, str]:
    """What this process may still allocate (bytes), and where the limit comes from; infinite
    when nothing is known (not Linux, no limit)."""
    limits = []
    free = _meminfo_available()
    if free is not None:
        limits.append((free, "available on this machine"))
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    size_kb = _status_kb("VmSize")
    if soft != resource.RLIM_INFINITY and size_kb is not None:
        limits.append(((soft - size_kb * 1024) / ADDRESS_SPACE_MARGIN,
                       "left under the address-space limit"))
    if max_memory_gb:
        rss_kb = _status_kb("VmRSS") or 0
        limits.append((max_memory_gb * GB - rss_kb * 1024, "left under --max-memory"))
    if not limits:
        return float("inf"), "no limit known"
    return min(limits)


def check_memory(event: str, n_doublets: int, n_triplets: int,
                 max_memory_gb: float | None = None) -> float:
    """Raise :class:`OutOfMemory` when the event (its doublets and triplets counted) needs more
    memory than the process may use; returns the estimate (bytes)."""
    need = needed_bytes(n_doublets, n_triplets)
    have, source = available_bytes(max_memory_gb)
    if need > have:
        raise OutOfMemory(f"event {event} needs about {need / GB:.1f} GB for {n_triplets} triplets, "
                          f"more than the {max(have, 0) / GB:.1f} GB {source}; {HINT}")
    return need


def out_of_memory_message(exc: MemoryError) -> str:
    """The one line for a MemoryError raised anywhere (an allocation the estimate missed)."""
    what = str(exc).strip()
    return f"out of memory{f' ({what})' if what else ''}; {HINT}"
