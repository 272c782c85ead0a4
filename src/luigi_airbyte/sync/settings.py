"""How a ``SyncRunner`` waits, gives up and judges a finished job."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from luigi_airbyte.errors import ConfigError, Problem
from luigi_airbyte.sync.outcome import DropMode, ZeroRowsMode
from luigi_airbyte.sync.polling import AdaptivePolling, PollStrategy

HOUR = 3600.0
MINUTE = 60.0


@dataclass(frozen=True)
class SyncSettings:
    """Runner behaviour; validated on creation (``ConfigError`` lists every problem).

    Args:
        poll_strategy: when to poll; ``AdaptivePolling`` uses recent job durations.
        timeout: wait deadline in seconds, counted from the start of ``wait`` less the
            time the job spent queued; ``None`` waits forever (not recommended: stuck
            jobs exist, airbyte#7806).
        queue_timeout: how long a job may stay ``pending``/``queued`` before its first
            attempt (Airbyte waiting for capacity) before the wait gives up, leaving the
            job queued: it is never cancelled for waiting. Default 8 h, when Airbyte
            itself cancels a manual sync still queued. ``None`` waits forever.
        on_timeout: ``"cancel"`` the job (and confirm it stopped) or ``"detach"``,
            leaving it running with the ledger row open so the next run re-attaches.
        on_interrupt: what Ctrl-C / SIGTERM does to the job; see ``SyncRunner.wait``.
        stuck_after: seconds without any change in status or counts before the job is
            called stuck; ``None`` disables the check.
        on_stuck: ``"warn"`` (event ``sync.stuck``) or ``"cancel"``.
        confirm_window: seconds to look for a job after an ambiguous create or a 409
            before concluding there is none. Must exceed Airbyte's listing lag.
        clock_skew: how far before our own clock a job's ``startTime`` may be and still
            be ours when reconciling an ambiguous create.
        zero_rows / drop_threshold / on_drop: outcome rules (``outcome.py``).
        history_size: how many recent jobs inform the poll strategy and outcome rules.
        details_interval: minimum seconds between ``get_job_details`` calls while
            running (that call is heavier than ``get_job``).
        progress_interval: minimum seconds between progress callbacks when nothing
            changed (each one may be an RPC to luigid).
        cancel_confirm_timeout: how long to poll for a cancelled job to reach a
            terminal status before giving up on confirming.
    """

    poll_strategy: PollStrategy = field(default_factory=AdaptivePolling)
    timeout: float | None = 6 * HOUR
    queue_timeout: float | None = 8 * HOUR
    on_timeout: Literal["cancel", "detach"] = "cancel"
    on_interrupt: Literal["detach", "cancel"] = "detach"
    stuck_after: float | None = 30 * MINUTE
    on_stuck: Literal["warn", "cancel"] = "warn"
    confirm_window: float = 30.0
    clock_skew: float = 120.0
    zero_rows: ZeroRowsMode = "warn"
    drop_threshold: float | None = 0.5
    on_drop: DropMode = "warn"
    history_size: int = 10
    details_interval: float = 60.0
    progress_interval: float = 5.0
    cancel_confirm_timeout: float = 120.0

    def __post_init__(self) -> None:
        problems: list[Problem] = []

        def bad(name: str, message: str, fix: str) -> None:
            problems.append(Problem(source="sync settings", field=name, message=message, fix=fix))

        def positive(name: str, value: float | None, *, optional: bool) -> None:
            if value is None:
                if not optional:
                    bad(name, "must be set", "give a number of seconds")
                return
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                bad(name, f"must be a number, got {value!r}", "give a number of seconds")
            elif math.isnan(value) or value <= 0:
                bad(name, f"must be > 0, got {value!r}", "give a positive number of seconds")

        positive("timeout", self.timeout, optional=True)
        positive("queue_timeout", self.queue_timeout, optional=True)
        positive("stuck_after", self.stuck_after, optional=True)
        for name in (
            "confirm_window",
            "details_interval",
            "progress_interval",
            "cancel_confirm_timeout",
        ):
            positive(name, getattr(self, name), optional=False)
        if not self.clock_skew >= 0:
            bad("clock_skew", f"must be >= 0, got {self.clock_skew!r}", "use 0 or more seconds")
        choices: dict[str, tuple[str, ...]] = {
            "on_timeout": ("cancel", "detach"),
            "on_interrupt": ("detach", "cancel"),
            "on_stuck": ("warn", "cancel"),
            "zero_rows": ("ignore", "warn", "fail"),
            "on_drop": ("warn", "fail"),
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                bad(name, f"unknown value {value!r}", f"use one of: {', '.join(allowed)}")
        if self.drop_threshold is not None and not 0 < self.drop_threshold <= 1:
            bad(
                "drop_threshold",
                f"must be a fraction in (0, 1], got {self.drop_threshold!r}",
                "e.g. 0.5 flags a job that committed less than half the usual rows",
            )
        if isinstance(self.history_size, bool) or not (
            isinstance(self.history_size, int) and self.history_size >= 1
        ):
            bad("history_size", f"must be an integer >= 1, got {self.history_size!r}", "e.g. 10")
        if not callable(getattr(self.poll_strategy, "next_delay", None)):
            bad("poll_strategy", "has no next_delay(state) method", "use AdaptivePolling()")
        if problems:
            raise ConfigError(problems)
