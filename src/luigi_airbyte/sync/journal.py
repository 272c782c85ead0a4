"""What ``SyncRunner`` and its ``Waiter`` share: recent jobs, ledger outcomes, events, links.

The runner builds one ``JobJournal`` from its collaborators and hands it to each
``Waiter``, so the waiter never reaches into the runner's private methods.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from luigi_airbyte.airbyte.models import Job, JobType
from luigi_airbyte.errors import AirbyteError
from luigi_airbyte.observe.events import Emitter, Event
from luigi_airbyte.store.ledger import Ledger, LedgerEntry
from luigi_airbyte.sync.api import AirbyteJobsAPI
from luigi_airbyte.sync.clock import Clock
from luigi_airbyte.sync.results import Attachment

logger = logging.getLogger(__name__)

LIST_LIMIT = 20
"""Jobs read per listing at least (more when ``history_size`` asks for more)."""


@dataclass(frozen=True)
class JobJournal:
    """Reads a connection's recent jobs and writes what became of ours (ledger, events).

    Args:
        client: the Airbyte job operations.
        ledger: where run keys and job outcomes are recorded.
        emitter: receives ``sync.*`` events.
        clock: stamps outcomes and events.
        history_size: how many finished jobs the poll schedule learns from.
    """

    client: AirbyteJobsAPI
    ledger: Ledger
    emitter: Emitter
    clock: Clock
    history_size: int

    @property
    def listing_size(self) -> int:
        """How many of a connection's newest jobs one listing reads."""
        return max(self.history_size + 5, LIST_LIMIT)

    def list_once(self, connection_id: str, job_type: JobType) -> list[Job]:
        """One listing of the connection's newest jobs of this type (errors propagate)."""
        limit = self.listing_size
        return list(
            self.client.list_jobs(
                connection_id,
                job_type=job_type,
                order_by="createdAt|DESC",
                page_size=limit,
                max_items=limit,
            )
        )

    def load_history(self, attachment: Attachment) -> tuple[Job, ...]:
        """Finished jobs of the attachment's connection, newest first; () if unreadable."""
        if attachment.history is not None:
            return attachment.history
        try:
            listed = self.list_once(attachment.connection_id, attachment.job_type)
        except AirbyteError as exc:
            logger.warning(
                "connection %s job %s: could not list recent jobs (%s); waiting without history",
                attachment.connection_id,
                attachment.job_id,
                exc,
            )
            return ()
        return tuple(
            sorted(
                (j for j in listed if j.status.is_terminal and j.job_id != attachment.job_id),
                key=lambda j: j.job_id,
                reverse=True,
            )
        )

    def record_job(self, entry: LedgerEntry) -> None:
        """Record that ``entry.job_id`` now works for ``entry.run_key``."""
        self.ledger.record_job(entry)

    def record_final(self, run_key: str, job: Job) -> None:
        """Settle the run key's row with a terminal job as Airbyte reports it."""
        self.record_outcome(
            run_key, job.job_id, job.status.value, job.rows_synced, job.bytes_synced
        )

    def record_outcome(
        self,
        run_key: str,
        job_id: int,
        status: str,
        rows: int | None,
        bytes_: int | None,
        *,
        reason: str | None = None,
    ) -> None:
        """Settle the run key's ledger row for ``job_id``; nothing without a run key."""
        if not run_key:
            return
        self.ledger.record_outcome(
            run_key,
            job_id,
            status=status,
            rows_committed=rows,
            bytes_committed=bytes_,
            finished_at=self.clock.now(),
            reason=reason,
        )

    def emit(self, name: str, level: str = "info", **fields: Any) -> None:
        """Send one event, stamped now."""
        self.emitter.emit(Event(name=name, fields=fields, at=self.clock.now(), level=level))

    def job_url(self, job: Job) -> str:
        """The job's page in Airbyte's UI, or "" when it cannot be built (logged)."""
        try:
            return self.client.job_url(job)
        except Exception:
            logger.exception(
                "connection %s job %s: could not build the job URL", job.connection_id, job.job_id
            )
            return ""


__all__ = ["LIST_LIMIT", "JobJournal"]
