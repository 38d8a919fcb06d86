"""Will the event fit in memory? An estimate from the counts, checked before the large arrays.

The kernels count before they fill, so the sizes are known stage by stage: once the doublets
are built the triplets to come are estimated from them (:func:`expected_triplets`), and once the
triplets are built everything that follows (quadruplets, conflicts, the QUBO, the sampler's copy
of it) grows with their number, by the measurements below. :func:`check_memory` compares the estimate with what
the process may still use: the machine's available memory, an address-space limit
(``ulimit -v``, ``prlimit --as``) and ``--max-memory``, and stops with one line
(:class:`OutOfMemory`, exit 2) before anything large is allocated or any file written.
"""
from __future__ import annotations

import logging
import resource

from .errors import QtrackError

log = logging.getLogger("qtrack")

GB = 1e9

#: Peak bytes beyond what the process holds once the triplets are built (hits, doublets and
#: triplets included): a fixed part (the sampler's and the scorer's imports and buffers) and a
#: part per triplet (before the max-path filter), default sampler (neal) and settings. Measured
#: with ``/usr/bin/time -v qtrack solve`` and the in-use figure this module logs (load 5-6):
#: PU60 (160,125 triplets) 0.31 GB in use, peak 0.56 GB; PU200 (6,089,487 triplets) 0.86 GB in
#: use, peak 2.27 GB: 196 bytes per triplet over 0.22 GB, rounded up by about 15 %. On PU400
#: (31,731,607 triplets, 3.09 GB in use) this predicts a 10.6 GB peak; measured 8.3 GB.
FIXED_BYTES = 0.25e9
BYTES_PER_TRIPLET = 230.0
#: The triplets' own arrays (hits, doublets, curvature, slopes: 57 bytes) and the kernel's
#: output buffers while they are built, counted when the triplets are not built yet.
TRIPLET_ARRAY_BYTES = 120.0
#: Virtual address space that the sampler's threads and numpy's arenas reserve beyond what they
#: touch: an address-space limit counts it, resident memory does not.
ADDRESS_SPACE_MARGIN = 1.5

HINT = ("try a higher [doublets] min_pt or a lower [model] tplet_max_curv (--config), or a "
        "machine with more memory")


class OutOfMemory(QtrackError):
    """The event needs more memory than the process may use."""


#: Triplets grow with the doublets to this power (PU60 308,752 doublets, 160,125 triplets;
#: PU200 5,776,430 and 6,089,487): the estimate of the triplets before they are built.
TRIPLETS_PER_DOUBLET_POWER = 1.24
_TRIPLETS_AT = (308_752, 160_125)


def expected_triplets(n_doublets: int) -> int:
    """Triplets to expect from ``n_doublets`` doublets (default cuts), before building them."""
    d0, t0 = _TRIPLETS_AT
    return int(t0 * (max(n_doublets, 1) / d0) ** TRIPLETS_PER_DOUBLET_POWER)


def needed_bytes(n_triplets: int, built: bool = True) -> float:
    """Estimated peak memory (bytes) beyond the current use, to solve an event of this size
    (its triplets ``built`` already, or not yet)."""
    per_triplet = BYTES_PER_TRIPLET + (0.0 if built else TRIPLET_ARRAY_BYTES)
    return FIXED_BYTES + per_triplet * n_triplets


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


def check_memory(event: str, n_triplets: int, max_memory_gb: float | None = None,
                 expected: bool = False) -> float:
    """Raise :class:`OutOfMemory` when the event (its triplets counted, or ``expected`` from the
    doublets) needs more memory than the process may use; returns the estimate (bytes)."""
    need = needed_bytes(n_triplets, built=not expected)
    have, source = available_bytes(max_memory_gb)
    log.info("memory    %.2f GB in use (%.2f GB address space), about %.2f GB more to come for "
             "%s%d triplets, %.2f GB %s", (_status_kb("VmRSS") or 0) * 1024 / GB,
             (_status_kb("VmSize") or 0) * 1024 / GB, need / GB, "about " if expected else "",
             n_triplets, have / GB, source)
    if need > have:
        raise OutOfMemory(f"event {event} needs about {need / GB:.1f} GB for "
                          f"{'about ' if expected else ''}{n_triplets} triplets, more than the "
                          f"{max(have, 0) / GB:.1f} GB {source}; {HINT}")
    return need


#: Bytes per QUBO coupler while a pass is solved: qtrack's coupler arrays (two int64 indices and
#: a float64, 24 bytes), the sampler's adjacency (each coupler both ways: 2 x 24), the
#: components' copies (24) and dimod's structures. What the per-triplet estimate misses when the
#: conflicts explode: a PU400 event's 0.15 GeV pass held 90 M couplers for 0.86 M variables (105
#: per variable; 10 at PU200) and grew from 9 GB in use to the machine's 24 GB, at least 167 bytes
#: per coupler; rounded up by half, as the estimate is to err high.
BYTES_PER_COUPLER = 250.0


def check_couplers(event: str, n_couplers: int, max_memory_gb: float | None = None) -> float:
    """Raise :class:`OutOfMemory` when solving a QUBO of ``n_couplers`` couplers needs more memory
    than the process may use; returns the estimate (bytes)."""
    need = FIXED_BYTES + BYTES_PER_COUPLER * n_couplers
    have, source = available_bytes(max_memory_gb)
    if need > have:
        raise OutOfMemory(f"event {event} needs about {need / GB:.1f} GB to solve a QUBO of "
                          f"{n_couplers} couplers, more than the {max(have, 0) / GB:.1f} GB "
                          f"{source}; {HINT}, or fewer passes ([passes] min_pts)")
    return need


def out_of_memory_message(exc: MemoryError) -> str:
    """The one line for a MemoryError raised anywhere (an allocation the estimate missed)."""
    what = str(exc).strip()
    return f"out of memory{f' ({what})' if what else ''}; {HINT}"
