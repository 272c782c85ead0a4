"""The job ledger in the metadata store (table ``airbyte_jobs``).

``record_job`` is an ``INSERT ... ON CONFLICT (run_key, job_id) DO NOTHING`` committed
before it returns: two workers that adopt the same job both succeed, one row results, and
the row is on disk before the runner starts waiting.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from luigi_airbyte.store.ledger import LedgerEntry
from luigi_airbyte.store.schema import airbyte_jobs, ensure_utc, utcnow

if TYPE_CHECKING:
    from luigi_airbyte.store.database import Store

log = logging.getLogger(__name__)

_COLUMNS = (
    airbyte_jobs.c.run_key,
    airbyte_jobs.c.connection_id,
    airbyte_jobs.c.job_id,
    airbyte_jobs.c.job_type,
    airbyte_jobs.c.attached,
    airbyte_jobs.c.status,
    airbyte_jobs.c.finished,
    airbyte_jobs.c.rows_committed,
    airbyte_jobs.c.bytes_committed,
    airbyte_jobs.c.created_at,
    airbyte_jobs.c.finished_at,
)


def _entry(row: sa.RowMapping) -> LedgerEntry:
    return LedgerEntry(
        run_key=row["run_key"],
        connection_id=row["connection_id"],
        job_id=int(row["job_id"]),
        job_type=row["job_type"],
        attached=bool(row["attached"]),
        status=row["status"],
        finished=bool(row["finished"]),
        rows_committed=row["rows_committed"],
        bytes_committed=row["bytes_committed"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
    )


class SqlLedger:
    """``Ledger`` implementation on a ``Store`` (SQLite or PostgreSQL)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def find_open(self, run_key: str) -> LedgerEntry | None:
        """The newest unfinished job for this run key, if any."""
        query = (
            sa.select(*_COLUMNS)
            .where(airbyte_jobs.c.run_key == run_key, airbyte_jobs.c.finished.is_(False))
            .order_by(airbyte_jobs.c.id.desc())
            .limit(1)
        )
        with self._store.read(f"look up the open job of run key {run_key!r}") as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _entry(row)

    def last_succeeded(self, run_key: str) -> LedgerEntry | None:
        """The newest job for this run key that finished with status succeeded."""
        query = (
            sa.select(*_COLUMNS)
            .where(
                airbyte_jobs.c.run_key == run_key,
                airbyte_jobs.c.finished.is_(True),
                airbyte_jobs.c.status == "succeeded",
            )
            .order_by(airbyte_jobs.c.id.desc())
            .limit(1)
        )
        with self._store.read(f"look up the last success of run key {run_key!r}") as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _entry(row)

    def record_job(self, entry: LedgerEntry) -> None:
        """Remember that ``entry.job_id`` belongs to ``entry.run_key``; committed on return.

        Idempotent: recording the same (run key, job id) again, even from another process
        at the same moment, keeps the first row and raises nothing.
        """
        values = {
            "run_key": entry.run_key,
            "connection_id": entry.connection_id,
            "job_id": entry.job_id,
            "job_type": entry.job_type,
            "attached": entry.attached,
            "status": entry.status,
            "finished": entry.finished,
            "rows_committed": entry.rows_committed,
            "bytes_committed": entry.bytes_committed,
            "created_at": None
            if entry.created_at is None
            else ensure_utc(entry.created_at, "created_at"),
            "finished_at": None
            if entry.finished_at is None
            else ensure_utc(entry.finished_at, "finished_at"),
            "recorded_at": utcnow(),
        }
        action = f"record job {entry.job_id} for run key {entry.run_key!r}"
        with self._store.begin(action) as conn:
            insert = (
                pg_dialect.insert(airbyte_jobs)
                if conn.dialect.name == "postgresql"
                else sqlite_dialect.insert(airbyte_jobs)
            )
            conn.execute(
                insert.values(values).on_conflict_do_nothing(
                    index_elements=[airbyte_jobs.c.run_key, airbyte_jobs.c.job_id]
                )
            )

    def record_outcome(
        self,
        run_key: str,
        job_id: int,
        *,
        status: str,
        rows_committed: int | None,
        bytes_committed: int | None,
        finished_at: datetime,
    ) -> None:
        """Mark the job finished with its terminal status and totals; committed on return.

        Calling it again overwrites the outcome (a retried task may). A job that was
        never recorded is logged and ignored, like ``InMemoryLedger`` does: failing here,
        after the sync finished, would make Luigi retry and start another sync.
        """
        finished_at = ensure_utc(finished_at, "finished_at")
        action = f"record the outcome of job {job_id} for run key {run_key!r}"
        with self._store.begin(action) as conn:
            result = conn.execute(
                airbyte_jobs.update()
                .where(airbyte_jobs.c.run_key == run_key, airbyte_jobs.c.job_id == job_id)
                .values(
                    status=status,
                    finished=True,
                    rows_committed=rows_committed,
                    bytes_committed=bytes_committed,
                    finished_at=finished_at,
                )
            )
        if result.rowcount == 0:
            log.warning(
                "ledger: outcome %s of job %s for run key %r ignored: the job was never recorded",
                status,
                job_id,
                run_key,
            )

    # --- beyond the protocol ------------------------------------------------------------

    def last_succeeded_for_connection(self, connection_id: str) -> LedgerEntry | None:
        """The connection's most recently finished successful job, from any run key.

        Freshness checks use it: "did this connection sync successfully recently?"
        """
        query = (
            sa.select(*_COLUMNS)
            .where(
                airbyte_jobs.c.connection_id == connection_id,
                airbyte_jobs.c.status == "succeeded",
                airbyte_jobs.c.finished.is_(True),
            )
            .order_by(airbyte_jobs.c.finished_at.desc().nulls_last(), airbyte_jobs.c.id.desc())
            .limit(1)
        )
        with self._store.read(f"look up the last success of connection {connection_id}") as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _entry(row)

    def recent_for_connection(self, connection_id: str, limit: int = 20) -> list[LedgerEntry]:
        """The connection's jobs, newest recorded first."""
        query = (
            sa.select(*_COLUMNS)
            .where(airbyte_jobs.c.connection_id == connection_id)
            .order_by(airbyte_jobs.c.id.desc())
            .limit(limit)
        )
        with self._store.read(f"list jobs of connection {connection_id}") as conn:
            return [_entry(row) for row in conn.execute(query).mappings()]

    def entries(self) -> list[LedgerEntry]:
        """Every row, oldest first (as ``InMemoryLedger.entries``); for tests and debugging."""
        query = sa.select(*_COLUMNS).order_by(airbyte_jobs.c.id)
        with self._store.read("list the ledger") as conn:
            return [_entry(row) for row in conn.execute(query).mappings()]
