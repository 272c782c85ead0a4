"""Waiting for one Airbyte job: polling, progress, deadlines, stuck jobs, interrupts, verdict.

``Waiter`` holds the state of a single ``SyncRunner.wait`` call so the runner itself
stays stateless and reusable across tasks. Its collaborators (the client, settings, clock
and the ``JobJournal`` that reads history and records outcomes and events) are passed in;
it does not know the runner.
"""

from __future__ import annotations

import logging
import math
from typing import Any, NoReturn

from luigi_airbyte.airbyte.models import Connection, Job, JobDetails, JobStatus, JobType
from luigi_airbyte.backoff import Backoff
from luigi_airbyte.errors import (
    AirbyteError,
    OutcomeRuleError,
    RateLimitedError,
    StateConflictError,
    SyncCancelledError,
    SyncFailedError,
    SyncTimeoutError,
)
from luigi_airbyte.store.ledger import LedgerEntry
from luigi_airbyte.sync.api import TRANSIENT_ERRORS, AirbyteJobsAPI
from luigi_airbyte.sync.clock import Clock
from luigi_airbyte.sync.journal import JobJournal
from luigi_airbyte.sync.outcome import Totals, Verdict, evaluate_outcome, totals_from_details
from luigi_airbyte.sync.polling import (
    MIN_POLL_DELAY,
    DurationStats,
    PollState,
    history_duration_stats,
    job_duration,
)
from luigi_airbyte.sync.results import (
    REJECTED,
    Attachment,
    Progress,
    ProgressCallback,
    SyncResult,
)
from luigi_airbyte.sync.settings import SyncSettings
from luigi_airbyte.sync.signals import Terminated, handle_termination

logger = logging.getLogger(__name__)

# While Airbyte keeps failing, polls slow down: 1 s doubling per error in a row, 60 s at
# most. A cancel is confirmed by polls 1 s apart growing 1.5x to 10 s. No jitter: these
# poll one job, they are not a herd.
_ERROR_BACKOFF = Backoff(base=1.0, cap=60.0, factor=2.0, jitter="none")
_CANCEL_POLL = Backoff(base=1.0, cap=10.0, factor=1.5, jitter="none")
_QUEUED = frozenset({JobStatus.PENDING, JobStatus.QUEUED})


class Waiter:
    """The state of one ``SyncRunner.wait`` call, kept off the runner so it stays reusable."""

    def __init__(
        self,
        attachment: Attachment,
        on_progress: ProgressCallback | None,
        *,
        client: AirbyteJobsAPI,
        settings: SyncSettings,
        clock: Clock,
        journal: JobJournal,
    ) -> None:
        self.journal = journal
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
        self.offset = 0.0  # seconds the job had been running when we started waiting
        if self.job.start_time is not None and self.job.status not in _QUEUED:
            age = (self.clock.now() - self.job.start_time).total_seconds()
            self.offset = max(0.0, age)
        self.polls = 0
        self.errors = 0
        self.unknown_warned = False
        self.job_url = journal.job_url(self.job)
        self._history: tuple[Job, ...] | None = None
        self._durations: DurationStats | None = None
        # progress from the config API while running
        self.details_available = True
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

    # ------------------------------------------------------------------ lifecycle

    def run(self) -> SyncResult:
        with handle_termination():
            try:
                job = self._until_terminal()
            except (KeyboardInterrupt, Terminated) as exc:
                self._interrupted(exc)
                raise
            return self._finish(job)

    def _until_terminal(self) -> Job:
        if not self.job.status.is_terminal:
            self._history = self.journal.load_history(self.att)
            self._durations = history_duration_stats(self._history[: self.settings.history_size])
            logger.info(
                "connection %s job %s: waiting (%s; expected ~%s)",
                self.cid,
                self.job.job_id,
                self.job.status.value,
                "unknown" if self._durations is None else f"{self._durations.expected:.0f}s",
            )
        self._observe(self.job)
        while True:
            if self.job.status.is_terminal:
                if not self._follow_replacement():
                    return self.job
                continue
            now = self.clock.monotonic()
            self._account(now)
            if self.queued:
                queue_deadline = self._queue_deadline()
                if queue_deadline is not None and now >= queue_deadline:
                    self._queue_timeout()
            else:
                deadline = self.deadline
                if deadline is not None and now >= deadline:
                    return self._deadline_passed()
                stuck = self._check_stuck(now)
                if stuck is not None:
                    return stuck
            self._maybe_fetch_details(now)
            self._maybe_progress(now)
            self.clock.sleep(self._next_delay(now))
            self._poll()

    # ------------------------------------------------------------------ the queue

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

    def _queue_timeout(self) -> NoReturn:
        """Queued past ``queue_timeout``: give up waiting, never cancel (Airbyte decides)."""
        job = self.job
        limit = self.settings.queue_timeout or 0.0
        logger.info(
            "connection %s job %s: still %s after %.0fs queued (queue_timeout %.0fs); "
            "leaving it queued: the next run with run key %s re-attaches",
            self.cid,
            job.job_id,
            job.status.value,
            self.queued_s,
            limit,
            self.att.run_key,
        )
        self._emit("sync.queue_timeout", level="warning", queued_s=self.queued_s)
        raise SyncTimeoutError(
            f"Airbyte job {job.job_id} on connection {self.cid} waited {self.queued_s:.0f}s "
            f"queued for capacity (queue_timeout {limit:.0f}s) and never started. It was left "
            "queued, not cancelled (Airbyte cancels a manual sync queued for 8h itself); the "
            "next run with the same date re-attaches to it. Free capacity in Airbyte (fewer "
            "concurrent syncs, more workers) or raise queue_timeout in the pipeline file. "
            f"See {self.job_url or 'the Airbyte UI'}",
            connection_id=self.cid,
            job_id=job.job_id,
        )

    def _find_replacement(self, cancelled: Job) -> Job | None:
        """The next job on the connection after ``cancelled``, looked for during
        ``confirm_window`` (Airbyte's listing may lag behind the cancel)."""
        deadline = self.clock.monotonic() + self.settings.confirm_window
        while True:
            try:
                recent = list(
                    self.client.list_jobs(
                        self.cid,
                        job_type=self.att.job_type,
                        order_by="createdAt|DESC",
                        page_size=5,
                        max_items=5,
                    )
                )
            except AirbyteError as exc:
                logger.info("connection %s: cannot look for a replacement job (%s)", self.cid, exc)
                recent = []
            newer = [j for j in recent if j.job_id > cancelled.job_id]
            if newer:
                return min(newer, key=lambda j: j.job_id)
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                return None
            self.clock.sleep(min(1.0, remaining))

    def _follow_replacement(self) -> bool:
        """Airbyte cancelled our queued job and replaced it with a newer one (a scheduled
        run replaces a queued manual one): attach to the replacement, keep both ids.

        Only for a job we saw queued and never running; anything else stays cancelled.
        """
        job = self.job
        if job.status is not JobStatus.CANCELLED or self.ran:
            return False
        successor = self._find_replacement(job)
        if successor is None:
            return False
        run_key = self.att.run_key
        if run_key:
            self.journal.record_outcome(run_key, job.job_id, "cancelled", None, None)
            self.journal.record_job(
                LedgerEntry(
                    run_key=run_key,
                    connection_id=self.cid,
                    job_id=successor.job_id,
                    job_type=self.att.job_type.value,
                    attached=True,
                    status=successor.status.value,
                    created_at=self.clock.now(),
                )
            )
        logger.warning(
            "connection %s job %s: Airbyte cancelled it while queued and replaced it with "
            "job %s; waiting for the replacement",
            self.cid,
            job.job_id,
            successor.job_id,
        )
        self._emit(
            "sync.replaced",
            level="warning",
            replaced_job_id=job.job_id,
            new_job_id=successor.job_id,
        )
        self.replaced.append(job.job_id)
        self.job = successor
        self.job_url = self.journal.job_url(successor)
        self.ran = successor.status not in _QUEUED and not successor.status.is_terminal
        self.tick = self.clock.monotonic()
        self._observe(successor)
        return True

    # ------------------------------------------------------------------ polling

    def _elapsed(self) -> float:
        """Seconds the job has been running (time queued for capacity left out)."""
        return max(0.0, self.offset + (self.clock.monotonic() - self.start) - self.queued_s)

    def _next_delay(self, now: float) -> float:
        durations = self._durations
        state = PollState(
            elapsed=self._elapsed(),
            polls=self.polls,
            expected=None if durations is None else durations.expected,
            last_status=self.job.status,
            spread=None if durations is None else durations.spread,
        )
        delay = self.settings.poll_strategy.next_delay(state)
        if not math.isfinite(delay):
            delay = 1.0
        delay = max(MIN_POLL_DELAY, delay)
        if self.errors:
            delay = max(delay, _ERROR_BACKOFF.delay(self.errors))
        limit = self._queue_deadline() if self.queued else self.deadline
        if limit is not None:
            delay = min(delay, max(0.0, limit - now))
        return delay

    def _poll(self) -> None:
        self.polls += 1
        try:
            job = self.client.get_job(self.job.job_id)
        except TRANSIENT_ERRORS as exc:
            self.errors += 1
            if isinstance(exc, RateLimitedError):
                # Throttling (429): the client already backed off; we poll less often.
                logger.warning(
                    "connection %s job %s: throttled by Airbyte (429%s, %d in a row); "
                    "polling less often, still waiting",
                    self.cid,
                    self.job.job_id,
                    " without Retry-After" if exc.throttled else "",
                    self.errors,
                )
                if self.errors == 1:
                    self._emit(
                        "sync.throttled", level="warning", retry_after_given=not exc.throttled
                    )
                return
            logger.warning(
                "connection %s job %s: polling failed (%s; %d in a row); still waiting",
                self.cid,
                self.job.job_id,
                exc,
                self.errors,
            )
            return
        if self.errors:
            logger.info(
                "connection %s job %s: polling works again after %d failures",
                self.cid,
                job.job_id,
                self.errors,
            )
        self.errors = 0
        previous = self.job.status
        self.job = job
        if job.status not in _QUEUED and not job.status.is_terminal and not self.ran:
            self.ran = True
            self.last_change = self.clock.monotonic()  # the stuck timer starts now
        if job.status is JobStatus.UNKNOWN and not self.unknown_warned:
            self.unknown_warned = True
            logger.warning(
                "connection %s job %s: Airbyte reported status %r, which this version does not "
                "know; treating it as still running",
                self.cid,
                job.job_id,
                job.raw_status,
            )
        if job.status is not previous:
            logger.info(
                "connection %s job %s: %s -> %s",
                self.cid,
                job.job_id,
                previous.value,
                job.status.value,
            )
            self._emit("sync.status", status=job.status.value, previous=previous.value)
        self._observe(job)

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

    # ------------------------------------------------------------------ giving up

    def _check_stuck(self, now: float) -> Job | None:
        stuck_after = self.settings.stuck_after
        if stuck_after is None or self.stuck_reported or now - self.last_change < stuck_after:
            return None
        self.stuck_reported = True
        quiet = now - self.last_change
        logger.warning(
            "connection %s job %s: no progress for %.0fs (still %s); %s",
            self.cid,
            self.job.job_id,
            quiet,
            self.job.status.value,
            "cancelling" if self.settings.on_stuck == "cancel" else "still waiting",
        )
        self._emit("sync.stuck", level="warning", status=self.job.status.value, quiet_s=quiet)
        if self.settings.on_stuck != "cancel":
            return None
        final = self._cancel_and_confirm("stuck")
        if final.status is JobStatus.SUCCEEDED:
            return final
        self._fail_after_cancel(final, f"it made no progress for {quiet:.0f}s and was cancelled")

    def _deadline_passed(self) -> Job:
        timeout = self.settings.timeout
        job = self.job
        if self.settings.on_timeout == "detach":
            logger.info(
                "connection %s job %s: not finished after %.0fs; detaching (the job keeps "
                "running; the next run with run key %s re-attaches)",
                self.cid,
                job.job_id,
                timeout,
                self.att.run_key,
            )
            self._emit("sync.detached", level="warning", reason="timeout")
            raise SyncTimeoutError(
                f"Airbyte job {job.job_id} on connection {self.cid} did not finish within "
                f"{timeout:.0f}s; it was left running ({job.status.value}) and the next run "
                f"re-attaches to it. See {self.job_url or 'the Airbyte UI'}",
                connection_id=self.cid,
                job_id=job.job_id,
            )
        logger.warning(
            "connection %s job %s: not finished after %.0fs; cancelling",
            self.cid,
            job.job_id,
            timeout,
        )
        self._emit("sync.timeout", level="error", timeout_s=timeout)
        final = self._cancel_and_confirm("timeout")
        if final.status is JobStatus.SUCCEEDED:
            logger.warning(
                "connection %s job %s: finished successfully just as it was cancelled",
                self.cid,
                final.job_id,
            )
            return final
        self._fail_after_cancel(final, f"it did not finish within {timeout:.0f}s")

    def _fail_after_cancel(self, final: Job, why: str) -> NoReturn:
        confirmed = final.status.is_terminal
        if confirmed:
            self.journal.record_outcome(
                self.att.run_key,
                final.job_id,
                final.status.value,
                final.rows_synced,
                final.bytes_synced,
            )
            state = f"it is now {final.status.value}"
        else:
            state = (
                f"the cancel was not confirmed within {self.settings.cancel_confirm_timeout:.0f}s "
                f"(last status {final.status.value}); the ledger row stays open"
            )
        raise SyncTimeoutError(
            f"Airbyte job {final.job_id} on connection {self.cid}: {why}; {state}. "
            f"See {self.job_url or 'the Airbyte UI'}",
            connection_id=self.cid,
            job_id=final.job_id,
        )

    def _cancel_and_confirm(self, reason: str) -> Job:
        """Cancel and poll until Airbyte shows a terminal status (bounded).

        A cancel request is not a cancel: Airbyte has answered 500 to one, and kept
        jobs running after one (airbytehq/airbyte#9776, #8808).
        """
        job = self.job
        self._emit("sync.cancel_requested", level="warning", reason=reason)
        sent = self._send_cancel(job)
        current = job
        deadline = self.clock.monotonic() + self.settings.cancel_confirm_timeout
        pauses = _CANCEL_POLL.delays()
        while not current.status.is_terminal:
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                logger.error(
                    "connection %s job %s: cancel not confirmed after %.0fs (status %s)",
                    self.cid,
                    job.job_id,
                    self.settings.cancel_confirm_timeout,
                    current.status.value,
                )
                self._emit("sync.cancel_unconfirmed", level="error", status=current.status.value)
                self.job = current
                return current
            self.clock.sleep(min(next(pauses), remaining))
            if not sent:
                sent = self._send_cancel(current)
            try:
                current = self.client.get_job(job.job_id)
            except TRANSIENT_ERRORS as exc:
                logger.warning(
                    "connection %s job %s: polling after cancel failed (%s)",
                    self.cid,
                    job.job_id,
                    exc,
                )
        self.job = current
        logger.info(
            "connection %s job %s: after cancel the job is %s",
            self.cid,
            job.job_id,
            current.status.value,
        )
        self._emit("sync.cancel_confirmed", status=current.status.value, reason=reason)
        self._warn_successor(current)
        return current

    def _send_cancel(self, job: Job) -> bool:
        try:
            self.client.cancel_job(job.job_id)
        except StateConflictError as exc:
            # Airbyte says the job is not running any more: polling shows what it became.
            logger.info(
                "connection %s job %s: cancel refused (%s); checking its status",
                self.cid,
                job.job_id,
                exc,
            )
        except TRANSIENT_ERRORS as exc:
            logger.warning(
                "connection %s job %s: cancel request failed (%s); will retry once",
                self.cid,
                job.job_id,
                exc,
            )
            return False
        return True

    def _warn_successor(self, cancelled: Job) -> None:
        """Airbyte has been seen starting a new job right after a cancel (airbyte#8808)."""
        try:
            jobs = list(
                self.client.list_jobs(self.cid, order_by="createdAt|DESC", page_size=5, max_items=5)
            )
        except AirbyteError:
            return
        newer = [j for j in jobs if j.job_id > cancelled.job_id and not j.status.is_terminal]
        if newer:
            logger.warning(
                "connection %s job %s: Airbyte started job %s after the cancel; it is not ours "
                "and was left alone",
                self.cid,
                cancelled.job_id,
                newer[0].job_id,
            )
            self._emit("sync.successor_started", level="warning", successor_job_id=newer[0].job_id)

    def _interrupted(self, exc: BaseException) -> None:
        kind = "SIGTERM" if isinstance(exc, Terminated) else "KeyboardInterrupt"
        job = self.job
        if self.settings.on_interrupt == "detach" or job.status.is_terminal:
            logger.warning(
                "connection %s job %s: interrupted (%s); detaching: the job keeps running and "
                "the next run with run key %s re-attaches to it",
                self.cid,
                job.job_id,
                kind,
                self.att.run_key,
            )
            self._emit("sync.detached", level="warning", reason=kind)
            return
        logger.warning(
            "connection %s job %s: interrupted (%s); cancelling the job",
            self.cid,
            job.job_id,
            kind,
        )
        final = self._cancel_and_confirm(kind)
        if final.status.is_terminal:
            self.journal.record_outcome(
                self.att.run_key,
                final.job_id,
                final.status.value,
                final.rows_synced,
                final.bytes_synced,
            )

    # ------------------------------------------------------------------ the end

    def _finish(self, job: Job) -> SyncResult:
        self.job = job
        details = self._details()
        totals = (
            totals_from_details(
                details,
                self._stream_modes(),
                rows_synced=job.rows_synced,
                bytes_synced=job.bytes_synced,
            )
            if details is not None
            else Totals(
                records_emitted=None,
                records_committed=job.rows_synced,
                bytes_emitted=None,
                bytes_committed=job.bytes_synced,
            )
        )
        run_key = self.att.run_key
        if job.status is JobStatus.FAILED:
            reason = self._failure_reason(details)
            self.journal.record_outcome(
                run_key, job.job_id, "failed", totals.records_committed, totals.bytes_committed
            )
            logger.info("connection %s job %s: failed: %s", self.cid, job.job_id, reason)
            self._emit("sync.failed", level="error", reason=reason)
            raise SyncFailedError(
                f"Airbyte job {job.job_id} on connection {self.cid} failed: {reason}. "
                f"See {self.job_url or 'the Airbyte UI'} for the logs",
                connection_id=self.cid,
                job_id=job.job_id,
            )
        if job.status is JobStatus.CANCELLED:
            self.journal.record_outcome(
                run_key, job.job_id, "cancelled", totals.records_committed, totals.bytes_committed
            )
            logger.info("connection %s job %s: cancelled", self.cid, job.job_id)
            self._emit("sync.cancelled", level="error")
            raise SyncCancelledError(
                f"Airbyte job {job.job_id} on connection {self.cid} was cancelled (in Airbyte, "
                f"by a user or a platform limit); run again to start a new sync. "
                f"See {self.job_url or 'the Airbyte UI'}",
                connection_id=self.cid,
                job_id=job.job_id,
            )
        return self._succeeded(job, totals)

    def _failure_reason(self, details: JobDetails | None) -> str:
        if details is None:
            return "Airbyte gave no failure reason (job details are unavailable here)"
        if details.failure_reason:
            return details.failure_reason
        for attempt in reversed(details.stats.attempts):
            if attempt.failure_message:
                origin = f" ({attempt.failure_origin})" if attempt.failure_origin else ""
                return f"{attempt.failure_message}{origin}"
        return "Airbyte gave no failure reason"

    def _history_rows(self) -> list[int]:
        history = (
            self._history if self._history is not None else self.journal.load_history(self.att)
        )
        self._history = history
        rows = [
            j.rows_synced
            for j in history
            if j.status is JobStatus.SUCCEEDED and j.rows_synced is not None
        ]
        return rows[: self.settings.history_size]

    def _succeeded(self, job: Job, totals: Totals) -> SyncResult:
        judged = self.att.job_type in (JobType.SYNC, JobType.REFRESH)
        verdict = (
            evaluate_outcome(
                totals,
                self._history_rows(),
                zero_rows=self.settings.zero_rows,
                drop_threshold=self.settings.drop_threshold,
                on_drop=self.settings.on_drop,
            )
            if judged
            else Verdict()
        )
        run_key = self.att.run_key
        rows, bytes_ = totals.records_committed, totals.bytes_committed
        for warning in verdict.warnings:
            logger.warning("connection %s job %s: %s", self.cid, job.job_id, warning)
            self._emit("sync.outcome_warning", level="warning", message=warning)
        if verdict.failures:
            self.journal.record_outcome(run_key, job.job_id, REJECTED, rows, bytes_)
            message = "; ".join(verdict.failures)
            logger.info("connection %s job %s: outcome rejected: %s", self.cid, job.job_id, message)
            self._emit("sync.rejected", level="error", reasons=list(verdict.failures), rows=rows)
            raise OutcomeRuleError(
                f"Airbyte job {job.job_id} on connection {self.cid} succeeded, but {message}",
                connection_id=self.cid,
                job_id=job.job_id,
            )
        self.journal.record_outcome(run_key, job.job_id, JobStatus.SUCCEEDED.value, rows, bytes_)
        duration = job_duration(job)
        if duration is None:
            duration = self._elapsed()
        logger.info(
            "connection %s job %s: succeeded (%s rows, %s bytes, %.0fs)",
            self.cid,
            job.job_id,
            "?" if rows is None else rows,
            "?" if bytes_ is None else bytes_,
            duration,
        )
        self._emit(
            "sync.succeeded",
            rows_committed=rows,
            bytes_committed=bytes_,
            duration_s=duration,
            queued_s=self.queued_s,
            replaced_job_ids=list(self.replaced),
            attempts=totals.attempts,
            warnings=list(verdict.warnings),
            streams={s.name: s.records_committed for s in totals.streams},
        )
        self._maybe_progress(self.clock.monotonic(), force=True)
        return SyncResult(
            job=job,
            connection_id=self.cid,
            run_key=run_key,
            status=job.status,
            rows_committed=rows,
            bytes_committed=bytes_,
            streams=totals.streams,
            attempts=totals.attempts,
            duration_s=duration,
            attached_how=self.att.how,
            warnings=verdict.warnings,
            job_url=self.job_url,
            job_type=self.att.job_type,
            records_emitted=totals.records_emitted,
            queued_s=self.queued_s,
            replaced_job_ids=tuple(self.replaced),
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
