"""JSON lines: one event object per line, appended, fsync'd on flush so a crash keeps them."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from luigi_airbyte.observe.events import Event

__all__ = ["JsonLinesSink"]


class JsonLinesSink:
    """Appends ``event.to_dict()`` as JSON to ``path`` (created 0600: events describe the run).

    Each line (or each batch of lines, `emit_many`) is one ``write`` on an ``O_APPEND``
    descriptor, with no buffer in this process: a forked Luigi worker that exits without
    flushing loses nothing, and never writes again what its parent had buffered at the fork.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = f"jsonl:{self.path}"
        self._lock = threading.Lock()
        self._fd: int | None = None

    def _file(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

    def emit(self, event: Event) -> None:
        self._write(_line(event))

    def emit_many(self, events: list[Event]) -> None:
        """Their lines in one ``write`` (the skip notes of a scheduling pass: 1,000 at once)."""
        self._write("".join(_line(e) for e in events))

    def _write(self, text: str) -> None:
        data = text.encode("utf-8")
        with self._lock:
            fd = self._file()
            while data:
                data = data[os.write(fd, data) :]

    def flush(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None


def _line(event: Event) -> str:
    return (
        json.dumps(event.to_dict(), default=str, ensure_ascii=False, separators=(",", ":")) + "\n"
    )
