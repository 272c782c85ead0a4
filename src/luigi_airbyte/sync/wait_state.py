"""The state one ``Waiter`` keeps while it waits, and what every part of it shares.

``WaitState`` holds the collaborators passed in (the client, settings, clock and the
``JobJournal`` that reads history and records outcomes and events) and the running
account of the wait: queue time, polls, errors, progress counts and the stuck timer.
The parts of the wait build on it: ``luigi_airbyte.sync.giving_up`` (deadlines, stuck
jobs, cancels, interrupts), ``luigi_airbyte.sync.finishing`` (the verdict) and
``luigi_airbyte.sync.waiting`` (the polling loop itself).
"""

from __future__ import annotations

import logging
from typing import Any

from luigi_airbyte.airbyte.models import Connection, Job, JobDetails, JobStatus
from luigi_airbyte.errors import (
    AirbyteError,
)
from luigi_airbyte.sync.api import AirbyteJobsAPI
from luigi_airbyte.sync.clock import Clock
from luigi_airbyte.sync.journal import JobJournal
from luigi_airbyte.sync.outcome import totals_from_details
from luigi_airbyte.sync.polling import (
    DurationStats,
)
from luigi_airbyte.sync.results import (
    Attachment,
    Progress,
    ProgressCallback,
)
from luigi_airbyte.sync.settings import SyncSettings
from luigi_airbyte.sync.watcher import JobFeed

logger = logging.getLogger(__name__)

_QUEUED = frozenset({JobStatus.PENDING, JobStatus.QUEUED})


class WaitState:
    """What one wait knows: collaborators, the job as last seen, and the running account."""

    def __init__(
        self,
        attachment: Attachment,
        on_progress: ProgressCallback | None,
        *,
        client: AirbyteJobsAPI,
        settings: SyncSettings,
        clock: Clock,
        journal: JobJournal,
        feed: JobFeed | None = None,
    ) -> None:
        self.journal = journal
        self.feed = feed  # the host's job watcher, asked instead of Airbyte while it answers
        self.feed_seen = (0, 0)  # (job id, version) of the watcher's last answer
        self.settings = settings
        self.clock = clock
        self.client = client
        self.att = attachment
        self.job = attachment.job
        self.cid = attachment.connection_id
        self.on_progress = on_progress
        self.start = self.clock.monotonic()
        # Time queued for capacity (pending/queued before the first attempt) is kept
        # apart: it does not eat the sync's timeout nor count as being stuck.
        self.queued_s = 0.0
        self.ran = self.job.status not in _QUEUED
        self.tick = self.start
        self.replaced: list[int] = []
        self.offset = self._age()  # seconds the job had run when we started waiting
        self.polls = 0
        self.errors = 0
        self.unknown_warned = False
        self.job_url = journal.job_url(self.job)
        self._history: tuple[Job, ...] | None = None
        self._durations: DurationStats | None = None
        # progress from the config API while running
        self.details_available = True
        # the ended job's details, when the watcher's confirmation of a push fetched them
        self.confirmed: JobDetails | None = None
        self.last_details = self.start
        self.records: int | None = None
        self.bytes: int | None = None
        self._modes: dict[str, str | None] | None = None
        self._modes_tried = False
        # stuck detection
        self.signature: tuple[Any, ...] = ()
        self.last_change = self.start
        self.stuck_reported = False
        # progress callback throttling
        self.last_progress_at: float | None = None
        self.last_progress_key: tuple[Any, ...] = ()

    @property
    def queued(self) -> bool:
        """Waiting for capacity: ``pending`` or ``queued`` before any attempt ran, as last
        seen by a poll that worked (a job we cannot see is not known to be queued)."""
        return not self.ran and self.job.status in _QUEUED and self.errors == 0

    @property
    def deadline(self) -> float | None:
        """When the sync's timeout passes: queued time does not count."""
        timeout = self.settings.timeout
        return None if timeout is None else self.start + self.queued_s + timeout

    def _queue_deadline(self) -> float | None:
        limit = self.settings.queue_timeout
        return None if limit is None else self.clock.monotonic() + (limit - self.queued_s)

    def _account(self, now: float) -> None:
        """Add the time since the last tick to the queue time while queued.

        Only while polling works: a job we cannot see is not known to be queued, and
        its time counts against the sync's timeout.
        """
        if self.queued:
            self.queued_s += max(0.0, now - self.tick)
        self.tick = now

    def _age(self) -> float:
        """How long the job had run when we started waiting. A job found (not posted just
        now) may have run a while. Not one we posted: its age is our POST's latency, and
        Airbyte's whole-second ``startTime`` would make it up to a second older, and every
        look at it up to a second early."""
        job = self.job
        if self.att.how == "created" or job.start_time is None or job.status in _QUEUED:
            return 0.0
        return max(0.0, (self.clock.now() - job.start_time).total_seconds())

    def _elapsed(self) -> float:
        """Seconds the job has been running (time queued for capacity left out)."""
        return max(0.0, self.offset + (self.clock.monotonic() - self.start) - self.queued_s)

    def _observe(self, job: Job) -> None:
        """Reset the stuck timer whenever anything about the job moved."""
        signature = (
            job.status,
            job.raw_status,
            job.rows_synced,
            job.bytes_synced,
            job.last_updated_at,
            self.records,
            self.bytes,
        )
        if signature != self.signature:
            self.signature = signature
            self.last_change = self.clock.monotonic()
            self.stuck_reported = False

    def _maybe_fetch_details(self, now: float) -> None:
        wanted = self.on_progress is not None or self.settings.stuck_after is not None
        if not (wanted and self.details_available):
            return
        if now - self.last_details < self.settings.details_interval:
            return
        self.last_details = now
        details = self._details()
        if details is None:
            return
        totals = totals_from_details(details, self._stream_modes())
        self.records = totals.records_emitted
        self.bytes = totals.bytes_emitted
        self._observe(self.job)

    def _stream_modes(self) -> dict[str, str | None] | None:
        """Each stream's sync mode, for Airbyte's counting rules (``stream_totals``).

        The client's cached connection is used when it has one (the run resolved it);
        else one ``GET /connections/{id}``. ``None`` when neither is available.
        """
        if self._modes is not None or self._modes_tried:
            return self._modes
        self._modes_tried = True
        conn: Connection | None = None
        cached = getattr(self.client, "cached_connection", None)
        if callable(cached):
            conn = cached(self.cid)
        fetch = getattr(self.client, "get_connection", None)
        if conn is None and callable(fetch):
            try:
                conn = fetch(self.cid)
            except AirbyteError as exc:
                logger.info("connection %s: stream modes unavailable (%s)", self.cid, exc)
        if not isinstance(conn, Connection):
            return None
        self._modes = {s.name: s.sync_mode for s in conn.streams}
        return self._modes

    def _details(self) -> JobDetails | None:
        confirmed = self.confirmed
        if (
            confirmed is not None
            and self.job.status.is_terminal
            and confirmed.job.job_id == self.job.job_id
            and confirmed.job.status is self.job.status
        ):
            return confirmed  # fetched by the watcher with the job's end: no request
        if not self.details_available:
            return None
        try:
            details = self.client.get_job_details(self.job.job_id)
        except AirbyteError as exc:
            logger.info(
                "connection %s job %s: job details unavailable (%s)", self.cid, self.job.job_id, exc
            )
            return None
        if details is None:
            self.details_available = False
        return details

    # ------------------------------------------------------------------ progress

    def _percent(self, elapsed: float) -> float | None:
        if self.job.status is JobStatus.SUCCEEDED:
            return 100.0
        if self._durations is None or self._durations.expected <= 0:
            return None
        ratio = elapsed / self._durations.expected
        # Linear up to 95 % at the expected end, then creeping towards 99 %: a bar that
        # reaches 100 % before the job ends is worse than one that slows down.
        return 95.0 * ratio if ratio < 1 else 95.0 + 4.0 * (1.0 - 1.0 / ratio)

    def _maybe_progress(self, now: float, *, force: bool = False) -> None:
        if self.on_progress is None:
            return
        key = (self.job.status, self.records)
        due = (
            force
            or self.last_progress_at is None
            or key != self.last_progress_key
            or now - self.last_progress_at >= self.settings.progress_interval
        )
        if not due:
            return
        self.last_progress_at = now
        self.last_progress_key = key
        elapsed = self._elapsed()
        progress = Progress(
            connection_id=self.cid,
            job_id=self.job.job_id,
            status=self.job.status,
            elapsed_s=elapsed,
            expected_s=None if self._durations is None else self._durations.expected,
            percent=self._percent(elapsed),
            records=self.records,
            bytes=self.bytes,
            job_url=self.job_url,
            queued_s=self.queued_s,
        )
        try:
            self.on_progress(progress)
        except Exception:
            # Reporting progress must never fail a sync.
            logger.exception(
                "connection %s job %s: the progress callback failed", self.cid, self.job.job_id
            )

    def _emit(self, name: str, level: str = "info", **fields: Any) -> None:
        self.journal.emit(
            name,
            level,
            connection_id=self.cid,
            job_id=self.job.job_id,
            run_key=self.att.run_key,
            job_type=self.att.job_type.value,
            **fields,
        )
