"""What every qtrack command shares: the three ways out (user error or memory, interruption,
bug; see :mod:`qtrack.cli`), logging and the common options.

A module of its own so that commands defined in their stage's folder (``qtrack simulate``) use
them without importing :mod:`qtrack.cli`, which registers those commands.
"""
from __future__ import annotations

import functools
import logging
import os
import sys

import click

from .errors import QtrackError

BUG_REPORT = ("qtrack: internal error: this is a bug in qtrack, please report it with the "
              "traceback above")


def setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)


def interrupted():
    """Leave at once: worker threads still inside a sampler call are not waited for, and the
    temporary files of writes in progress are removed (nothing half-written is left). The
    console script's own SIGINT handler (:mod:`qtrack.__main__`) does the same; this one serves
    a KeyboardInterrupt raised any other way."""
    from .io import discard_partial_files

    discard_partial_files()
    click.echo("qtrack: interrupted", err=True)
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(130)


def friendly(func):
    """The three ways out (see the module docstring)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except QtrackError as exc:
            click.echo(f"qtrack: error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            interrupted()
        except MemoryError as exc:  # an allocation the estimate (qtrack.memory) did not foresee
            from .memory import out_of_memory_message

            click.echo(f"qtrack: error: {out_of_memory_message(exc)}", err=True)
            sys.exit(2)
        except (click.exceptions.Exit, click.exceptions.ClickException, click.Abort):
            raise
        except Exception as exc:
            if _caused_by_interrupt(exc):  # a library turned the KeyboardInterrupt into another
                interrupted()
            import traceback

            traceback.print_exc()
            click.echo(BUG_REPORT, err=True)
            sys.exit(1)

    return wrapper


def _caused_by_interrupt(exc: BaseException) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


common = [
    click.option("-v", "--verbose", count=True, help="More log output."),
    click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors."),
]


def with_common(func):
    for opt in reversed(common):
        func = opt(func)
    return func
