"""The plan as data: what differs (``Change``), what changed at the source
(``SourceChange``), what no PATCH can fix (``Blocker``), per connection and in total.

``Plan.to_dict()`` is the ``plan --json`` document (``PLAN_FORMAT_VERSION``);
``ApplyResult`` what ``apply`` did.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from luigi_airbyte.checks.result import JsonRecord
from luigi_airbyte.exit_codes import for_apply, for_plan
from luigi_airbyte.pipeline._steps import Expect

PLAN_FORMAT_VERSION = 1
Json = dict[str, Any]


@dataclass(frozen=True)
class Change(JsonRecord):
    """One setting that differs; ``apply`` sets it to ``intended``."""

    path: str  # status, schedule, prefix, streams.users.sync_mode, streams.orders, catalog
    action: Literal["update", "select", "deselect", "refresh"]
    airbyte: Any
    intended: Any
    message: str


@dataclass(frozen=True)
class SourceChange(JsonRecord):
    """A change at the source since the connection was last saved."""

    kind: Literal["stream_added", "stream_removed", "field_added", "field_removed"]
    stream: str
    field: str | None
    breaking: bool
    message: str


@dataclass(frozen=True)
class Blocker(JsonRecord):
    """A difference no PATCH can fix; ``fix`` says what to change instead."""

    stream: str | None
    message: str
    fix: str


@dataclass(frozen=True)
class PlanTarget:
    """A connection the file manages: its reference, the steps naming it, their expect."""

    connection: str
    steps: tuple[str, ...]
    expect: Expect


@dataclass
class ConnectionPlan:
    connection: str  # as the pipeline file names it
    steps: tuple[str, ...]
    connection_id: str | None = None
    name: str | None = None  # the connection's name in Airbyte
    changes: list[Change] = field(default_factory=list)
    source_changes: list[SourceChange] = field(default_factory=list)
    blockers: list[Blocker] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    patch: Json | None = None  # the body apply sends; None when nothing to send

    @property
    def status(self) -> Literal["in_sync", "drifted", "error"]:
        if self.error is not None:
            return "error"
        if self.changes or self.source_changes or self.blockers:
            return "drifted"
        return "in_sync"

    def to_dict(self) -> Json:
        return {
            "connection": self.connection,
            "connection_id": self.connection_id,
            "name": self.name,
            "steps": list(self.steps),
            "status": self.status,
            "changes": [c.to_dict() for c in self.changes],
            "source_changes": [c.to_dict() for c in self.source_changes],
            "blockers": [b.to_dict() for b in self.blockers],
            "notes": list(self.notes),
            "error": self.error,
            "patch": self.patch,
        }


@dataclass
class Plan:
    file: str
    connections: list[ConnectionPlan]

    @property
    def drifted(self) -> bool:
        return any(c.status == "drifted" for c in self.connections)

    @property
    def errors(self) -> list[ConnectionPlan]:
        return [c for c in self.connections if c.status == "error"]

    @property
    def exit_code(self) -> int:
        """0 clean, 6 drifted, 4 when Airbyte could not be asked about a connection."""
        return for_plan(errors=bool(self.errors), drifted=self.drifted)

    def to_dict(self) -> Json:
        return {
            "format_version": PLAN_FORMAT_VERSION,
            "file": self.file,
            "exit_code": self.exit_code,
            "drifted": self.drifted,
            "summary": {
                "connections": len(self.connections),
                "in_sync": sum(c.status == "in_sync" for c in self.connections),
                "drifted": sum(c.status == "drifted" for c in self.connections),
                "errors": len(self.errors),
                "changes": sum(len(c.changes) for c in self.connections),
                "source_changes": sum(len(c.source_changes) for c in self.connections),
                "blockers": sum(len(c.blockers) for c in self.connections),
            },
            "connections": [c.to_dict() for c in self.connections],
        }


@dataclass
class ApplyResult:
    applied: list[ConnectionPlan] = field(default_factory=list)
    unchanged: list[ConnectionPlan] = field(default_factory=list)
    blocked: list[ConnectionPlan] = field(default_factory=list)
    failed: ConnectionPlan | None = None
    failure: str | None = None
    not_attempted: list[ConnectionPlan] = field(default_factory=list)
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        """0 all applied, 4 Airbyte refused or could not be asked, 6 blockers remain,
        130 interrupted."""
        return for_apply(
            interrupted=self.interrupted, failed=self.failed is not None, blocked=bool(self.blocked)
        )

    def stopped_at(
        self, cp: ConnectionPlan, failure: str, queue: Iterable[ConnectionPlan]
    ) -> ApplyResult:
        """Stopped at ``cp`` (refused or interrupted): ``queue``'s changes were not sent."""
        self.failed = cp
        self.failure = failure
        self.not_attempted = [c for c in queue if c.patch is not None and not c.blockers]
        return self

    def to_dict(self) -> Json:
        def names(items: Iterable[ConnectionPlan]) -> list[str]:
            return [c.connection for c in items]

        return {
            "format_version": PLAN_FORMAT_VERSION,
            "exit_code": self.exit_code,
            "applied": names(self.applied),
            "unchanged": names(self.unchanged),
            "blocked": names(self.blocked),
            "failed": self.failed.connection if self.failed is not None else None,
            "failure": self.failure,
            "not_attempted": names(self.not_attempted),
            "interrupted": self.interrupted,
        }
