"""Waiting for one Airbyte job: the polling loop, the queue and a replaced queued job.

``Waiter`` holds the state of a single ``SyncRunner.wait`` call so the runner itself
stays stateless and reusable across tasks. Its collaborators (the client, settings, clock
and the ``JobJournal`` that reads history and records outcomes and events) are passed in;
it does not know the runner. The rest of the wait lives beside it, one concern a module:
``wait_state`` (the shared state, progress and job details), ``giving_up`` (deadlines,
stuck jobs, cancels, interrupts) and ``finishing`` (the verdict).
"""

from __future__ import annotations

import logging
import math

from luigi_airbyte.airbyte.models import Job, JobStatus
from luigi_airbyte.backoff import Backoff
from luigi_airbyte.errors import (
    AirbyteError,
    AirbyteTransportError,
    RateLimitedError,
)
from luigi_airbyte.store.ledger import LedgerEntry
from luigi_airbyte.sync.api import TRANSIENT_ERRORS
from luigi_airbyte.sync.finishing import Finishing
from luigi_airbyte.sync.giving_up import GivingUp
from luigi_airbyte.sync.polling import (
    MIN_POLL_DELAY,
    PollState,
    history_duration_stats,
)
from luigi_airbyte.sync.results import (
    SyncResult,
)
from luigi_airbyte.sync.signals import Terminated, handle_termination
from luigi_airbyte.sync.wait_state import _QUEUED
from luigi_airbyte.sync.watcher import scope_for

logger = logging.getLogger(__name__)

# While Airbyte keeps failing, polls slow down: 1 s doubling per error in a row, 60 s at
# most. No jitter: these poll one job, they are not a herd.
_ERROR_BACKOFF = Backoff(base=1.0, cap=60.0, factor=2.0, jitter="none")


class Waiter(GivingUp, Finishing):
    """The state of one ``SyncRunner.wait`` call, kept off the runner so it stays reusable."""

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
            self._wait_and_poll(self._next_delay(now))

    # ------------------------------------------------------------------ the queue

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

    def _wait_and_poll(self, delay: float) -> None:
        """Sleep ``delay`` and poll; through the host's watcher while it answers."""
        feed = self.feed
        if feed is not None:
            started = self.clock.monotonic()
            seen_job, seen_version = self.feed_seen
            after = seen_version if seen_job == self.job.job_id else 0
            answer = feed.next(self.job, self._scope(), after, delay)
            if answer is not None:
                self.polls += 1
                self.feed_seen = (answer.job.job_id, answer.version)
                if answer.error:
                    self._poll_failed(AirbyteTransportError(f"the job watcher: {answer.error}"))
                else:
                    self._seen(answer.job)
                    self.confirmed = answer.details
                return
            logger.warning(
                "connection %s job %s: the run's job watcher stopped answering; "
                "polling the job directly",
                self.cid,
                self.job.job_id,
            )
            self._emit("sync.watcher_lost", level="warning")
            self.feed = None
            delay = max(0.0, delay - (self.clock.monotonic() - started))
        self.clock.sleep(delay)
        self._poll()

    def _scope(self) -> str:
        """The listing that covers this job: its workspace's when the client knows it."""
        conn = None
        cached = getattr(self.client, "cached_connection", None)
        if callable(cached):
            conn = cached(self.cid)
        workspace = getattr(conn, "workspace_id", None) if conn is not None else None
        return scope_for(self.cid, workspace if isinstance(workspace, str) else None)

    def _poll(self) -> None:
        self.polls += 1
        try:
            job = self.client.get_job(self.job.job_id)
        except TRANSIENT_ERRORS as exc:
            self._poll_failed(exc)
            return
        self._seen(job)

    def _poll_failed(self, exc: AirbyteError) -> None:
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
                self._emit("sync.throttled", level="warning", retry_after_given=not exc.throttled)
            return
        logger.warning(
            "connection %s job %s: polling failed (%s; %d in a row); still waiting",
            self.cid,
            self.job.job_id,
            exc,
            self.errors,
        )

    def _seen(self, job: Job) -> None:
        """Take in the job as a poll that worked saw it."""
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
