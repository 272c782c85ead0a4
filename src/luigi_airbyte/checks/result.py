"""The value every check returns, and the one place that turns failures into an error.

Checks report, they do not raise: a run wants every failing check in its summary, not
just the first. ``raise_for`` is where a caller decides the results should stop the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Literal

from luigi_airbyte.errors import CheckFailedError

Severity = Literal["error", "warning"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning")


def to_json(value: Any) -> Any:
    """A value as JSON holds it: mappings become dicts with text keys, sequences lists."""
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


class JsonRecord:
    """Mixin for a dataclass whose ``to_dict`` is its fields, in declaration order, as JSON
    holds them: a check result, a drift difference, a plan's change."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        return {f.name: to_json(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class CheckResult(JsonRecord):
    """One check's verdict. Only a failed ``error`` check fails the run; warnings are reported."""

    name: str
    kind: str  # freshness | drift | counts | sql
    passed: bool
    severity: Severity = "error"
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be 'error' or 'warning', not {self.severity!r}")
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    @property
    def blocking(self) -> bool:
        """True when this result should stop the pipeline."""
        return not self.passed and self.severity == "error"


class FailedChecksError(CheckFailedError):
    """One or more error-severity checks failed; ``results`` holds them (exit code 6)."""

    def __init__(self, results: Iterable[CheckResult]) -> None:
        self.results: tuple[CheckResult, ...] = tuple(results)
        if len(self.results) == 1:
            # One failure reads as one sentence: it ends up in a one-line recap and table note.
            only = self.results[0]
            super().__init__(f"check {only.name} failed: {only.message}")
            return
        head = f"{len(self.results)} checks failed:"
        super().__init__("\n".join([head, *(f"  - {r.name}: {r.message}" for r in self.results)]))


def raise_for(results: Iterable[CheckResult]) -> list[CheckResult]:
    """Raise ``FailedChecksError`` listing the failed error checks; else return failed warnings."""
    results = list(results)
    blocking = [r for r in results if r.blocking]
    if blocking:
        raise FailedChecksError(blocking)
    return [r for r in results if not r.passed]
