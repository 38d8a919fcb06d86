"""Dask clusters: a local one (``--workers N``) or an existing one (``--scheduler ADDRESS``).

A local cluster has one single-threaded worker process per event in flight (the solve stage
runs its own threads, ``solve.threads``), a memory limit per worker (dask's nanny restarts a
worker that goes over 95 % of it; the event is then reported as failed and retried), and the
scheduler hands a worker its next event only when it is idle, so a worker that dies takes only
its own event with it. Every worker, including one started to replace a dead one, solves a small
made-up event first so that numba's kernels are loaded before the first real event.
"""
from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import contextmanager

import dask
from distributed import Client, LocalCluster, WorkerPlugin

import qtrack

from ..errors import QtrackError
from .table import config_hash
from .task import warm_up

log = logging.getLogger("qtrack.runner")

#: Scheduler settings of a local cluster: a task whose worker dies fails at once (the runner
#: retries it itself, once, and records it), and no task waits queued on a busy worker.
LOCAL_SCHEDULER = {"distributed.scheduler.allowed-failures": 0,
                   "distributed.scheduler.worker-saturation": 1.0}


class WarmUp(WorkerPlugin):
    """Load the numba kernels on each worker before it gets an event (once per sampler and config:
    registering the same again is a no-op)."""

    idempotent = True

    def __init__(self, sampler: str, config: qtrack.Config):
        self.sampler, self.config = sampler, config
        self.name = f"qtrack-warm-up-{sampler}-{config_hash(config.to_dict())}"

    async def setup(self, worker):
        try:
            seconds = await asyncio.to_thread(warm_up, self.sampler, self.config)
            log.debug("worker %s warmed up in %.1f s", worker.address, seconds)
        except Exception as exc:  # a cold worker is slower, not wrong
            log.warning("worker %s: warm-up failed (%s: %s)", worker.address, type(exc).__name__, exc)


class IgnoreInterrupt(WorkerPlugin):
    """Local workers share the terminal's process group: Ctrl-C is for the client to handle (it
    closes the cluster); without this each worker would also print a KeyboardInterrupt traceback."""

    name = "qtrack-ignore-interrupt"

    def setup(self, worker):
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def connect(workers: int | None = None, scheduler: str | None = None, memory_limit: str | float = "auto"):
    """A client of a new local cluster of ``workers`` processes, or of the cluster at ``scheduler``.

    ``memory_limit`` is per worker: bytes or a string such as ``"4GB"``; ``"auto"`` shares the
    machine's memory equally. The local cluster is closed on leaving the block (also on Ctrl-C).
    """
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, ValueError, TypeError) as exc:
            raise QtrackError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        with client:
            yield client
        return
    # The scheduler runs in this process: keep its chatter (worker joined, worker left) out of
    # the user's log unless they asked for debug output.
    chatter = logging.getLogger("distributed")
    level = chatter.level
    if not log.isEnabledFor(logging.DEBUG):
        chatter.setLevel(logging.ERROR)
    try:
        with dask.config.set(LOCAL_SCHEDULER):
            cluster = LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True,
                                   memory_limit=memory_limit, dashboard_address=":0",
                                   scheduler_kwargs={"dashboard": False},
                                   silence_logs=logging.ERROR)
        with cluster, Client(cluster) as client:
            client.register_plugin(IgnoreInterrupt())
            yield client
    finally:
        chatter.setLevel(level)


def prepare(client: Client, sampler: str, config: qtrack.Config) -> None:
    """Warm up every worker (present and future) for this sampler and config."""
    client.register_plugin(WarmUp(sampler, config))
