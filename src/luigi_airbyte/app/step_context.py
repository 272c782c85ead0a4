"""What identifies a step execution, and how live progress is reported."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Protocol

from luigi_airbyte.errors import ConfigError, Problem


@dataclass(frozen=True)
class StepContext:
    """Which step of which run: the identity a Luigi task carries."""

    pipeline: str
    step: str
    run_date: date
    interval: str = ""
    run_id: str = ""

    @property
    def partition(self) -> str:
        return self.interval or self.run_date.isoformat()


@dataclass(frozen=True)
class SyncRequest:
    """A sync as a task asks for it: connection name or id, optional freshness window."""

    connection: str
    freshness: str = ""


class Reporter(Protocol):
    """Where live progress goes (Luigi's tracking URL, status message, progress bar)."""

    def tracking_url(self, url: str) -> None: ...
    def status(self, message: str) -> None: ...
    def progress(self, percent: float) -> None: ...


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def sync_run_key(connection_id: str, partition: str) -> str:
    return f"sync:{connection_id}:{partition}"


_INTERVAL_PART = re.compile(r"[0-9A-Za-z][0-9A-Za-z._+-]{0,63}")


def check_interval(run_date: date, interval: str, source: str = "cli") -> str:
    """``interval`` as a part of ``run_date``, or ``ConfigError``.

    A sync's run key names its data by the interval when there is one, so an interval
    must name a part of the run's date: ``2026-11-24T14`` of 2026-11-24. Another date
    (or a bare one) took that date's run key: the run skipped a sync its data never had.
    """
    if not interval:
        return ""
    day = run_date.isoformat()
    part = interval[len(day) + 1 :] if interval.startswith(f"{day}T") else ""
    if _INTERVAL_PART.fullmatch(part):
        return interval
    raise ConfigError(
        [
            Problem(
                source=source,
                field="--interval",
                message=f"{interval!r} is not a part of the run date {day}",
                fix=(
                    f"start it with {day}T and name the part with letters, digits, '.', "
                    f"'_', '+' or '-', e.g. {day}T14; or leave --interval out"
                ),
            )
        ]
    )


def human_age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def failure_text(exc: BaseException, redact: Callable[[str], str]) -> tuple[int, str]:
    """A failed step's exit code and message: the code goes to ``steps.exit_code``, the
    message (redacted) to ``steps.message``; neither is written into the other."""
    from luigi_airbyte.exit_codes import for_failed_step

    return for_failed_step(exc), redact(str(exc)) or type(exc).__name__
