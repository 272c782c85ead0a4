"""Live progress of a run on stderr: rich colours in a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import threading
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from luigi_airbyte.observe.events import Event


_STYLE = {
    "step.started": ("…", "cyan"),
    "step.succeeded": ("✓", "green"),
    "step.failed": ("✗", "red"),
    "step.fresh": ("↷", "blue"),
    "step.skipped": ("↷", "blue"),
    "sync.job": ("⇄", "magenta"),
    "check.result": ("?", "yellow"),
}


class ProgressPrinter:
    """An event sink that prints one line per step-level event."""

    name = "progress"

    def __init__(self, stream: IO[str] | None = None, *, color: bool | None = None) -> None:
        stream = stream or sys.stderr
        tty = stream.isatty() if color is None else color
        # Not a terminal (CI, a log file, a forked worker writing to a pipe): write the plain
        # line ourselves. Rich's markup, emoji and measuring passes cost about as much as the
        # rest of a skipped step, and importing rich at all ~30 ms of the run's start.
        self.plain: IO[str] | None = None if tty else stream
        self.console: Console | None = None
        if tty:
            from rich.console import Console

            self.console = Console(file=stream, force_terminal=True, highlight=False)
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        line = self._line(event)
        if line is None:
            return
        mark, colour, text = line
        with self._lock:
            if self.plain is not None:
                self.plain.write(f"{mark} {text}\n")
                self.plain.flush()
                return
            from rich.markup import escape

            assert self.console is not None  # a terminal: made in __init__
            self.console.print(
                f"[{colour}]{mark}[/{colour}] {escape(text)}", markup=True, soft_wrap=True
            )

    def emit_many(self, events: list[Event]) -> None:
        """The lines of ``events``; written and flushed once when not on a terminal."""
        if self.plain is None:
            for event in events:
                self.emit(event)
            return
        lines = [line for line in map(self._line, events) if line is not None]
        if not lines:
            return
        with self._lock:
            self.plain.write("".join(f"{mark} {text}\n" for mark, _, text in lines))
            self.plain.flush()

    @staticmethod
    def _line(event: Event) -> tuple[str, str, str] | None:
        """(mark, colour, text) of an event's line, or None for an event not printed."""
        style = _STYLE.get(event.name)
        if style is None:
            return None
        mark, colour = style
        f = event.fields
        step = f.get("step", "")
        if event.name == "sync.job":
            text = f"{step}: Airbyte job {f.get('job_id')} ({f.get('how')})"
        elif event.name == "check.result":
            verdict = "passed" if f.get("passed") else "FAILED"
            mark, colour = ("✓", "green") if f.get("passed") else ("✗", "red")
            text = f"{step}: check {f.get('check')} {verdict}: {f.get('message', '')}"
        elif event.name == "step.succeeded":
            rows = f.get("rows")
            extra = f", {rows} rows" if rows is not None else ""
            text = f"{step}: succeeded in {float(f.get('duration_s') or 0):.1f}s{extra}"
        elif event.name == "step.failed":
            text = f"{step}: failed (exit {f.get('exit_code')}): {f.get('error', '')}"
        elif event.name in ("step.fresh", "step.skipped"):
            text = f"{step}: skipped, {f.get('message', '')}"
        else:
            text = f"{step}: started ({f.get('kind', '')})"
        return mark, colour, text

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None
