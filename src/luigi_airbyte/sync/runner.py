"""``SyncRunner``: one logical sync, exactly one Airbyte job, every outcome checked.

The promise is that a retry, a second process or a re-run after a kill never starts a
second sync of the same data. ``trigger_or_attach`` first *claims* the run key in the
ledger (a lock across processes; rules in ``luigi_airbyte.store.ledger``):

0. the run key has a succeeded job → it is complete: that job is returned, nothing is
   posted, whichever process asks;
   a live claim held by another process → poll the store until the holder's job is in
   the ledger and attach to it (or take the claim over if the holder dies meanwhile);
   otherwise the claim is ours, and we hold it (a ``ClaimKeeper`` renews its lease)
   until ``wait`` ends;
1. the ledger row for the run key names the job a previous attempt started → attach.
   A row naming a job Airbyte no longer knows (404, or 409 "Job is not currently
   running") is settled as ``lost`` with the reason, and we go on;
2. a create intent left by a holder that died (its POST may have reached Airbyte
   unrecorded) → list the connection's jobs created since that intent and adopt the
   one found; only a listing that succeeded and shows no job lets us go on;
3. a job already running on the connection → attach (newest if several). A brand-new
   claim (no create intent: no process of ours can have posted for the run key) may take
   the connection's recent jobs from the run's shared listing (``recent``) instead of
   listing them; if that listing saw a job running there, the connection is listed now;
4. else commit the create intent, then ``POST /jobs``; the job id goes to the ledger
   before anything else (which clears the intent).

A 409 means "attach to the job that is running". A POST answered with a job that was
already queued (listed before we posted) is an attach, ``how="queued"``. An ambiguous
create (the answer was lost, or a 5xx such as "Timed out waiting for a sync job to be
created") is reconciled by listing the connection's jobs created since the call; only
if a listing that succeeded shows none within ``confirm_window`` is the create sent
again, once. That is the only way one claim ever posts twice. A run key whose last job
failed or was cancelled gets a new job on the next claim: that is the recovery re-run.

The holder's steps (0-2 once claimed, adopting a job, settling a gone holder's claim)
are in ``luigi_airbyte.sync.claims``; the loops that wait for a claim, list, reconcile
and post are here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from luigi_airbyte.airbyte.models import Job, JobType, RefreshMode
from luigi_airbyte.backoff import Backoff, retry_until
from luigi_airbyte.errors import (
    AirbyteError,
    AirbyteTransportError,
    ConfigError,
    JobCreateUncertainError,
    Problem,
    RateLimitedError,
    ServerError,
    SyncAlreadyRunningError,
)
from luigi_airbyte.observe.events import Emitter, NullEmitter
from luigi_airbyte.store.ledger import (
    DEFAULT_LEASE_S,
    ClaimLostError,
    ClaimResult,
    Holder,
    Ledger,
)
from luigi_airbyte.sync.api import TRANSIENT_ERRORS, AirbyteJobsAPI, RefreshAPI
from luigi_airbyte.sync.claim_keeper import ClaimKeeper
from luigi_airbyte.sync.claims import (
    ClaimSteps,
    RecentJobs,
    _newest,
    _pause_point,
)
from luigi_airbyte.sync.clock import Clock, SystemClock
from luigi_airbyte.sync.journal import LIST_LIMIT as _LIST_LIMIT
from luigi_airbyte.sync.journal import JobJournal
from luigi_airbyte.sync.polling import MIN_POLL_DELAY
from luigi_airbyte.sync.results import (
    AttachHow,
    Attachment,
    ProgressCallback,
    SyncResult,
)
from luigi_airbyte.sync.settings import SyncSettings
from luigi_airbyte.sync.waiting import Waiter
from luigi_airbyte.sync.watcher import JobFeed

logger = logging.getLogger(__name__)

T = TypeVar("T")


# Waits between this process's own polls (``luigi_airbyte.backoff``), without jitter: the
# claim (0.1 s growing 1.5x to 1 s), job listings while reconciling or after a 409 (0.5 s
# growing 1.5x to 5 s), and a read retried on transient errors (0.5 s doubling to 5 s).
_CLAIM_POLL = Backoff(base=0.1, cap=1.0, factor=1.5, jitter="none")
_LIST_POLL = Backoff(base=0.5, cap=5.0, factor=1.5, jitter="none")
_READ_RETRY = Backoff(base=0.5, cap=5.0, factor=2.0, jitter="none")

_NULL_EMITTER = NullEmitter()
_SYSTEM_CLOCK = SystemClock()
_DEFAULT_SETTINGS = SyncSettings()


class SyncRunner(ClaimSteps):
    """Trigger-or-attach, wait, cancel and judge Airbyte jobs. Knows nothing of Luigi.

    Args:
        client: anything with the ``AirbyteJobsAPI`` methods (the real client, or a fake).
        ledger: durable memory of which job belongs to which run key.
        emitter: receives ``sync.*`` events.
        clock: time source; inject ``FakeClock`` in tests.
        settings: deadlines, poll strategy, outcome rules.
        run_id: the run this runner works for, recorded in the claims it holds.
        lease_s: how long a claim stays live without renewal (renewed every quarter).
        feed: the host's job watcher (``luigi_airbyte.sync.watcher``); while it answers,
            waiting asks it instead of sending ``GET /jobs/{id}``.
        recent: the run's shared listing of recent jobs: ``recent(connection_id,
            job_type, limit)`` gives the connection's newest ``limit`` jobs as an earlier
            run-wide listing saw them, or None when it cannot tell. Only a brand-new claim
            uses it instead of listing the connection (``luigi_airbyte.sync.claims``).
    """

    def __init__(
        self,
        client: AirbyteJobsAPI,
        ledger: Ledger,
        *,
        emitter: Emitter = _NULL_EMITTER,
        clock: Clock = _SYSTEM_CLOCK,
        settings: SyncSettings = _DEFAULT_SETTINGS,
        run_id: str = "",
        lease_s: float = DEFAULT_LEASE_S,
        feed: JobFeed | None = None,
        recent: RecentJobs | None = None,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.emitter = emitter
        self.clock = clock
        self.settings = settings
        self.holder = Holder.this_process(run_id)
        self.lease_s = lease_s
        self.feed = feed
        self.recent = recent
        self.journal = JobJournal(client, ledger, emitter, clock, settings.history_size)
        self._keepers: dict[str, ClaimKeeper] = {}
        self._keepers_lock = threading.Lock()
        self._refreshes: dict[str, tuple[tuple[str, ...], RefreshMode]] = {}

    # ------------------------------------------------------------------ public API

    def run(
        self,
        connection_id: str,
        run_key: str,
        *,
        job_type: JobType = JobType.SYNC,
        on_progress: ProgressCallback | None = None,
    ) -> SyncResult:
        """``trigger_or_attach`` then ``wait``."""
        attachment = self.trigger_or_attach(connection_id, run_key, job_type=job_type)
        return self.wait(attachment, on_progress=on_progress)

    def reset(
        self,
        connection_id: str,
        run_key: str,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> SyncResult:
        """Run a reset job (Airbyte deletes the synced data and the connection's state).

        Same attach/ledger machinery as a sync; use a run key of its own so a reset
        never re-attaches to the sync of the same interval.
        """
        logger.warning(
            "connection %s: starting a reset; Airbyte will delete this connection's "
            "synced data and state (run key %s)",
            connection_id,
            run_key,
        )
        return self.run(connection_id, run_key, job_type=JobType.RESET, on_progress=on_progress)

    def clear(
        self,
        connection_id: str,
        run_key: str,
        *,
        confirm: bool,
        on_progress: ProgressCallback | None = None,
    ) -> SyncResult:
        """Run a clear job, which erases the destination data of the connection.

        Refuses without ``confirm=True``: deleting a warehouse's tables must be a
        decision written down in the pipeline file, not a default.
        """
        if confirm is not True:
            raise ConfigError(
                [
                    Problem(
                        source="pipeline",
                        field="confirm_clear",
                        message=(
                            f"clearing connection {connection_id} erases every row it wrote "
                            "to the destination and its sync state; refusing without "
                            "confirmation"
                        ),
                        fix="set `confirm_clear: true` on the step (or pass confirm=True)",
                    )
                ]
            )
        logger.warning(
            "connection %s: starting a clear; Airbyte will erase this connection's "
            "destination data (run key %s)",
            connection_id,
            run_key,
        )
        return self.run(connection_id, run_key, job_type=JobType.CLEAR, on_progress=on_progress)

    def refresh(
        self,
        connection_id: str,
        run_key: str,
        streams: Sequence[str] = (),
        *,
        mode: RefreshMode = "Truncate",
    ) -> Attachment:
        """Find or start the one refresh of ``streams`` (every stream when empty) for
        ``run_key``: the same claim, intent and reconcile rules as a sync, so whichever
        process or re-run asks, the run key gets one refresh job. ``wait`` on the answer."""
        logger.warning(
            "connection %s: refreshing %s (%s); Airbyte resets their cursors and reads them "
            "again (run key %s)",
            connection_id,
            ", ".join(streams) or "every stream",
            mode,
            run_key,
        )
        self._refreshes[run_key] = (tuple(streams), mode)
        return self.trigger_or_attach(connection_id, run_key, job_type=JobType.REFRESH)

    def trigger_or_attach(
        self, connection_id: str, run_key: str, *, job_type: JobType = JobType.SYNC
    ) -> Attachment:
        """Find or start the one job for this logical sync; see the module docstring.

        A job found through the ledger that already finished is returned as is (its
        outcome recorded): ``wait`` then returns or raises at once. When this call
        claims the run key, the claim stays held (and its lease renewed) until ``wait``
        on the returned attachment ends, or ``release`` is called.
        """
        _pause_point("claim")
        result = self._claim_or_wait(connection_id, run_key, job_type)
        if isinstance(result, Attachment):
            return result
        self._hold(run_key)
        try:
            return self._as_holder(connection_id, run_key, job_type, result)
        except BaseException:
            self.release(run_key)
            raise

    # ------------------------------------------------------------------ the claim

    def _claim_or_wait(
        self, connection_id: str, run_key: str, job_type: JobType
    ) -> Attachment | ClaimResult:
        """Claim the run key; or return the attachment when it is complete or held."""
        deadline = (
            None
            if self.settings.timeout is None
            else self.clock.monotonic() + self.settings.timeout
        )
        told = False
        pauses = _CLAIM_POLL.delays()
        while True:
            result = self.ledger.claim(
                run_key, connection_id, job_type.value, self.holder, self.lease_s
            )
            if result.outcome == "complete" and result.succeeded is not None:
                return self._complete(result.succeeded, connection_id, run_key, job_type)
            if result.outcome == "acquired":
                if result.previous_gone is not None and result.previous is not None:
                    assert result.previous.holder is not None
                    logger.warning(
                        "connection %s: took over run key %s from %s: %s",
                        connection_id,
                        run_key,
                        result.previous.holder.describe(),
                        result.previous_gone,
                    )
                return result
            # Held by someone alive: attach to its job as soon as the ledger names it.
            entry = self.ledger.find_open(run_key)
            if entry is not None:
                attachment = self._attach_from_ledger(entry, connection_id, run_key, job_type)
                if attachment is not None:
                    return attachment
            if not told:
                told = True
                holder = result.claim.holder if result.claim is not None else None
                logger.info(
                    "connection %s: run key %s is claimed by %s; waiting for its job",
                    connection_id,
                    run_key,
                    holder.describe() if holder is not None else "another process",
                )
            if deadline is not None and self.clock.monotonic() >= deadline:
                raise ClaimLostError(
                    f"connection {connection_id}: run key {run_key} stayed claimed by another "
                    f"live process for {self.settings.timeout:.0f}s without a job; find it "
                    "with `ps`, or wait for it to finish"
                )
            self.clock.sleep(next(pauses))

    def _hold(self, run_key: str) -> None:
        keeper = ClaimKeeper(self.ledger, run_key, self.holder, self.lease_s).start()
        with self._keepers_lock:
            old = self._keepers.pop(run_key, None)
            self._keepers[run_key] = keeper
        if old is not None:
            old.stop()

    def wait(
        self,
        target: Attachment | Job,
        *,
        on_progress: ProgressCallback | None = None,
        run_key: str = "",
    ) -> SyncResult:
        """Poll until the job ends, then judge it; return a result or raise.

        Raises:
            SyncFailedError: Airbyte reported the job failed (with its failure reason).
            SyncCancelledError: the job was cancelled (in Airbyte, or by us on interrupt).
            SyncTimeoutError: the deadline passed, or the job was cancelled as stuck.
            OutcomeRuleError: the job succeeded but broke an outcome rule set to fail.
            KeyboardInterrupt, Terminated: re-raised after applying ``on_interrupt``.

        On Ctrl-C or SIGTERM the default, ``on_interrupt="detach"``, leaves the Airbyte
        job running and its ledger row open. That is deliberate: the job does not need
        this process, its data will be valid when it finishes, and the next run with the
        same run key re-attaches to it (or records its outcome). Cancelling instead would
        throw away the work done so far, and a re-run would then start a second sync of
        the same data, which is exactly what this runner exists to prevent. Choose
        ``"cancel"`` when a stopped pipeline must not leave anything running; the cancel
        is confirmed by polling before the interrupt is re-raised.

        A bare ``Job`` has no run key unless ``run_key`` is given; without one the ledger
        is not touched.
        """
        if isinstance(target, Attachment):
            attachment = target
        else:
            attachment = Attachment(
                job=target,
                how="running",
                connection_id=target.connection_id,
                run_key=run_key,
                job_type=target.job_type
                if target.job_type is not JobType.UNKNOWN
                else JobType.SYNC,
            )
        try:
            waiter = Waiter(
                attachment,
                on_progress,
                client=self.client,
                settings=self.settings,
                clock=self.clock,
                journal=self.journal,
                feed=self.feed,
            )
            return waiter.run()
        finally:
            if attachment.run_key:
                self.release(attachment.run_key)

    # ------------------------------------------------------------------ attach helpers

    def _create(
        self,
        connection_id: str,
        run_key: str,
        job_type: JobType,
        recent: list[Job],
        history: tuple[Job, ...],
    ) -> Attachment:
        # Job ids only grow, so any job with a higher id than the newest we just listed
        # appeared after that listing: it is ours (or one that blocked ours).
        seen_max = max((j.job_id for j in recent), default=None)
        known = {j.job_id for j in recent}
        posts = 0
        while True:
            posts += 1
            # Durable before the request leaves: a kill from here on leaves an intent
            # that the next holder reconciles instead of posting.
            self.ledger.mark_intent(run_key, self.holder, seen_max)
            _pause_point("intent")
            since = self.clock.now() - timedelta(seconds=self.settings.clock_skew)
            try:
                job = self._post(connection_id, run_key, job_type)
                _pause_point("posted")
            except SyncAlreadyRunningError as exc:
                return self._attach_after_conflict(
                    connection_id, run_key, job_type, exc, since, seen_max
                )
            except (AirbyteTransportError, ServerError, RateLimitedError) as exc:
                adopted = self._after_lost_answer(
                    exc, connection_id, run_key, job_type, history, since, seen_max, posts
                )
                if adopted is None:
                    continue  # verified: no job appeared; the one more POST
                return adopted
            if job.job_id in known or _existed_before(job, seen_max, since):
                # Airbyte answered with a job that existed before we posted (a queued
                # one, since mid-2026): listed before the POST, or created before it by
                # more than the clock skew. Ours by attachment, not by creation.
                return self._adopt(job, "queued", connection_id, run_key, job_type, history)
            return self._adopt(job, "created", connection_id, run_key, job_type, history)

    def _after_lost_answer(
        self,
        exc: Exception,
        connection_id: str,
        run_key: str,
        job_type: JobType,
        history: tuple[Job, ...],
        since: datetime,
        seen_max: int | None,
        posts: int,
    ) -> Attachment | None:
        """A POST whose answer was lost (transport error, 5xx: the job may exist; a
        ``JobCreateUncertainError`` is the client saying so). The job found by listing
        is adopted; ``None`` means a verified listing showed no job after the first POST,
        so one more POST is safe; anything else re-raises ``exc`` without posting."""
        kind = "answer lost" if isinstance(exc, JobCreateUncertainError) else str(exc)
        logger.warning(
            "connection %s job ?: create may or may not have reached Airbyte (%s); "
            "listing jobs created since %s to find out",
            connection_id,
            kind,
            since.isoformat(),
        )

        found = self._reconcile_or_refuse(
            connection_id,
            run_key,
            job_type,
            since,
            seen_max,
            history,
            whose="the create",
            refusal=lambda: exc,
        )
        if found is not None:
            return found
        if posts >= 2:
            logger.error(
                "connection %s job ?: still no job after a second unanswered create; "
                "giving up without posting again",
                connection_id,
            )
            raise exc
        logger.warning(
            "connection %s job ?: no job appeared within %.0fs; posting once more",
            connection_id,
            self.settings.confirm_window,
        )
        return None

    def _post(self, connection_id: str, run_key: str, job_type: JobType) -> Job:
        """The one request that starts a job: ``POST /jobs``, or for a refresh the config
        API's ``POST /v1/connections/refresh`` (the public API refuses refreshes)."""
        if job_type is not JobType.REFRESH:
            return self.client.create_job(connection_id, job_type=job_type)
        if not isinstance(self.client, RefreshAPI):
            raise AirbyteError(f"connection {connection_id}: this client cannot start refreshes")
        streams, mode = self._refreshes.get(run_key, ((), "Truncate"))
        return self.client.refresh_streams(connection_id, streams, mode=mode)

    def _is_new(self, job: Job, connection_id: str, since: datetime, seen_max: int | None) -> bool:
        if job.connection_id and job.connection_id != connection_id:
            return False
        if seen_max is not None:
            return job.job_id > seen_max
        return job.start_time is None or job.start_time >= since

    def _reconcile(
        self, connection_id: str, job_type: JobType, since: datetime, seen_max: int | None
    ) -> tuple[Job | None, bool]:
        """Look for the job an unanswered ``POST /jobs`` may have created.

        Returns ``(job, verified)``. ``(None, True)`` only when a listing that *succeeded*
        at least ``confirm_window`` after the call showed no new job: failed listings do
        not count as "nothing there". If no listing succeeds within three windows, the
        answer is ``(None, False)`` and the caller must not post again.
        """
        start = self.clock.monotonic()
        window_end = start + self.settings.confirm_window
        give_up = start + 3 * self.settings.confirm_window
        pauses = _LIST_POLL.delays()
        while True:
            listed: list[Job] | None
            try:
                listed = list(
                    self.client.list_jobs(
                        connection_id,
                        job_type=job_type,
                        created_at_start=since,
                        order_by="createdAt|DESC",
                        page_size=_LIST_LIMIT,
                        max_items=_LIST_LIMIT,
                    )
                )
            except TRANSIENT_ERRORS as exc:
                logger.warning(
                    "connection %s job ?: listing jobs to reconcile failed (%s); retrying",
                    connection_id,
                    exc,
                )
                listed = None
                _pause_point("reconciling")
            now = self.clock.monotonic()
            if listed is not None:
                found = _newest(
                    j
                    for j in listed
                    if self._is_new(j, connection_id, since, seen_max)
                    and j.job_type in (job_type, JobType.UNKNOWN)
                )
                if found is not None:
                    return found, True
                if now >= window_end:
                    return None, True
            elif now >= give_up:
                return None, False
            target = window_end if listed is not None else give_up
            self.clock.sleep(min(next(pauses), max(target - now, MIN_POLL_DELAY)))

    def _attach_after_conflict(
        self,
        connection_id: str,
        run_key: str,
        job_type: JobType,
        exc: SyncAlreadyRunningError,
        since: datetime,
        seen_max: int | None,
    ) -> Attachment:
        """A 409: find the job that holds the connection and attach to it."""
        deadline = self.clock.monotonic() + self.settings.confirm_window
        pauses = _LIST_POLL.delays()
        while True:
            try:
                listed = self.journal.list_once(connection_id, job_type)
            except TRANSIENT_ERRORS as err:
                logger.warning(
                    "connection %s job ?: listing jobs after a 409 failed (%s); retrying",
                    connection_id,
                    err,
                )
                listed = []
            history = tuple(j for j in listed if j.status.is_terminal)
            running = _newest(j for j in listed if not j.status.is_terminal)
            if running is not None:
                return self._adopt(running, "conflict", connection_id, run_key, job_type, history)
            # The job that blocked us may already have finished: it is newer than anything
            # we saw before posting.
            blocker = _newest(j for j in listed if self._is_new(j, connection_id, since, seen_max))
            if blocker is not None:
                return self._adopt(blocker, "conflict", connection_id, run_key, job_type, history)
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                break
            self.clock.sleep(min(next(pauses), remaining))

        hint = self._describe_busy(connection_id, job_type)
        logger.error(
            "connection %s job ?: Airbyte answered 409 but no running %s job became visible "
            "within %.0fs; %s",
            connection_id,
            job_type.value,
            self.settings.confirm_window,
            hint,
        )
        raise SyncAlreadyRunningError(
            status_code=exc.status_code,
            method=exc.method,
            path=exc.path,
            server_message=exc.server_message,
            problem_type=exc.problem_type,
            hint=f"connection {connection_id}: {hint}",
        ) from exc

    def _describe_busy(self, connection_id: str, job_type: JobType) -> str:
        try:
            others = [
                j
                for j in self.client.list_jobs(
                    connection_id, order_by="createdAt|DESC", page_size=5, max_items=5
                )
                if not j.status.is_terminal
            ]
        except AirbyteError:
            others = []
        if others:
            job = others[0]
            return (
                f"the connection is busy with {job.job_type.value} job {job.job_id} "
                f"({job.status.value}); retry when it has finished"
            )
        return (
            "no job is visibly running; Airbyte's connection state may be stuck "
            "(airbytehq/airbyte#25920): check the connection in the Airbyte UI, then retry"
        )

    # ------------------------------------------------------------------ reading helpers

    def _list_recent(self, connection_id: str, job_type: JobType) -> list[Job]:
        """The newest jobs of this type on the connection: running ones and history."""
        jobs = self._retry_read(
            lambda: self.journal.list_once(connection_id, job_type),
            connection_id,
            None,
            "list jobs",
        )
        return sorted(jobs, key=lambda j: j.job_id, reverse=True)

    def _retry_read(
        self, read: Callable[[], T], connection_id: str, job_id: int | None, what: str
    ) -> T:
        """Retry a read on transient errors for up to ``confirm_window``, then raise."""

        def log_retry(attempt: int, exc: BaseException) -> None:
            logger.warning(
                "connection %s job %s: %s failed (attempt %d: %s); retrying",
                connection_id,
                "?" if job_id is None else job_id,
                what,
                attempt,
                exc,
            )

        return retry_until(
            read,
            retry_on=TRANSIENT_ERRORS,
            deadline=self.clock.monotonic() + self.settings.confirm_window,
            backoff=_READ_RETRY,
            monotonic=self.clock.monotonic,
            sleep=self.clock.sleep,
            on_retry=log_retry,
        )

    # ------------------------------------------------------------------ small helpers

    def _emit_attach(
        self,
        name: str,
        how: AttachHow,
        job: Job,
        connection_id: str,
        run_key: str,
        job_type: JobType,
    ) -> None:
        self.journal.emit(
            name,
            connection_id=connection_id,
            job_id=job.job_id,
            run_key=run_key,
            job_type=job_type.value,
            how=how,
            status=job.status.value,
            job_url=self.journal.job_url(job),
        )


__all__ = ["SyncRunner"]


def _existed_before(job: Job, seen_max: int | None, since: datetime) -> bool:
    """Whether Airbyte's answer to our POST is a job older than the POST: job ids only
    grow, so one at or below the newest listed before it, or one created before it by
    more than the clock skew."""
    return (seen_max is not None and job.job_id <= seen_max) or (
        job.start_time is not None and job.start_time < since
    )
