"""D-Wave credentials and cloud errors: fail fast, in one line, before any work.

Nothing here imports ``dwave.system``; ``dwave.cloud`` is imported only inside functions.
"""
from __future__ import annotations

import contextlib
import logging

from ...errors import SamplerError

#: dwave-cloud-client options that make network trouble fail in seconds instead of minutes:
#: (connect, read) timeout per request, few retries, and a bound on waiting for results.
#: Measured with a fake token: connection refused fails in 0.2 s, an endpoint that drops
#: connections (no SYN-ACK) in ~9.5 s (3 tries x 3 s); a server that accepts but never answers
#: takes 3 x 20 s. The client's defaults (10 retries, 60 s) take minutes.
CLIENT_OPTIONS = {
    "request_timeout": (3.0, 20.0),
    "polling_timeout": 600.0,
    "http_retry_total": 2,
    "http_retry_backoff_factor": 0.1,
    "http_retry_backoff_max": 2.0,
}
#: Target of dry runs and of the mock: an Advantage-like Pegasus P16 (5640 qubits).

_TOKEN_HINT = "set DWAVE_API_TOKEN or run `dwave config create`"


def one_line(exc: BaseException | str, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_credentials(what: str, profile: str | None = None) -> dict:
    """Fail fast (no network, no ``dwave.system`` import) when no D-Wave API token is configured.

    ``what`` names the sampler in the message. Returns a summary of the configuration found
    (never the token). Raises :class:`SamplerError` with one line when no token is configured or
    the configuration cannot be read (missing profile, unreadable ``dwave.conf``).
    """
    try:
        from dwave.cloud.config import load_config
        from dwave.cloud.exceptions import ConfigFileError
    except ImportError:  # pragma: no cover - depends on the installation
        raise SamplerError(
            f"{what} needs dwave-cloud-client: pip install 'qtrack[dwave]'") from None
    try:
        config = load_config(profile=profile)
    except (ConfigFileError, ValueError) as exc:  # ValueError: an unknown profile
        hint = f"; {_TOKEN_HINT}" if isinstance(exc, ConfigFileError) else ""
        raise SamplerError(f"D-Wave configuration for {what}: {one_line(exc)}{hint}") from None
    if not config.get("token"):
        where = f" (profile {profile!r})" if profile else ""
        raise SamplerError(f"no D-Wave API token for {what}{where}: {_TOKEN_HINT}")
    return {"profile": profile, "endpoint": config.get("endpoint"), "region": config.get("region"),
            "solver": config.get("solver")}


def has_credentials(profile: str | None = None) -> bool:
    """Whether a D-Wave API token is configured (no network; for ``qtrack samplers``)."""
    try:
        check_credentials("the D-Wave samplers", profile)
    except SamplerError:
        return False
    return True


def _cloud_exceptions():
    """The exception classes by which the D-Wave client reports what the user can fix:
    configuration, authentication, solver availability, the network, time-outs."""
    from dwave.cloud import exceptions as e

    network = (OSError, TimeoutError)  # requests' ConnectionError and Timeout are OSErrors
    return (e.ConfigFileError, e.SAPIError, e.PollingTimeout, e.ProblemUploadError,
            e.CanceledFutureError) + network


@contextlib.contextmanager
def cloud_errors(what: str):
    """Turn what the D-Wave client raises about the cloud (by its exception classes) into a
    one-line :class:`SamplerError`; anything else keeps its traceback.

    urllib3's "Retrying ..." warnings are silenced meanwhile: the error says it all.
    """
    from dwave.cloud.exceptions import ConfigFileError, SolverAuthenticationError

    quiet = logging.getLogger("urllib3.connectionpool")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        yield
    except _cloud_exceptions() as exc:
        msg = f"{what}: {type(exc).__name__}: {one_line(exc)}"
        if isinstance(exc, (SolverAuthenticationError, ConfigFileError)):
            raise SamplerError(f"{msg}; {_TOKEN_HINT}") from None
        raise SamplerError(f"{msg} (is the D-Wave API endpoint reachable from here?)") from None
    finally:
        quiet.setLevel(level)


def client_config(profile, client_options):
    cfg = dict(CLIENT_OPTIONS)
    cfg.update(client_options or {})
    if profile is not None:
        cfg["profile"] = profile
    return cfg

