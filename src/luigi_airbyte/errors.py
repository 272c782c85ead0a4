"""Every error luigi-airbyte raises, rooted at one class so callers can catch them all.

Each class carries the process exit code the CLI uses for it, so the mapping from
failure to exit code lives in one place (see docs/exit-codes.md).

    LuigiAirbyteError                      exit 1  unexpected / internal
    ├── ConfigError                        exit 3  bad settings or pipeline file (every problem)
    ├── SecretError                        exit 4  a secret reference cannot be resolved at runtime
    ├── AirbyteError                       exit 4  anything about talking to Airbyte
    │   ├── AirbyteTransportError                  network failure; the request may not have arrived
    │   │   └── JobCreateUncertainError            POST /jobs sent but the answer was lost
    │   ├── AirbyteAPIError                        Airbyte answered with an error status
    │   │   ├── AuthenticationError                401 / 403
    │   │   ├── NotFoundError                      404
    │   │   ├── ConflictError                      409
    │   │   │   ├── SyncAlreadyRunningError        409 try-again-later
    │   │   │   └── StateConflictError             409 state-conflict
    │   │   ├── RateLimitedError                   429
    │   │   └── ServerError                        5xx
    │   ├── ConnectionLookupError                  a connection name matches none or several
    │   └── PreflightError                         a preflight check failed before any sync
    ├── SyncError                          exit 5  a sync did not produce good data
    │   ├── SyncFailedError
    │   ├── SyncCancelledError
    │   ├── SyncTimeoutError
    │   └── OutcomeRuleError                       succeeded, but zero rows / sharp drop
    ├── CheckFailedError                   exit 6  drift, counts, freshness SLA
    │   ├── checks.FailedChecksError               carries the failed CheckResults
    │   └── checks.WarehouseError                  the warehouse could not be queried
    ├── TransformError                     exit 7  dbt, Spark or a command failed
    │   └── transforms.TransformFailedError        carries the TransformResult
    └── StoreError                         exit 4  the metadata store failed, or was refused

Messages never carry a secret: no headers, tokens, client secrets or request bodies.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, fields
from typing import Any

from luigi_airbyte.exit_codes import ExitCode


class LuigiAirbyteError(Exception):
    """Root of every luigi-airbyte error."""

    exit_code: ExitCode = ExitCode.UNEXPECTED  # how codes are chosen: exit_codes.py


@dataclass(frozen=True)
class Problem:
    """One problem in a configuration source: where it is, what is wrong, and the fix."""

    source: str  # a file path, "env", "cli", "luigi.cfg"
    field: str  # dotted path, e.g. "pipelines.nightly.steps[0].connection"
    message: str
    fix: str = ""
    line: int | None = None

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        text = f"{where}: {self.field}: {self.message}"
        return f"{text} (fix: {self.fix})" if self.fix else text


class ConfigError(LuigiAirbyteError):
    """Settings or a pipeline file are invalid; every problem found is listed."""

    exit_code = ExitCode.CONFIG

    def __init__(self, problems: Sequence[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(source="config", field="-", message=problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        count = len(self.problems)
        head = f"{count} configuration problem{'s' if count != 1 else ''}:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class SecretError(LuigiAirbyteError):
    """A secret reference could not be resolved (missing variable, unreadable file, ...)."""

    exit_code = ExitCode.AIRBYTE


class AirbyteError(LuigiAirbyteError):
    """Talking to Airbyte failed."""

    exit_code = ExitCode.AIRBYTE


@dataclass(eq=False, repr=False)
class AirbyteTransportError(AirbyteError):
    """The network failed; the request may or may not have reached Airbyte."""

    message: str
    _: KW_ONLY
    method: str = ""
    path: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.message)


class JobCreateUncertainError(AirbyteTransportError):
    """`POST /jobs` was sent but no answer came back: a job may exist.

    The client never resends it. ``SyncRunner`` reconciles by listing the connection's
    jobs; it posts once more only when a listing that succeeded shows no job after the
    confirmation window, and never after a failed listing.
    """


@dataclass(eq=False, repr=False, kw_only=True)
class AirbyteAPIError(AirbyteError):
    """Airbyte answered with an error status."""

    status_code: int
    method: str
    path: str
    server_message: str = ""
    problem_type: str = ""
    hint: str = ""

    def __post_init__(self) -> None:
        text = f"{self.method} {self.path} returned {self.status_code}"
        if self.problem_type:
            text += f" ({self.problem_type})"
        if self.server_message:
            text += f": {self.server_message}"
        if self.hint:
            text += f". {self.hint}"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception pickles as ``cls(*args)``; the fields are keyword-only.
        given = {f.name: getattr(self, f.name) for f in fields(self)}
        return (_rebuild, (type(self), given), self.__dict__)


def _rebuild(cls: type[AirbyteAPIError], given: dict[str, Any]) -> AirbyteAPIError:
    return cls(**given)


class AuthenticationError(AirbyteAPIError):
    """The API credential was refused (401) or lacks permission (403)."""


class NotFoundError(AirbyteAPIError):
    """The resource does not exist (404)."""


class ConflictError(AirbyteAPIError):
    """Airbyte refused because of the resource's current state (409)."""


class SyncAlreadyRunningError(ConflictError):
    """A sync is already running on the connection (409 try-again-later): attach to it."""


class StateConflictError(ConflictError):
    """The connection or job is in a state that forbids the request (409 state-conflict)."""


class RateLimitedError(AirbyteAPIError):
    """Too many requests (429). ``throttled``: it carried no ``Retry-After`` (an operator
    throttles this user) and the client already backed off to its throttle ceiling."""

    throttled: bool = False


class ServerError(AirbyteAPIError):
    """Airbyte failed internally (5xx)."""


class ConnectionLookupError(AirbyteError):
    """A connection given by name matched no connection, or several."""

    def __init__(
        self, name: str, candidates: Sequence[str] = (), *, known: Sequence[str] = ()
    ) -> None:
        self.name = name
        self.candidates = tuple(candidates)
        self.known = tuple(known)  # names of the connections that were visible
        if candidates:
            listed = ", ".join(candidates)
            msg = (
                f"connection name {name!r} is ambiguous; it matches: {listed}. "
                "Use the connection id instead, or rename the connections in Airbyte."
            )
        else:
            msg = f"no connection named {name!r} was found."
            close = difflib.get_close_matches(name, self.known, n=1, cutoff=0.6)
            if close:
                msg += f" Did you mean {close[0]!r}?"
            if self.known:
                shown = sorted(set(self.known))
                more = f" (and {len(shown) - 10} more)" if len(shown) > 10 else ""
                msg += f" Visible connections: {', '.join(shown[:10])}{more}."
            msg += (
                " Check the name, the workspace, and that the API credential can see it "
                "(luigi-airbyte connections list)."
            )
        super().__init__(msg)


class PreflightError(AirbyteError):
    """A preflight check failed, so no sync was started."""


@dataclass(eq=False, repr=False)
class SyncError(LuigiAirbyteError):
    """A sync did not end with usable data."""

    exit_code = ExitCode.SYNC

    message: str
    _: KW_ONLY
    connection_id: str = ""
    job_id: int | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)


class SyncFailedError(SyncError):
    """Airbyte reported the job as failed."""


class SyncCancelledError(SyncError):
    """The job was cancelled."""


class SyncTimeoutError(SyncError):
    """The job did not finish before the deadline; it was cancelled (or detached)."""


class OutcomeRuleError(SyncError):
    """The job succeeded, but its outcome broke a rule (zero rows, sharp drop)."""


class CheckFailedError(LuigiAirbyteError):
    """A data check failed: drift, record counts or freshness."""

    exit_code = ExitCode.CHECK


class TransformError(LuigiAirbyteError):
    """A dbt, Spark or command step failed."""

    exit_code = ExitCode.TRANSFORM


class StoreError(LuigiAirbyteError):
    """The metadata store could not be read or written, or is not one to trust."""

    exit_code = ExitCode.AIRBYTE
