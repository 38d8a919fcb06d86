"""What runs on a worker (or in-process): solve one event and send back what the client writes.

``cpu_s`` is the CPU time of the solving process during the event, all its threads (on a dask
worker that includes its few background threads): what the event costs in core-seconds, however
busy the machine was.

Peak memory is the per-event peak resident set size of the process that solved the event. On
Linux the kernel's high-water mark (VmHWM) is reset before the event (``/proc/self/clear_refs``,
value 5) and read after it, so it is the peak of this event, including the process's baseline
(Python, numba, dask: about 0.2-0.3 GB). Elsewhere it falls back to ``ru_maxrss``, the peak over
the process's life so far. A worker runs one event at a time, so the peak is the event's own.
"""
from __future__ import annotations

import os
import resource
import socket
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

import qtrack

from .table import config_hash


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb(reset_worked: bool) -> float:
    if reset_worked:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 1024), 1)


def solve_event(prefix: str, sampler: str, config: qtrack.Config) -> dict:
    """Solve the event at ``prefix``; returns its submission DataFrame and summary dict."""
    reset = _reset_peak_rss()
    t0, cpu0 = time.perf_counter(), time.process_time()
    result = qtrack.solve(prefix, sampler=sampler, config=config)
    total, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    summary = result.summary()
    summary["timings_s"]["total"] = round(total, 4)
    summary["cpu_s"] = round(cpu, 3)
    summary["submission"] = f"{result.event.name}-submission.csv"
    summary["config_hash"] = config_hash(config.to_dict())
    summary["peak_rss_mb"] = _peak_rss_mb(reset)
    summary["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return {"name": result.event.name, "submission": result.submission, "summary": summary}


#: The warm-up event's tracks: (phi0 (rad), cot theta, pT (GeV), charge); pT 0 is an exactly
#: straight track. The curved ones make the quality cut and the double-hit collection run on
#: tracks as the real events have them.
WARM_UP_TRACKS = [(0.1, -0.7, 0.0, 1), (0.8, -0.5, 1.5, 1), (1.5, -0.3, 3.0, -1), (2.2, -0.1, 0.0, 1),
                  (2.9, 0.1, 6.0, 1), (3.6, 0.3, 20.0, -1), (4.3, 0.5, 0.0, 1), (5.0, 0.7, 2.0, -1)]


@contextmanager
def warm_up_event():
    """A small made-up event with truth, in a temporary directory: yields its path prefix and
    its number of tracks. Eight tracks through the ten TrackML barrel layers, in a 2 T field:
    straight and curved ones."""
    radii = [32.0, 72.0, 116.0, 172.0, 260.0, 360.0, 500.0, 660.0, 820.0, 1020.0]
    layers = [(8, 2), (8, 4), (8, 6), (8, 8), (13, 2), (13, 4), (13, 6), (13, 8), (17, 2), (17, 4)]
    rows, particles = [], []
    for track, (phi0, cot, pt, charge) in enumerate(WARM_UP_TRACKS):
        radius = pt / (0.3 * 2.0) * 1000.0  # mm, in 2 T
        p_t = pt if pt else 100.0
        for r, (volume, layer) in zip(radii, layers):
            # A circle through the beam line: at radius r the direction has turned by 2 alpha.
            alpha = np.arcsin(r / (2.0 * radius)) if pt else 0.0
            phi = phi0 + charge * alpha
            s = 2.0 * radius * alpha if pt else r
            rows.append((len(rows) + 1, r * np.cos(phi), r * np.sin(phi), s * cot, volume, layer,
                         track + 1, p_t * np.cos(phi0 + 2 * charge * alpha),
                         p_t * np.sin(phi0 + 2 * charge * alpha), 1.0 / (len(radii) * len(WARM_UP_TRACKS))))
        particles.append((track + 1, p_t * np.cos(phi0), p_t * np.sin(phi0), p_t * cot))
    frame = pd.DataFrame(rows, columns=["hit_id", "x", "y", "z", "volume_id", "layer_id",
                                        "particle_id", "tpx", "tpy", "weight"])
    particles = pd.DataFrame(particles, columns=["particle_id", "px", "py", "pz"])
    with tempfile.TemporaryDirectory(prefix="qtrack-warm-") as tmp:
        prefix = Path(tmp) / "warmup"
        frame[["hit_id", "x", "y", "z", "volume_id", "layer_id"]].to_csv(f"{prefix}-hits.csv", index=False)
        frame[["hit_id", "particle_id", "tpx", "tpy", "weight"]].to_csv(f"{prefix}-truth.csv", index=False)
        particles.to_csv(f"{prefix}-particles.csv", index=False)
        yield prefix, len(WARM_UP_TRACKS)


def warm_up(sampler: str = "neal", config: qtrack.Config | None = None) -> float:
    """Solve :func:`warm_up_event` so that numba's cached kernels are loaded (or compiled, on a
    fresh install) before the first real event is timed; returns the seconds it took."""
    t0 = time.perf_counter()
    with warm_up_event() as (prefix, _):
        qtrack.solve(prefix, sampler=sampler, config=config)
    return time.perf_counter() - t0
