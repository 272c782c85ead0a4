"""JSON lines: one event object per line, appended, fsync'd on flush so a crash keeps them."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import IO

from luigi_airbyte.observe.events import Event

__all__ = ["JsonLinesSink"]


class JsonLinesSink:
    """Appends ``event.to_dict()`` as JSON to ``path`` (created 0600: events describe the run)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = f"jsonl:{self.path}"
        self._lock = threading.Lock()
        self._fh: IO[str] | None = None

    def _file(self) -> IO[str]:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._fh = os.fdopen(fd, "a", encoding="utf-8")
        return self._fh

    def emit(self, event: Event) -> None:
        line = json.dumps(event.to_dict(), default=str, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._file().write(line + "\n")

    def flush(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.flush()
                os.fsync(self._fh.fileno())

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()
                self._fh = None
