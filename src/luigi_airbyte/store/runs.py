"""What a run did: runs, steps, per-stream counts, check results and events.

``RunRepository`` holds the queries; ``Store`` supplies the transactions (``begin`` for
writes, ``read`` for reads). Every write method commits before it returns, so what a
crashed process recorded is there for the rerun and for the report. Reads return frozen
dataclasses, never SQLAlchemy rows, so callers do not depend on the database layer.
"""

from __future__ import annotations

import re
import socket
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from luigi_airbyte.errors import StoreError
from luigi_airbyte.store._rows import record_from_row
from luigi_airbyte.store.check_history import step_on_date
from luigi_airbyte.store.run_records import (
    UNSET,
    CheckRecord,
    EventRecord,
    RunDetail,
    RunSummary,
    StepRecord,
    StreamStatRecord,
    _aware,
    _check_step_values,
    _event_rows,
    _fill_duration,
    _insert,
    _stat_from_row,
    _stats_row,
    _step_from_row,
    _step_values,
    _summary_from_row,
    _Unset,
    summarize_argv,
)
from luigi_airbyte.store.schema import (
    check_results,
    clean_text,
    ensure_utc,
    events,
    runs,
    steps,
    stream_stats,
    utcnow,
)

__all__ = [
    "CheckRecord",
    "EventRecord",
    "RunDetail",
    "RunSummary",
    "StepRecord",
    "StreamStatRecord",
    "UNSET",
    "summarize_argv",
    "RunRepository",
]

_RUN_ID_PREFIX = re.compile(r"^[0-9a-fA-F-]{4,36}$")


class RunRepository(ABC):
    """Recording and reading runs. ``Store`` is the concrete class."""

    @abstractmethod
    def begin(self, action: str, *, durable: bool = True) -> AbstractContextManager[Connection]:
        """A committed write transaction, errors as ``StoreError``; ``durable``: see Store."""

    @abstractmethod
    def read(self, action: str) -> AbstractContextManager[Connection]:
        """A read-only transaction; errors become ``StoreError``."""

    @abstractmethod
    def query(self, action: str) -> AbstractContextManager[Connection]:
        """A read of one statement (no transaction where that saves round trips)."""

    @abstractmethod
    def write(self, action: str) -> AbstractContextManager[Connection]:
        """A durable write of one statement (no transaction where that saves round trips)."""

    @abstractmethod
    def _not_found(self, what: str) -> StoreError:
        """The error for a missing run (names the store)."""

    # --- runs ---------------------------------------------------------------------------

    def start_run(
        self,
        pipeline: str,
        run_date: date | None = None,
        *,
        run_id: str | None = None,
        started_at: datetime | None = None,
        host: str | None = None,
        argv: Sequence[str] | str | None = None,
        scheduler: str | None = None,
        identity: str | None = None,
        pid: int | None = None,
        pid_started_at: float | None = None,
    ) -> str:
        """Record a new run as ``running`` and return its id (a UUID4 unless given).

        ``identity`` is who the run acts as towards Airbyte (the client id, or the
        subject of a JWT bearer token): never a secret. ``pid`` and ``pid_started_at``
        name the process that holds the run (with ``host``); the run's heartbeat starts
        now. Passing the id of an existing run marks it ``running`` again (a resumed run)
        and keeps its original start time.
        """
        run_id = run_id or str(uuid.uuid4())
        now = utcnow()
        values = {
            "run_id": run_id,
            "pipeline": pipeline,
            "run_date": run_date,
            "started_at": _aware(started_at, "started_at") or utcnow(),
            "finished_at": None,
            "status": "running",
            "exit_code": None,
            "host": clean_text(host if host is not None else _hostname()),
            "argv": clean_text(summarize_argv(argv)),
            "scheduler": clean_text(scheduler),
            "message": None,
            "identity": clean_text(identity),
            "heartbeat_at": now,
            "pid": pid,
            "pid_started_at": pid_started_at,
        }
        with self.begin(f"start run {run_id} of pipeline {pipeline!r}") as conn:
            stmt = _insert(conn, runs).values(values)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[runs.c.run_id],
                    set_={
                        "status": "running",
                        "finished_at": None,
                        "exit_code": None,
                        "heartbeat_at": now,
                        "pid": pid,
                        "pid_started_at": pid_started_at,
                        "host": values["host"],
                    },
                )
            )
        return run_id

    def heartbeat(self, run_id: str, at: datetime | None = None) -> bool:
        """Renew the run's heartbeat; False when the run is no longer ``running``."""
        with self.write(f"renew the heartbeat of run {run_id}") as conn:
            result = conn.execute(
                runs.update()
                .where((runs.c.run_id == run_id) & (runs.c.status == "running"))
                .values(heartbeat_at=_aware(at, "heartbeat") or utcnow())
            )
            return bool(result.rowcount)

    def running_runs(self) -> list[RunSummary]:
        """Every run recorded as ``running``, oldest first (candidates for abandonment)."""
        query = sa.select(runs).where(runs.c.status == "running").order_by(runs.c.started_at)
        with self.read("read running runs") as conn:
            return [_summary_from_row(r, {}) for r in conn.execute(query).mappings()]

    def runs_with_running_steps(self) -> list[str]:
        """Runs that ended (not ``running``) but still have a step marked ``running``."""
        query = (
            sa.select(steps.c.run_id)
            .select_from(steps.join(runs, runs.c.run_id == steps.c.run_id))
            .where((steps.c.status == "running") & (runs.c.status != "running"))
            .distinct()
        )
        with self.read("read steps left running") as conn:
            return [str(run_id) for (run_id,) in conn.execute(query).tuples()]

    def abandon_run(
        self, run_id: str, why: str, *, at: datetime | None = None, only_if_running: bool = True
    ) -> bool:
        """Close a run whose process is gone: the run and its ``running`` steps become
        ``abandoned``, finished ``at`` (now), with ``why`` as the message.

        With ``only_if_running`` the run is only touched while it is still ``running``
        (two readers reaping at once close it once). Returns whether the run changed.
        """
        when = _aware(at, "at") or utcnow()
        text = clean_text(why)
        with self.begin(f"close abandoned run {run_id}") as conn:
            changed = True
            if only_if_running:
                result = conn.execute(
                    runs.update()
                    .where((runs.c.run_id == run_id) & (runs.c.status == "running"))
                    .values(status="abandoned", finished_at=when, message=text)
                )
                changed = bool(result.rowcount)
            if changed:
                self._abandon_steps(conn, run_id, when, text)
            return changed

    def abandon_running_steps(self, run_id: str, why: str, at: datetime | None = None) -> int:
        """Mark the run's steps still ``running`` as ``abandoned`` (their process is gone)."""
        when = _aware(at, "at") or utcnow()
        with self.begin(f"close steps left running in run {run_id}") as conn:
            return self._abandon_steps(conn, run_id, when, clean_text(why))

    @staticmethod
    def _abandon_steps(conn: Connection, run_id: str, when: datetime, why: str | None) -> int:
        key = (steps.c.run_id == run_id) & steps.c.status.in_(("running", "pending"))
        result = conn.execute(
            steps.update().where(key).values(status="abandoned", finished_at=when, message=why)
        )
        return int(result.rowcount or 0)

    def finish_run(
        self,
        run_id: str,
        status: str,
        exit_code: int | None = None,
        *,
        finished_at: datetime | None = None,
        message: str | None = None,
    ) -> None:
        """Record how the run ended (status such as succeeded/failed, and the exit code)."""
        with self.write(f"finish run {run_id}") as conn:
            result = conn.execute(
                runs.update()
                .where(runs.c.run_id == run_id)
                .values(
                    status=status,
                    exit_code=exit_code,
                    finished_at=_aware(finished_at, "finished_at") or utcnow(),
                    message=clean_text(message),
                )
            )
            if result.rowcount == 0:
                raise self._not_found(f"run {run_id}")

    # --- steps --------------------------------------------------------------------------

    def upsert_step(
        self,
        run_id: str,
        step_name: str,
        *,
        kind: str | _Unset = UNSET,
        status: str | _Unset = UNSET,
        started_at: datetime | _Unset | None = UNSET,
        finished_at: datetime | _Unset | None = UNSET,
        duration_s: float | _Unset | None = UNSET,
        job_id: int | _Unset | None = UNSET,
        rows: int | _Unset | None = UNSET,
        message: str | _Unset | None = UNSET,
        owner: str | _Unset | None = UNSET,
        exit_code: int | _Unset | None = UNSET,
        events_: Iterable[Mapping[str, Any] | object] = (),
    ) -> StepRecord:
        """Create the step or update only the fields given; returns the stored step.

        A new step needs ``kind`` (status defaults to ``pending``). When this call sets a
        time, both times are known and ``duration_s`` is not given, the duration is
        computed from them; an explicit ``duration_s`` is kept until a time changes.
        ``events_`` (as ``add_events`` takes them) are stored in the same transaction: a
        step's change and its event cost one turn of the store's write lock, not two.
        """
        _check_step_values(kind, status)
        given = _step_values(
            kind=kind,
            status=status,
            started_at=started_at,
            finished_at=finished_at,
            duration_s=duration_s,
            job_id=job_id,
            rows=rows,
            message=message,
            owner=owner,
            exit_code=exit_code,
        )
        event_rows = _event_rows(run_id, events_)
        key = (steps.c.run_id == run_id) & (steps.c.step_name == step_name)
        with self.begin(f"record step {step_name!r} of run {run_id}", durable=False) as conn:
            row = _update_step(conn, key, given)
            if row is None:  # a new step (a step's row goes only with its run's)
                self._require_run(conn, run_id)
                row = _insert_step(conn, run_id, step_name, given)
            if event_rows:
                conn.execute(events.insert(), event_rows)
            return _step_from_row(_fill_duration(conn, key, given, row))

    def add_skipped_steps(
        self,
        run_id: str,
        skips: Sequence[Mapping[str, Any]],
        events_: Iterable[Mapping[str, Any] | object] = (),
    ) -> list[str]:
        """Record steps found already done (``fresh`` / ``skipped``) and their events in ONE
        transaction; a step this run already recorded is left alone.

        Each skip has ``step_name``, ``kind``, ``status`` and ``message``. Returns the names
        recorded. A scheduling pass over many fresh syncs costs one commit, not two per step.
        """
        rows = []
        for skip in skips:
            _check_step_values(skip["kind"], skip["status"])
            rows.append(
                {
                    "run_id": run_id,
                    "step_name": str(skip["step_name"]),
                    "kind": skip["kind"],
                    "status": skip["status"],
                    "message": clean_text(skip.get("message")),
                }
            )
        event_rows = _event_rows(run_id, events_)
        what = f"record {len(rows)} skipped step(s) of run {run_id}"
        with self.begin(what, durable=False) as conn:
            self._require_run(conn, run_id)
            fresh = _unrecorded(conn, run_id, rows)  # one read, then one multi-row insert
            if fresh:
                key = [steps.c.run_id, steps.c.step_name]  # guards a concurrent insert (PG)
                conn.execute(_insert(conn, steps).on_conflict_do_nothing(index_elements=key), fresh)
            if event_rows:
                conn.execute(events.insert(), event_rows)
        return [r["step_name"] for r in fresh]

    def add_stream_stats(
        self,
        run_id: str,
        step_name: str,
        job_id: int | None,
        stats: Iterable[Mapping[str, Any] | object],
    ) -> int:
        """Store per-stream counts of one job, replacing what was stored for that job.

        Replacing (not appending) makes a retried step idempotent. Accepts dicts
        (``stream``/``name``, ``namespace``, ``records_committed``... or Airbyte's
        camelCase) and objects such as ``airbyte.models.StreamStats``.
        """
        rows = [_stats_row(item) for item in stats]
        for row in rows:
            row.update(run_id=run_id, step_name=step_name, job_id=job_id)
        same_job = (
            (stream_stats.c.run_id == run_id)
            & (stream_stats.c.step_name == step_name)
            & (
                stream_stats.c.job_id.is_(None)
                if job_id is None
                else stream_stats.c.job_id == job_id
            )
        )
        what = f"record stream stats of step {step_name!r}, job {job_id}"
        with self.begin(what, durable=False) as conn:
            self._require_run(conn, run_id)
            conn.execute(stream_stats.delete().where(same_job))
            if rows:
                conn.execute(stream_stats.insert(), rows)
        return len(rows)

    def add_check_result(
        self,
        run_id: str,
        step_name: str,
        check: str,
        passed: bool,
        *,
        severity: str = "error",
        message: str | None = None,
        details: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        """Record one check outcome (drift, counts, freshness...) for a step."""
        with self.begin(f"record check {check!r} of step {step_name!r}", durable=False) as conn:
            self._require_run(conn, run_id)
            conn.execute(
                check_results.insert().values(
                    run_id=run_id,
                    step_name=step_name,
                    check_name=check,
                    passed=bool(passed),
                    severity=severity,
                    message=clean_text(message),
                    details=dict(details) if details is not None else None,
                    at=_aware(at, "at") or utcnow(),
                )
            )

    # --- events -------------------------------------------------------------------------

    def add_event(
        self,
        run_id: str | None,
        name: str,
        level: str = "info",
        fields: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        """Store one event; values that are not JSON are stored as their ``str``."""
        self.add_events(run_id, [{"name": name, "level": level, "fields": fields, "at": at}])

    def add_events(self, run_id: str | None, items: Iterable[Mapping[str, Any] | object]) -> int:
        """Store many events in one transaction (one fsync instead of one per event).

        Each item is a mapping or an object (such as ``observe.events.Event``) with
        ``name`` and optionally ``level``, ``fields`` and ``at``.
        """
        rows = _event_rows(run_id, items)
        if not rows:
            return 0
        with self.begin(f"record {len(rows)} event(s) of run {run_id}", durable=False) as conn:
            conn.execute(events.insert(), rows)
        return len(rows)

    def events(
        self,
        run_id: str,
        *,
        limit: int | None = None,
        name: str | None = None,
        step: str | None = None,
    ) -> list[EventRecord]:
        """The run's events, oldest first (of one name, of one step, if given)."""
        query = (
            sa.select(events).where(events.c.run_id == run_id).order_by(events.c.at, events.c.id)
        )
        if name is not None:
            query = query.where(events.c.name == name)
        if step is not None:
            query = query.where(events.c.fields["step"].as_string() == step)
        if limit is not None:
            query = query.limit(limit)
        with self.read(f"read events of run {run_id}") as conn:
            return [
                record_from_row(EventRecord, row, fields=row["fields"] or {})
                for row in conn.execute(query).mappings()
            ]

    # --- reading runs -------------------------------------------------------------------

    def history(self, pipeline: str | None = None, limit: int = 20) -> list[RunSummary]:
        """The newest runs first, optionally of one pipeline."""
        query = sa.select(runs).order_by(runs.c.started_at.desc(), runs.c.run_id).limit(limit)
        if pipeline is not None:
            query = query.where(runs.c.pipeline == pipeline)
        with self.read("read run history") as conn:
            rows = list(conn.execute(query).mappings())
            counts = self._step_counts(conn, [r["run_id"] for r in rows])
        return [_summary_from_row(r, counts.get(r["run_id"], {})) for r in rows]

    def get_run(self, run_id: str) -> RunDetail:
        """A run with steps, stream stats and checks.

        ``run_id`` may be a unique prefix of at least 4 characters (as printed by
        ``history``). Raises ``StoreError`` when no run (or several) match.
        """
        with self.read(f"read run {run_id}") as conn:
            full_id = self._resolve_run_id(conn, run_id)
            return self._detail(conn, full_id)

    def run_summary(self, run_id: str) -> RunSummary:
        """A run without its steps, with its step counts (one row and one count query,
        where `get_run` reads every step). ``run_id`` must be the full id."""
        with self.read(f"read run {run_id}") as conn:
            row = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).mappings().first()
            if row is None:
                raise self._not_found(f"run {run_id}")
            counts = self._step_counts(conn, [run_id])
        return _summary_from_row(row, counts.get(run_id, {}))

    def previous_stream_rows(
        self, pipeline: str, before: datetime, runs_back: int = 5
    ) -> list[tuple[str, datetime, StreamStatRecord]]:
        """Stream counts of the ``runs_back`` latest runs of ``pipeline`` started before
        ``before`` that recorded any: (run id, run start, stats), newest run first."""
        cutoff = ensure_utc(before, "before")
        with_stats = sa.select(stream_stats.c.run_id).where(stream_stats.c.run_id == runs.c.run_id)
        recent = (
            sa.select(runs.c.run_id, runs.c.started_at)
            .where(
                (runs.c.pipeline == pipeline) & (runs.c.started_at < cutoff) & with_stats.exists()
            )
            .order_by(runs.c.started_at.desc(), runs.c.run_id)
            .limit(runs_back)
        )
        with self.read(f"read earlier stream counts of {pipeline!r}") as conn:
            starts = {rid: at for rid, at in conn.execute(recent).tuples()}
            if not starts:
                return []
            rows = conn.execute(
                sa.select(stream_stats)
                .where(stream_stats.c.run_id.in_(list(starts)))
                .order_by(stream_stats.c.id)
            ).mappings()
            out = [(r["run_id"], starts[r["run_id"]], _stat_from_row(r)) for r in rows]
        out.sort(key=lambda item: item[1], reverse=True)
        return out

    def runs_since(
        self, since: datetime, pipeline: str | None = None, limit: int = 1000
    ) -> list[RunDetail]:
        """Runs started at or after ``since`` (of one pipeline, if given), oldest first,
        with their steps, stream counts and checks: what trend reports are drawn from."""
        cutoff = ensure_utc(since, "since")
        query = (
            sa.select(runs.c.run_id)
            .where(runs.c.started_at >= cutoff)
            .order_by(runs.c.started_at.desc(), runs.c.run_id)
            .limit(limit)
        )
        if pipeline is not None:
            query = query.where(runs.c.pipeline == pipeline)
        with self.read("read runs for trends") as conn:
            ids: list[str] = list(conn.execute(query).scalars())
            details = [self._detail(conn, rid) for rid in ids]
        details.reverse()
        return details

    def step_status(self, run_id: str, step_name: str) -> str | None:
        """The recorded status of one step of one run, or ``None`` if it has no row yet."""
        query = sa.select(steps.c.status).where(
            (steps.c.run_id == run_id) & (steps.c.step_name == step_name)
        )
        with self.query(f"read step {step_name!r} of run {run_id}") as conn:
            status = conn.execute(query).scalar()
        return None if status is None else str(status)

    def step_statuses(self, run_id: str) -> dict[str, str]:
        """The recorded status of every step of one run that has a row."""
        query = sa.select(steps.c.step_name, steps.c.status).where(steps.c.run_id == run_id)
        with self.query(f"read the steps of run {run_id}") as conn:
            return {str(name): str(status) for name, status in conn.execute(query)}

    def step_succeeded(self, pipeline: str, step_name: str, run_date: date) -> bool:
        """Whether any run of ``pipeline`` for ``run_date`` finished ``step_name`` successfully."""
        query = (
            step_on_date(steps, steps.c.id, pipeline, step_name, run_date)
            .where(steps.c.status == "succeeded")
            .limit(1)
        )
        with self.query(f"look up earlier results of step {step_name!r}") as conn:
            return conn.execute(query).first() is not None

    def latest_run(self, pipeline: str | None = None) -> RunDetail | None:
        """The most recently started run (of one pipeline, if given), or ``None``."""
        query = sa.select(runs.c.run_id).order_by(runs.c.started_at.desc(), runs.c.run_id)
        if pipeline is not None:
            query = query.where(runs.c.pipeline == pipeline)
        with self.read(f"read latest run of {pipeline or 'any pipeline'}") as conn:
            run_id = conn.execute(query.limit(1)).scalar()
            return None if run_id is None else self._detail(conn, run_id)

    def prune_runs(self, older_than: datetime) -> int:
        """Delete runs started before ``older_than`` with their steps, stats, checks, events.

        The ledger is kept: it is keyed by run key, not by run, and is what prevents a
        duplicate sync.
        """
        cutoff = ensure_utc(older_than, "older_than")
        with self.begin(f"prune runs older than {cutoff.isoformat()}") as conn:
            old = sa.select(runs.c.run_id).where(runs.c.started_at < cutoff)
            for table in (steps, stream_stats, check_results, events):
                conn.execute(table.delete().where(table.c.run_id.in_(old)))
            result = conn.execute(runs.delete().where(runs.c.started_at < cutoff))
            return int(result.rowcount or 0)

    # --- internals ----------------------------------------------------------------------

    def _require_run(self, conn: Connection, run_id: str) -> None:
        if conn.execute(sa.select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is None:
            raise self._not_found(f"run {run_id}")

    def _resolve_run_id(self, conn: Connection, run_id: str) -> str:
        if conn.execute(sa.select(runs.c.run_id).where(runs.c.run_id == run_id)).first():
            return run_id
        if _RUN_ID_PREFIX.match(run_id):
            matches: list[str] = list(
                conn.execute(
                    sa.select(runs.c.run_id).where(runs.c.run_id.startswith(run_id)).limit(2)
                ).scalars()
            )
            if len(matches) == 1:
                return str(matches[0])
            if len(matches) > 1:
                raise self._not_found(f"a unique run for prefix {run_id!r} (several match)")
        raise self._not_found(f"run {run_id}")

    def _step_counts(self, conn: Connection, run_ids: list[str]) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        if not run_ids:
            return counts
        query = (
            sa.select(steps.c.run_id, steps.c.status, sa.func.count())
            .where(steps.c.run_id.in_(run_ids))
            .group_by(steps.c.run_id, steps.c.status)
        )
        for rid, status, number in conn.execute(query).tuples():
            counts.setdefault(rid, {})[status] = int(number)
        return counts

    def _detail(self, conn: Connection, run_id: str) -> RunDetail:
        row = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).mappings().first()
        if row is None:
            raise self._not_found(f"run {run_id}")
        step_rows = list(
            conn.execute(
                sa.select(steps).where(steps.c.run_id == run_id).order_by(steps.c.id)
            ).mappings()
        )
        counts: dict[str, int] = {}
        for s in step_rows:
            counts[s["status"]] = counts.get(s["status"], 0) + 1
        stats = tuple(
            _stat_from_row(r)
            for r in conn.execute(
                sa.select(stream_stats)
                .where(stream_stats.c.run_id == run_id)
                .order_by(stream_stats.c.id)
            ).mappings()
        )
        checks = tuple(
            record_from_row(CheckRecord, r, check=r["check_name"], passed=bool(r["passed"]))
            for r in conn.execute(
                sa.select(check_results)
                .where(check_results.c.run_id == run_id)
                .order_by(check_results.c.id)
            ).mappings()
        )
        return RunDetail(
            run=_summary_from_row(row, counts),
            steps=tuple(_step_from_row(s) for s in step_rows),
            stream_stats=stats,
            checks=checks,
        )


def _hostname() -> str:
    try:
        return socket.gethostname()
    except OSError:  # pragma: no cover
        return "unknown"


def _update_step(
    conn: Connection, key: sa.ColumnElement[bool], given: dict[str, Any]
) -> sa.RowMapping | None:
    """The step's row once its ``given`` fields are set; ``None`` if it has no row yet.
    One statement either way (``RETURNING``): a sync records its step three times, and
    on PostgreSQL each statement is a round trip to the server."""
    if not given:
        return conn.execute(sa.select(steps).where(key)).mappings().first()
    update = steps.update().where(key).values(given).returning(*steps.c)
    return conn.execute(update).mappings().first()


def _insert_step(
    conn: Connection, run_id: str, step_name: str, given: dict[str, Any]
) -> sa.RowMapping:
    """Insert the step (it then needs ``kind``) and return its row."""
    if "kind" not in given:
        raise ValueError(f"step {step_name!r} is new: upsert_step needs kind=")
    # A concurrent writer may insert the same step first (PostgreSQL): merge.
    insert_values = {"run_id": run_id, "step_name": step_name, "status": "pending", **given}
    insert = (
        _insert(conn, steps)
        .values(insert_values)
        .on_conflict_do_update(index_elements=[steps.c.run_id, steps.c.step_name], set_=given)
        .returning(*steps.c)
    )
    return conn.execute(insert).mappings().one()


def _unrecorded(conn: Connection, run_id: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows whose step the run has not recorded yet; the first row of a name wins."""
    known = set(
        conn.execute(sa.select(steps.c.step_name).where(steps.c.run_id == run_id)).scalars()
    )
    fresh = []
    for row in rows:
        if row["step_name"] not in known:
            known.add(row["step_name"])
            fresh.append(row)
    return fresh
