"""The run loop: solve the events that are not done yet, in-process or on a Dask cluster.

Workers only compute; the client writes each event's outputs (atomically) as its result arrives,
so a worker that dies, or a Ctrl-C, never leaves a half-written file. Seeds come from the config,
so an event's submission does not depend on where or in which order it was solved.
"""
from __future__ import annotations

import asyncio
import logging
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

import qtrack
from qtrack.errors import QtrackError

from . import table
from .task import solve_event

log = logging.getLogger("qtrack.runner")

#: The table is rewritten at least this often (seconds) during a run, and always at its end.
TABLE_EVERY_S = 30.0


@dataclass
class RunReport:
    """What a run did; ``rows`` has one entry per event (see :mod:`qtrack.runner.table`)."""

    outdir: Path
    rows: list[dict] = field(default_factory=list)
    table: dict[str, Path] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.rows)

    @property
    def failed(self) -> int:
        return self.count("failed")

    def tally(self) -> str:
        return (f"{len(self.rows)} events: {self.count('ok')} done, {self.count('skipped')} skipped, "
                f"{self.failed} failed (see {self.table.get('csv', self.outdir / 'results.csv')})")


def _is_ours(exc: BaseException) -> bool:
    """Whether the failure may be a qtrack bug (worth its traceback), not bad input, memory or the
    cluster (a dead worker, a lost connection, a cancelled task)."""
    infrastructure = type(exc).__module__.split(".")[0] in ("distributed", "tornado", "asyncio", "concurrent")
    return not (isinstance(exc, (QtrackError, MemoryError, asyncio.CancelledError)) or infrastructure)


def _error_text(exc: BaseException) -> str:
    if type(exc).__name__ == "KilledWorker":
        return "KilledWorker: the worker process died while solving this event (killed, crashed " \
               "or over its memory limit)"
    text = str(exc).strip().splitlines()
    text = text[0] if text else ""
    if isinstance(exc, QtrackError):
        return text
    return f"{type(exc).__name__}: {text}"[:500]


class _Run:
    """Bookkeeping shared by both executors: outputs, rows, retries, progress, table."""

    def __init__(self, outdir: Path, sampler: str, config: qtrack.Config, retries: int, progress: bool,
                 total: int):
        self.outdir, self.sampler, self.config, self.retries = outdir, sampler, config, retries
        self.chash = table.config_hash(config.to_dict())
        self.rows: dict[str, dict] = {}
        self.counts = {"ok": 0, "failed": 0, "skipped": 0}
        self.last_table = time.monotonic()
        self.bar = tqdm(total=total, unit="event", desc="events", file=sys.stderr, disable=not progress,
                        dynamic_ncols=True, smoothing=0.1)

    def _add(self, name: str, row: dict) -> None:
        self.rows[name] = row
        self.counts[row["status"]] += 1
        c = self.counts
        self.bar.set_postfix(done=c["ok"], failed=c["failed"], skipped=c["skipped"], refresh=False)

    def _advance(self) -> None:
        self.bar.update(1)
        if time.monotonic() - self.last_table > TABLE_EVERY_S:
            self.write_table()

    def skip(self, name: str, summary: dict) -> None:
        self.bar.total -= 1  # rate and time left count only the events being solved
        self._add(name, table.row(summary, name, "skipped", attempts=0))

    def done(self, name: str, payload: dict, attempt: int) -> None:
        table.write_event(self.outdir, name, payload["submission"], payload["summary"])
        self._add(name, table.row(payload["summary"], name, "ok", attempt))
        log.debug("%s: done (attempt %d)", name, attempt)
        self._advance()

    def failed(self, name: str, exc: BaseException, attempt: int, tb=None) -> bool:
        """Record a failure; True if the event is to be tried again."""
        error = _error_text(exc)
        if not isinstance(exc, QtrackError) and attempt <= self.retries:
            log.warning("%s: attempt %d failed (%s); trying again", name, attempt, error)
            return True
        if _is_ours(exc):
            log.error("%s: failed", name, exc_info=(type(exc), exc, tb or exc.__traceback__))
        else:
            log.error("%s: failed: %s", name, error)
        self._add(name, table.row(None, name, "failed", attempt, error, sampler=self.sampler,
                                  seed=self.config.solve.seed, config_hash=self.chash,
                                  qtrack_version=qtrack.__version__))
        self._advance()
        return False

    def write_table(self) -> dict[str, Path]:
        self.last_table = time.monotonic()
        return table.write_table(self.outdir, list(self.rows.values())) if self.rows else {}


def run_events(events: list[str | Path], outdir: str | Path, sampler: str = "neal",
               config: qtrack.Config = qtrack.Config(), *, workers: int | None = None,
               scheduler: str | None = None, client=None, force: bool = False, progress: bool = False,
               retries: int = 1, memory_limit: str | float = "auto",
               solve: Callable[[str, str, qtrack.Config], dict] = solve_event) -> RunReport:
    """Solve ``events`` (prefixes; see :func:`qtrack.runner.expand_events`) into ``outdir``.

    Without ``workers``, ``scheduler`` or ``client`` the events are solved one after the other in
    this process. An event whose submission and summary exist, made with the same config hash,
    qtrack version and sampler, is skipped unless ``force``. A failed event is tried again
    ``retries`` times unless it failed on its input (a :class:`~qtrack.errors.QtrackError`, which
    would fail again). ``solve`` is the per-event function (it must be importable on the workers).
    Ctrl-C propagates as KeyboardInterrupt after the table of the finished events is written.
    """
    t0 = time.perf_counter()
    outdir = Path(outdir)
    prefixes = [Path(e) for e in events]
    run = _Run(outdir, sampler, config, retries, progress, len(prefixes))
    todo = []
    for prefix in prefixes:
        summary = None if force else table.finished_summary(
            outdir, prefix.name, run.chash, qtrack.__version__, sampler)
        if summary is None:
            todo.append(prefix)
        else:
            run.skip(prefix.name, summary)
    report = RunReport(outdir)
    # Log lines (stage times in-process, retries) go above the bar instead of through it.
    try:
        with logging_redirect_tqdm() if progress else nullcontext():
            if todo and (client is not None or workers or scheduler):
                _on_dask(run, todo, solve, client, workers, scheduler, memory_limit)
            else:
                _in_process(run, todo, solve)
    finally:
        report.table = run.write_table()
        run.bar.close()
        report.rows = sorted(run.rows.values(), key=lambda r: r["event"])
        report.elapsed_s = time.perf_counter() - t0
    return report


def _in_process(run: _Run, todo: list[Path], solve) -> None:
    for prefix in todo:
        attempt = 1
        while True:
            try:
                payload = solve(str(prefix), run.sampler, run.config)
            except Exception as exc:
                if run.failed(prefix.name, exc, attempt):
                    attempt += 1
                    continue
            else:
                run.done(prefix.name, payload, attempt)
            break


def _on_dask(run: _Run, todo: list[Path], solve, client, workers, scheduler, memory_limit) -> None:
    try:
        from distributed import as_completed
    except ImportError:
        raise QtrackError("--workers and --scheduler need dask: pip install 'qtrack[dask]'") from None

    from .cluster import connect, prepare

    with nullcontext(client) if client is not None else connect(workers, scheduler, memory_limit) as client:
        prepare(client, run.sampler, run.config)
        run.bar.reset(run.bar.total)  # rate and time left from the first event, not cluster start
        attempts = {}

        def submit(prefix: Path, attempt: int):
            future = client.submit(solve, str(prefix), run.sampler, run.config, pure=False)
            attempts[future.key] = (prefix, attempt)
            return future

        pending = as_completed([submit(p, 1) for p in todo])
        for future in pending:
            prefix, attempt = attempts.pop(future.key)
            try:
                payload = future.result()
            except (Exception, asyncio.CancelledError) as exc:
                tb = future.traceback() if future.status == "error" else None
                if run.failed(prefix.name, exc, attempt, tb):
                    pending.add(submit(prefix, attempt + 1))
            else:
                run.done(prefix.name, payload, attempt)
            future.release()
        run.bar.close()  # before the cluster shuts down, so the rate shown is the events'
