"""How every settings section checks its values: each field's allowed range, one clear line naming
the section, key, value and what is allowed when a value is wrong, and copies with changes
(:class:`Section`, :func:`merge`). Used by :mod:`qtrack.config` and
:mod:`qtrack.simulate.config`.
"""
from __future__ import annotations

import dataclasses
import math

from .errors import InputError


def between(lo=None, hi=None, lo_open=False):
    def check(v):
        return ((lo is None or (v > lo if lo_open else v >= lo)) and (hi is None or v <= hi))
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo}")
    if hi is not None:
        parts.append(f"<= {hi}")
    return check, " and ".join(parts)


def one_of(*choices):
    return (lambda v: v in choices), "one of " + ", ".join(repr(c) for c in choices)


ANY = (lambda v: True), ""
POSITIVE = between(0, lo_open=True)
NON_NEGATIVE = between(0)
FRACTION = between(0, 1)
COUNT = between(1)


class Section:
    """What every config section can do: check its values, and be copied with changes.

    ``_rules`` gives each field's allowed range (types come from the annotations); a value out of
    range or of the wrong type stops with one line naming the section, key, value and what is
    allowed, whether it came from a TOML file or from Python.
    """

    _section = ""
    _rules: dict = {}

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            checked = check_value(self, f, value)
            if checked is not value:
                object.__setattr__(self, f.name, checked)

    def replace(self, **changes):
        """A copy with some fields changed, checked as a TOML file's would be."""
        return merge(self, changes, "config")


def check_value(section, f, value):
    where = f"[{section._section}] {f.name} = {value!r}"
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    check, text = section._rules.get(f.name, ANY)
    if f.name == "min_pts":
        if (isinstance(value, (list, tuple)) and len(value) <= 6
                and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                        and math.isfinite(v) and 0.05 <= v <= 100 for v in value)
                and all(a > b for a, b in zip(value, value[1:]))):
            return tuple(float(v) for v in value)
        raise InputError(f"{where}: expected up to 6 pT thresholds (GeV) between 0.05 and 100, "
                         f"highest first")
    if f.name == "beta_range":
        if value is None:
            return None
        if (isinstance(value, (list, tuple)) and len(value) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                        and math.isfinite(v) and v > 0 for v in value)
                and value[0] < value[1]):
            return (float(value[0]), float(value[1]))
        raise InputError(f"{where}: expected two positive numbers [hot, cold] with hot < cold")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise InputError(f"{where}: expected true or false")
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise InputError(f"{where}: expected an integer{' ' + text if text else ''}")
    elif kind == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool) \
                or not math.isfinite(value):
            raise InputError(f"{where}: expected a finite number{' ' + text if text else ''}")
        value = float(value)
    elif kind == "str" and not isinstance(value, str):
        raise InputError(f"{where}: expected {text or 'a string'}")
    elif kind.startswith("tuple"):
        if not (isinstance(value, (list, tuple)) and len(value) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                        and math.isfinite(v) for v in value)):
            raise InputError(f"{where}: expected two numbers {text}")
        value = (float(value[0]), float(value[1]))
    if not check(value):
        raise InputError(f"{where}: expected {text}")
    return value


def merge(obj, changes: dict, source: str):
    """Apply nested ``changes`` to a frozen dataclass; names, types and ranges are checked."""
    if not isinstance(changes, dict):
        raise InputError(f"{source}: expected a table, got {changes!r}")
    fields = {f.name: f for f in dataclasses.fields(obj)}
    updates = {}
    for key, value in changes.items():
        if key not in fields:
            where = f"[{obj._section}] " if isinstance(obj, Section) else ""
            raise InputError(f"{source}: {where}unknown setting {key!r}; expected one of "
                             f"{', '.join(sorted(fields))}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            updates[key] = merge(current, value, source)
        else:
            updates[key] = value
    try:
        return dataclasses.replace(obj, **updates)
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
