"""Exceptions that the CLI turns into one-line messages and exit code 2."""


class QtrackError(Exception):
    """A problem the user can fix: bad input, missing file, missing credentials."""


class InputError(QtrackError):
    """An input file is missing, malformed or inconsistent."""


class SamplerError(QtrackError):
    """A sampler is unknown, not installed, not configured or failed remotely."""
