"""The vocabulary of drift checks: what the pipeline expects, and how a difference is reported.

Kept apart from the diffing logic in ``drift`` so the pipeline layer can build
expectations (and the CLI render reports) without reading the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from luigi_airbyte.airbyte import ConnectionSettings
from luigi_airbyte.checks.result import CheckResult, JsonRecord, Severity

FieldPath = tuple[str, ...]


@dataclass(frozen=True)
class ExpectedStream:
    """What the pipeline file says about one stream; None means "not checked".

    ``cursor`` is a column name or a path (``["data", "updated_at"]``). ``primary_key`` is
    a column name, a list of columns (a composite key) or a list of paths (``[["id"]]``).
    ``namespace`` only disambiguates streams of the same name.
    """

    sync_mode: str | None = None
    cursor: str | Sequence[str] | None = None
    primary_key: str | Sequence[str] | Sequence[Sequence[str]] | None = None
    selected: bool = True
    columns: Sequence[str] | None = None
    namespace: str | None = None

    @property
    def cursor_path(self) -> FieldPath | None:
        if self.cursor is None:
            return None
        return (self.cursor,) if isinstance(self.cursor, str) else tuple(self.cursor)

    @property
    def key_paths(self) -> tuple[FieldPath, ...] | None:
        if self.primary_key is None:
            return None
        if isinstance(self.primary_key, str):
            return ((self.primary_key,),)
        return tuple((k,) if isinstance(k, str) else tuple(k) for k in self.primary_key)


@dataclass(frozen=True)
class ExpectedConnection(ConnectionSettings):
    """Connection-level expectations; ``status`` is checked by default, the settings when
    set (they are keyword-only)."""

    status: str | None = "active"


@dataclass(frozen=True)
class Difference(JsonRecord):
    """One way the connection differs from the expectation, and how to fix it."""

    stream: str | None  # None: the connection itself
    kind: str
    message: str
    fix: str
    expected: Any = None
    actual: Any = None
    severity: Severity = "error"


@dataclass(frozen=True)
class DriftReport:
    """Every difference found for one connection."""

    connection_id: str
    connection_name: str
    streams: tuple[str, ...]  # the streams that were checked (expected, plus extras if strict)
    differences: tuple[Difference, ...] = ()
    extra_streams: tuple[str, ...] = field(default=())  # selected but not expected

    @property
    def label(self) -> str:
        return self.connection_name or self.connection_id

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.differences)

    def for_stream(self, stream: str | None) -> list[Difference]:
        return [d for d in self.differences if d.stream == stream]

    def to_dict(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "connection_name": self.connection_name,
            "streams": list(self.streams),
            "extra_streams": list(self.extra_streams),
            "has_errors": self.has_errors,
            "differences": [d.to_dict() for d in self.differences],
        }

    def to_results(self) -> list[CheckResult]:
        """One result for the connection, then one per checked stream."""
        out = [self._result(None, f"drift:{self.label}")]
        out += [self._result(s, f"drift:{self.label}:{s}") for s in self.streams]
        return out

    def _result(self, stream: str | None, name: str) -> CheckResult:
        diffs = self.for_stream(stream)
        details = {
            "connection_id": self.connection_id,
            "stream": stream,
            "differences": [d.to_dict() for d in diffs],
        }
        subject = f"connection {self.label!r}" if stream is None else f"stream {stream!r}"
        if not diffs:
            return CheckResult(name, "drift", True, "error", f"{subject} matches", details)
        severity: Severity = "error" if any(d.severity == "error" for d in diffs) else "warning"
        text = " / ".join(f"{d.message} Fix: {d.fix}" for d in diffs)
        return CheckResult(name, "drift", False, severity, text, details)
