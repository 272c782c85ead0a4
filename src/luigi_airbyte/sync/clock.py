"""Time as a dependency, so waits of hours can be tested in milliseconds.

``SyncRunner`` never calls ``time`` or ``datetime.now`` directly: it asks its ``Clock``.
``monotonic`` measures deadlines (immune to wall-clock jumps); ``now`` is the wall time
sent to Airbyte (``createdAtStart``) and written to the ledger.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    """The three time operations the runner needs."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for deadlines and elapsed time)."""
        ...

    def now(self) -> datetime:
        """The current wall time, timezone-aware UTC."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` (interruptible by signals in the main thread)."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


class FakeClock:
    """A clock that only moves when someone sleeps or calls ``advance``.

    Shipped (not test-only) so the Luigi task tests and users' own tests can drive a
    ``SyncRunner`` through hours of simulated polling instantly.
    """

    def __init__(self, start: datetime = _EPOCH) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock start must be timezone-aware")
        self._start = start
        self._offset = 0.0
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        with self._lock:
            return self._offset

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._offset)

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._offset += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward without recording a sleep."""
        with self._lock:
            self._offset += max(0.0, seconds)
