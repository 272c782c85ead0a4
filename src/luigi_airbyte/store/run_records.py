"""The records a run leaves (frozen dataclasses), and turning store rows into them.

Reads from ``RunRepository`` return these, never SQLAlchemy rows, so callers do not
depend on the database layer.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from luigi_airbyte.masking import MASK, is_secret_name, mask_url
from luigi_airbyte.store._rows import record_from_row
from luigi_airbyte.store._upsert import dialect_insert
from luigi_airbyte.store.schema import (
    STEP_KINDS,
    STEP_STATUSES,
    clean_text,
    ensure_utc,
    steps,
    utcnow,
)


class _Unset(Enum):
    UNSET = "UNSET"


UNSET: Final = _Unset.UNSET
"""Default for ``upsert_step`` fields: "leave the stored value alone"."""


@dataclass(frozen=True)
class RunSummary:
    """One run, without its steps: a row of ``luigi-airbyte history``."""

    run_id: str
    pipeline: str
    run_date: date | None
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    exit_code: int | None = None
    host: str | None = None
    argv: str | None = None
    scheduler: str | None = None
    message: str | None = None
    identity: str | None = None  # who the run acted as: client id or token subject
    step_counts: Mapping[str, int] = field(default_factory=dict)  # status -> number of steps
    heartbeat_at: datetime | None = None  # last sign of life of the process holding it
    pid: int | None = None  # the process holding it (on ``host``)
    pid_started_at: float | None = None  # that process's start time: a reused pid differs

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class StepRecord:
    """One step of a run (a sync, check, dbt, Spark or command task)."""

    run_id: str
    step_name: str
    kind: str
    status: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    job_id: int | None = None
    rows: int | None = None
    message: str | None = None  # failure reason, skip reason, or a note
    owner: str | None = None
    exit_code: int | None = None  # a failed step's exit code (3-7, 4 store/Airbyte, 1)


@dataclass(frozen=True)
class StreamStatRecord:
    """Per-stream counts of one Airbyte job, as recorded for a step."""

    run_id: str
    step_name: str
    job_id: int | None
    stream: str
    namespace: str | None = None
    records_emitted: int = 0
    records_committed: int = 0
    bytes_emitted: int = 0
    bytes_committed: int = 0
    records_rejected: int = 0


@dataclass(frozen=True)
class CheckRecord:
    """The result of one check (drift, counts, freshness, SQL) attached to a step."""

    run_id: str
    step_name: str
    check: str
    passed: bool
    severity: str
    message: str | None
    details: Mapping[str, Any] | None
    at: datetime


@dataclass(frozen=True)
class EventRecord:
    """A stored event (``sync.triggered``, ``step.failed``, ...)."""

    run_id: str | None
    at: datetime
    name: str
    level: str
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class RunDetail:
    """A run with everything recorded for it: what reports are built from."""

    run: RunSummary
    steps: tuple[StepRecord, ...] = ()
    stream_stats: tuple[StreamStatRecord, ...] = ()
    checks: tuple[CheckRecord, ...] = ()

    def step(self, step_name: str) -> StepRecord | None:
        return next((s for s in self.steps if s.step_name == step_name), None)

    def streams_for(self, step_name: str) -> tuple[StreamStatRecord, ...]:
        return tuple(s for s in self.stream_stats if s.step_name == step_name)

    def checks_for(self, step_name: str) -> tuple[CheckRecord, ...]:
        return tuple(c for c in self.checks if c.step_name == step_name)


# --- argv summary -----------------------------------------------------------------------

_ARGV_MAX_CHARS = 1000


def summarize_argv(argv: Sequence[str] | str | None) -> str | None:
    """A shell-quoted, secret-free, length-capped copy of the command line.

    Defence in depth: the CLI should never receive a secret on the command line, but if
    ``--token x``, ``--client-secret=x``, ``API_KEY=x`` or ``https://u:p@host`` slip in,
    their values become ``***`` here.
    """
    if argv is None:
        return None
    tokens = shlex.split(argv) if isinstance(argv, str) else [str(a) for a in argv]
    out: list[str] = []
    mask_next = False
    for token in tokens:
        if mask_next:
            out.append(MASK)
            mask_next = False
            continue
        token = mask_url(token)
        name, sep, _value = token.partition("=")
        if sep and is_secret_name(name):
            out.append(f"{name}={MASK}")
        elif token.startswith("-") and is_secret_name(token):
            out.append(token)
            mask_next = True
        else:
            out.append(token)
    text = shlex.join(out)
    if len(text) > _ARGV_MAX_CHARS:
        text = text[: _ARGV_MAX_CHARS - 3] + "..."
    return text


# --- helpers ----------------------------------------------------------------------------


def _aware(value: datetime | None, what: str) -> datetime | None:
    return None if value is None else ensure_utc(value, what)


def _insert(conn: Connection, table: sa.Table) -> Any:
    """A dialect ``INSERT`` with ``on_conflict_do_*`` (both supported backends have it)."""
    return dialect_insert(conn, table)


def _stat_value(source: Mapping[str, Any] | object, *names: str) -> Any:
    for name in names:
        if isinstance(source, Mapping):
            if name in source:
                return source[name]
        elif hasattr(source, name):
            return getattr(source, name)
    return None


def _event_rows(
    run_id: str | None, items: Iterable[Mapping[str, Any] | object]
) -> list[dict[str, Any]]:
    """Rows of the events table: each item a mapping or an object (``observe.events.Event``)
    with ``name`` and optionally ``level``, ``fields`` and ``at`` (default: now)."""
    rows = []
    for item in items:
        name = _stat_value(item, "name")
        if not name:
            raise ValueError(f"an event needs a name: {item!r}")
        at = _stat_value(item, "at")
        fields = _stat_value(item, "fields")
        rows.append(
            {
                "run_id": run_id,
                "name": str(name),
                "level": str(_stat_value(item, "level") or "info"),
                "fields": dict(fields) if fields else {},
                "at": _aware(at, "event time") if at is not None else utcnow(),
            }
        )
    return rows


def _stats_row(item: Mapping[str, Any] | object) -> dict[str, Any]:
    """Normalise a stats dict, a dataclass (``airbyte.models.StreamStats``) or any object."""
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        item = dataclasses.asdict(item)
    stream = _stat_value(item, "stream", "name", "stream_name", "streamName")
    if not stream:
        raise ValueError(f"stream stats need a stream name (stream= or name=): {item!r}")
    row: dict[str, Any] = {
        "stream": str(stream),
        "namespace": _stat_value(item, "namespace", "stream_namespace", "streamNamespace"),
    }
    for column, camel in (
        ("records_emitted", "recordsEmitted"),
        ("records_committed", "recordsCommitted"),
        ("bytes_emitted", "bytesEmitted"),
        ("bytes_committed", "bytesCommitted"),
        ("records_rejected", "recordsRejected"),
    ):
        row[column] = int(_stat_value(item, column, camel) or 0)
    return row


def _check_step_values(kind: object, status: object) -> None:
    if kind is not UNSET and kind not in STEP_KINDS:
        raise ValueError(f"step kind {kind!r} is not one of {', '.join(STEP_KINDS)}")
    if status is not UNSET and status not in STEP_STATUSES:
        raise ValueError(f"step status {status!r} is not one of {', '.join(STEP_STATUSES)}")


def _step_values(**fields: Any) -> dict[str, Any]:
    """The step fields given (not ``UNSET``): times checked for a zone, text made storable."""
    given = {name: value for name, value in fields.items() if value is not UNSET}
    for name in ("started_at", "finished_at"):
        if given.get(name) is not None:
            given[name] = ensure_utc(given[name], name)
    for name in ("message", "owner"):
        if name in given:
            given[name] = clean_text(given[name])
    return given


def _fill_duration(
    conn: Connection, key: sa.ColumnElement[bool], given: Mapping[str, Any], row: sa.RowMapping
) -> sa.RowMapping:
    """The step's ``row`` (as just written), its duration computed from its times when
    this call set a time (or none is stored) and gave no explicit ``duration_s``."""
    times_changed = "started_at" in given or "finished_at" in given
    if (
        "duration_s" not in given
        and (times_changed or row["duration_s"] is None)
        and row["started_at"]
        and row["finished_at"]
    ):
        duration = (row["finished_at"] - row["started_at"]).total_seconds()
        if row["duration_s"] != duration:
            update = steps.update().where(key).values(duration_s=duration).returning(*steps.c)
            row = conn.execute(update).mappings().one()
    return row


def _step_from_row(row: sa.RowMapping) -> StepRecord:
    return record_from_row(StepRecord, row)


def _stat_from_row(r: sa.RowMapping) -> StreamStatRecord:
    return record_from_row(StreamStatRecord, r)


def _summary_from_row(row: sa.RowMapping, counts: Mapping[str, int]) -> RunSummary:
    return record_from_row(RunSummary, row, step_counts=dict(counts))
