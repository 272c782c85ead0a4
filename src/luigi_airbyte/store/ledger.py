"""The job ledger: the durable memory that makes a retry re-attach instead of re-trigger.

``SyncRunner`` writes a job id here *before* it starts waiting, so a crash, a kill -9
or a Luigi retry finds the job again. The metadata store implements this protocol
(``luigi_airbyte.store.sql_ledger.SqlLedger``); ``InMemoryLedger`` serves tests and
one-off CLI syncs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class LedgerEntry:
    """One Airbyte job recorded against a run key (one logical sync of one connection)."""

    run_key: str
    connection_id: str
    job_id: int
    job_type: str = "sync"
    attached: bool = False  # True when we adopted a job we did not create
    status: str = "running"  # last known Airbyte status; "running" until an outcome is written
    finished: bool = False
    rows_committed: int | None = None
    bytes_committed: int | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None


class Ledger(Protocol):
    """Durable record of which Airbyte job belongs to which run key.

    Implementations must make ``record_job`` durable (committed) before returning.
    """

    def find_open(self, run_key: str) -> LedgerEntry | None:
        """The newest unfinished job for this run key, if any."""
        ...

    def last_succeeded(self, run_key: str) -> LedgerEntry | None:
        """The newest job for this run key that finished with status succeeded."""
        ...

    def record_job(self, entry: LedgerEntry) -> None:
        """Remember that ``entry.job_id`` belongs to ``entry.run_key`` (idempotent)."""
        ...

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
        """Mark the job finished with its terminal status and totals."""
        ...


class InMemoryLedger:
    """A thread-safe ledger in process memory (lost on exit)."""

    def __init__(self) -> None:
        self._entries: list[LedgerEntry] = []
        self._lock = threading.Lock()

    def find_open(self, run_key: str) -> LedgerEntry | None:
        with self._lock:
            for entry in reversed(self._entries):
                if entry.run_key == run_key and not entry.finished:
                    return entry
        return None

    def last_succeeded(self, run_key: str) -> LedgerEntry | None:
        with self._lock:
            for entry in reversed(self._entries):
                if entry.run_key == run_key and entry.finished and entry.status == "succeeded":
                    return entry
        return None

    def record_job(self, entry: LedgerEntry) -> None:
        with self._lock:
            for existing in self._entries:
                if existing.run_key == entry.run_key and existing.job_id == entry.job_id:
                    return
            self._entries.append(entry)

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
        with self._lock:
            for i, entry in enumerate(self._entries):
                if entry.run_key == run_key and entry.job_id == job_id:
                    self._entries[i] = replace(
                        entry,
                        status=status,
                        finished=True,
                        rows_committed=rows_committed,
                        bytes_committed=bytes_committed,
                        finished_at=finished_at,
                    )

    def entries(self) -> list[LedgerEntry]:
        with self._lock:
            return list(self._entries)
