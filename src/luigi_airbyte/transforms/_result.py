"""What a transform step produced: one result per step, one record per model or stage.

The records are what the store keeps and the summary table shows, so they are plain
frozen values with no reference to the process that made them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from luigi_airbyte.errors import TransformError

Redactor = Callable[[str], str]
"""Maps text that may hold a secret to text that does not (the caller's redaction hook)."""

FAILED_STATUSES = frozenset({"error", "fail", "failed", "runtime error", "failure"})
"""Record statuses that mean the model or stage did not produce good data."""


def identity(text: str) -> str:
    """The default redactor: returns the text unchanged."""
    return text


@dataclass(frozen=True)
class TransformRecord:
    """One dbt node, Spark stage or command: what ran and how it ended."""

    name: str
    status: str
    rows_affected: int | None = None
    duration_s: float = 0.0
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.status.lower() in FAILED_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """Every field, by name (what the store keeps)."""
        return asdict(self)


@dataclass(frozen=True)
class TransformResult:
    """The outcome of one transform step. ``log_tail`` is already redacted."""

    kind: str  # dbt | spark | command
    name: str
    succeeded: bool
    started_at: datetime
    finished_at: datetime
    duration_s: float
    records: tuple[TransformRecord, ...]
    log_tail: str
    exit_code: int | None

    @property
    def failed_records(self) -> tuple[TransformRecord, ...]:
        return tuple(r for r in self.records if r.failed)

    @property
    def rows_affected(self) -> int | None:
        """Sum of the known row counts, or None when no record reported one."""
        known = [r.rows_affected for r in self.records if r.rows_affected is not None]
        return sum(known) if known else None

    def summary(self, limit: int = 200) -> str:
        """One line for the run's summary: what ran and how it ended, in the step's own
        words (dbt nodes, Spark outputs, a command's exit and last line). Row counts have
        their own column; "1 records in 4.6s" read as one row loaded."""
        took = f"in {self.duration_s:.1f}s"
        if self.kind == "command":
            record = self.records[0] if self.records else None
            if record is not None and record.status == "timeout":
                ended = "timed out"
            else:
                ended = "exit ?" if self.exit_code is None else f"exit {self.exit_code}"
            last = " ".join((record.message if record is not None else "").split())
            line = f"{ended} {took}" + (f": {last}" if last else "")
            return line if len(line) <= limit else line[: limit - 1] + "…"
        noun = {"dbt": "dbt node", "spark": "Spark output"}.get(self.kind, "record")
        count = len(self.records)
        statuses = Counter(r.status for r in self.records)
        detail = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        plural = "" if count == 1 else "s"
        return f"{count} {noun}{plural}" + (f" ({detail})" if detail else "") + f" {took}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "succeeded": self.succeeded,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "duration_s": self.duration_s,
            "records": [r.to_dict() for r in self.records],
            "log_tail": self.log_tail,
            "exit_code": self.exit_code,
        }


class TransformFailedError(TransformError):
    """A step failed; ``result`` keeps the records of what did run (exit code 7)."""

    def __init__(self, message: str, result: TransformResult) -> None:
        self.result = result
        super().__init__(message)
