"""One plain-text line per event, for terminals and CI logs (the CLI adds colour itself)."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

from luigi_airbyte.observe.events import Event, level_rank

__all__ = ["ConsoleSink", "format_line"]


def _value(value: Any) -> str:
    if isinstance(value, str):
        plain = value and not any(c.isspace() or c in "\"'=" for c in value)
        return value if plain else json.dumps(value, ensure_ascii=False)
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))


def format_line(event: Event) -> str:
    """``2024-05-01T12:00:00Z WARNING sync.slow connection=crm job_id=42``."""
    stamp = event.at.strftime("%Y-%m-%dT%H:%M:%SZ")
    fields = " ".join(f"{k}={_value(v)}" for k, v in event.fields.items())
    head = f"{stamp} {event.level.upper():<7} {event.name}"
    return f"{head} {fields}" if fields else head


class ConsoleSink:
    """Writes :func:`format_line` output to ``stream`` (stderr, looked up at write time)."""

    name = "console"

    def __init__(self, stream: TextIO | None = None, *, min_level: str = "info") -> None:
        self._stream = stream
        self.min_level = min_level
        self._lock = threading.Lock()

    @property
    def stream(self) -> TextIO:
        # Resolved lazily so redirected or captured stderr (pytest, the CLI) is honoured.
        return self._stream if self._stream is not None else sys.stderr

    def emit(self, event: Event) -> None:
        if level_rank(event.level) < level_rank(self.min_level):
            return
        line = format_line(event).replace("\n", "\\n")
        with self._lock:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        with self._lock:
            self.stream.flush()

    def close(self) -> None:
        self.flush()
