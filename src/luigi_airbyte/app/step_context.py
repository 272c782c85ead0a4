"""What identifies a step execution, and how live progress is reported."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Protocol


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
