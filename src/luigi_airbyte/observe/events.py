"""Structured events: the one stream every sink (console, JSON lines, CloudWatch, webhook) reads.

Lower layers (sync, transforms) emit through the small ``Emitter`` protocol so they
never depend on a concrete sink.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Event:
    """Something that happened: ``sync.triggered``, ``sync.attached``, ``step.failed``, ..."""

    name: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=utcnow)
    level: str = "info"  # debug | info | warning | error

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.name, "at": self.at.isoformat(), "level": self.level, **self.fields}


class Emitter(Protocol):
    """Anything that accepts events."""

    def emit(self, event: Event) -> None: ...


class Sink(Emitter, Protocol):
    """An emitter that buffers or holds resources: the bus flushes and closes it."""

    def flush(self) -> None: ...

    def close(self) -> None: ...


#: Event levels, lowest first; sinks may filter on them.
LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error")


def level_rank(level: str) -> int:
    """Position of ``level`` in :data:`LEVELS`; unknown levels rank as ``info``."""
    try:
        return LEVELS.index(level.lower())
    except ValueError:
        return 1


class NullEmitter:
    """Drops every event."""

    def emit(self, event: Event) -> None:
        return None


class ListEmitter:
    """Keeps events in memory; for tests and for building run summaries."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def names(self) -> list[str]:
        with self._lock:
            return [e.name for e in self.events]
