"""``qtrack solve`` with many events or a cluster: the command-line end of :mod:`qtrack.runner`."""
from __future__ import annotations

import sys

import click

from .events import expand_events, is_many


def solve_many(event_args, config, sampler: str, outdir: str, workers: int | None = None,
               scheduler: str | None = None, force: bool = False, progress: bool | None = None) -> int:
    """Solve every event named by ``event_args``; prints the tally, returns the exit code
    (0: all done or skipped, 1: some failed, 130: interrupted)."""
    from .run import run_events

    events = expand_events(event_args)
    show = sys.stderr.isatty() if progress is None else progress
    try:
        report = run_events(events, outdir, sampler, config, workers=workers, scheduler=scheduler,
                            force=force, progress=show)
    except KeyboardInterrupt:
        click.echo(f"qtrack: interrupted; finished events are in {outdir} (results.csv), "
                   f"run the same command again to do the rest", err=True)
        return 130
    click.echo(report.tally())
    return 1 if report.failed else 0


__all__ = ["solve_many", "is_many"]
