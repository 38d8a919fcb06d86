"""EVENT arguments -> event prefixes.

An argument is an event prefix (``dir/event000001000``), one of its files
(``dir/event000001000-hits.csv[.gz]``), a directory whose ``*-hits.csv[.gz]`` files are events,
or a glob (``'data/*/event*-hits.csv'``; quote it, or let the shell expand it). Problems end in one
line naming the argument and what was expected.
"""
from __future__ import annotations

import glob
import re
from pathlib import Path

from ..errors import QtrackError

_FILE = re.compile(r"-(hits|truth|particles)\.csv(\.gz)?$")
_HITS = ("*-hits.csv", "*-hits.csv.gz")


def _prefix_of_file(path: Path) -> Path | None:
    m = _FILE.search(path.name)
    return path.with_name(path.name[: m.start()]) if m else None


def _has_hits(prefix: Path) -> bool:
    return any(prefix.with_name(f"{prefix.name}-hits{s}").is_file() for s in (".csv", ".csv.gz"))


def _events_in(directory: Path) -> list[Path]:
    return sorted({_prefix_of_file(h) for pattern in _HITS for h in directory.glob(pattern)})


def _is_glob(arg: str) -> bool:
    return glob.has_magic(arg) and not Path(arg).exists()


def is_many(arg: str) -> bool:
    """Whether one EVENT argument can stand for several events (a glob or a directory of events)."""
    p = Path(arg)
    return _is_glob(arg) or (p.is_dir() and len(_events_in(p)) > 1)


def _expand_one(arg: str) -> list[Path]:
    if _is_glob(arg):
        matches = sorted(glob.glob(arg, recursive=True))
        if not matches:
            raise QtrackError(f"{arg}: no file or directory matches this pattern")
        out = []
        for m in matches:
            p = Path(m)
            if p.is_dir():
                out += _events_in(p)
            elif (prefix := _prefix_of_file(p)) is not None and _has_hits(prefix):
                out.append(prefix)
        if not out:
            raise QtrackError(f"{arg}: the pattern matches {len(matches)} path(s) but no event "
                              f"(expected *-hits.csv[.gz] files or directories holding them)")
        return out
    p = Path(arg)
    if p.is_dir():
        found = _events_in(p)
        if not found:
            raise QtrackError(f"{p}: no *-hits.csv or *-hits.csv.gz event files in this directory")
        return found
    prefix = _prefix_of_file(p) if p.is_file() else p
    if prefix is not None and _has_hits(prefix):
        return [prefix]
    if p.is_file():
        raise QtrackError(f"{p}: not an event file (expected PREFIX-hits.csv[.gz])")
    raise QtrackError(f"{arg}: no such event (expected a prefix with {p.name}-hits.csv[.gz], "
                      f"a hits file, a directory of events or a glob)")


def expand_events(args: list[str] | tuple[str, ...]) -> list[Path]:
    """Event prefixes named by ``args``, in order, each once.

    Two different events with the same name would overwrite each other's outputs, so that is an
    error.
    """
    if not args:
        raise QtrackError("no EVENT given")
    seen: dict[Path, None] = {}
    for arg in args:
        for prefix in _expand_one(str(arg)):
            seen.setdefault(prefix.absolute(), None)
    by_name: dict[str, Path] = {}
    for prefix in seen:
        other = by_name.setdefault(prefix.name, prefix)
        if other != prefix:
            raise QtrackError(f"two events are named {prefix.name} ({other} and {prefix}); their "
                              f"outputs would overwrite each other: solve them into separate OUTDIRs")
    return list(seen)
