"""Webhook hints: Airbyte's sync notifications as a shared receiver recorded them.

``luigi-airbyte webhook serve`` writes one row per (connection, job) it was told about;
a run on any host reads the rows added since its cursor and confirms each job with one
request to Airbyte (``JobWatcher.hint``). A row is a hint, never a status: Airbyte's
webhooks are unsigned.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from luigi_airbyte.store._upsert import dialect_insert
from luigi_airbyte.store.schema import utcnow, webhook_hints


@dataclass(frozen=True)
class HintRecord:
    """One received hint; ``id`` is the cursor to read on from."""

    id: int
    connection_id: str
    job_id: int
    received_at: datetime


class HintRepository(ABC):
    """Recording and reading webhook hints. ``Store`` is the concrete class."""

    @abstractmethod
    def begin(self, action: str) -> AbstractContextManager[Connection]: ...

    @abstractmethod
    def read(self, action: str) -> AbstractContextManager[Connection]: ...

    def record_hint(self, connection_id: str, job_id: int) -> bool:
        """Record that Airbyte said job ``job_id`` of ``connection_id`` ended; False when
        that job was already recorded (a replay or a second receiver), True when new."""
        key = {"connection_id": str(connection_id).lower(), "job_id": int(job_id)}
        with self.begin("record a webhook hint") as conn:
            result = conn.execute(
                dialect_insert(conn, webhook_hints)
                .values(**key, received_at=utcnow())
                .on_conflict_do_nothing(index_elements=["connection_id", "job_id"])
                .returning(webhook_hints.c.id)
            ).first()
        return result is not None

    def hints_after(self, cursor: int = 0, *, limit: int = 1000) -> list[HintRecord]:
        """Hints recorded after ``cursor`` (a ``HintRecord.id``; 0: from the start),
        oldest first, at most ``limit``. Pass the last one's id as the next cursor."""
        with self.read("read webhook hints") as conn:
            rows = conn.execute(
                sa.select(webhook_hints)
                .where(webhook_hints.c.id > int(cursor))
                .order_by(webhook_hints.c.id)
                .limit(int(limit))
            ).all()
        return [
            HintRecord(int(r.id), str(r.connection_id), int(r.job_id), r.received_at) for r in rows
        ]
