"""``SyncRunner``: one logical sync, exactly one Airbyte job, every outcome checked.

The promise is that a retry never starts a second sync of the same data:

1. the ledger row for the run key names the job a previous attempt started → attach;
2. else a job already running on the connection → attach (newest if several);
3. else ``POST /jobs``, and the job id goes to the ledger before anything else.

A 409 means "attach to the job that is running". An ambiguous create (the answer was
lost) is reconciled by listing the connection's jobs created since the call; only if
none appears within ``confirm_window`` is the create sent again, once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from luigi_airbyte.airbyte.models import Job, JobType
from luigi_airbyte.errors import (
    AirbyteError,
    AirbyteTransportError,
    ConfigError,
    JobCreateUncertainError,
    NotFoundError,
    Problem,
    RateLimitedError,
    ServerError,
    SyncAlreadyRunningError,
)
from luigi_airbyte.observe.events import Emitter, Event, NullEmitter
from luigi_airbyte.store.ledger import Ledger, LedgerEntry
from luigi_airbyte.sync.api import TRANSIENT_ERRORS, AirbyteJobsAPI
from luigi_airbyte.sync.clock import Clock, SystemClock
from luigi_airbyte.sync.polling import MIN_POLL_DELAY
from luigi_airbyte.sync.results import (
    MISSING,
    AttachHow,
    Attachment,
    ProgressCallback,
    SyncResult,
)
from luigi_airbyte.sync.settings import SyncSettings
from luigi_airbyte.sync.waiting import Waiter

logger = logging.getLogger(__name__)

T = TypeVar("T")

_LIST_LIMIT = 20

_NULL_EMITTER = NullEmitter()
_SYSTEM_CLOCK = SystemClock()
_DEFAULT_SETTINGS = SyncSettings()


def _newest(jobs: Iterable[Job]) -> Job | None:
    # Airbyte job ids come from one increasing sequence, so the highest id is the newest,
    # whatever order a server (or a fake) lists them in.
    return max(jobs, key=lambda j: j.job_id, default=None)


class SyncRunner:
    """Trigger-or-attach, wait, cancel and judge Airbyte jobs. Knows nothing of Luigi.

    Args:
        client: anything with the ``AirbyteJobsAPI`` methods (the real client, or a fake).
        ledger: durable memory of which job belongs to which run key.
        emitter: receives ``sync.*`` events.
        clock: time source; inject ``FakeClock`` in tests.
        settings: deadlines, poll strategy, outcome rules.
    """

    def __init__(
        self,
        client: AirbyteJobsAPI,
        ledger: Ledger,
        *,
        emitter: Emitter = _NULL_EMITTER,
        clock: Clock = _SYSTEM_CLOCK,
        settings: SyncSettings = _DEFAULT_SETTINGS,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.emitter = emitter
        self.clock = clock
        self.settings = settings

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

    def trigger_or_attach(
        self, connection_id: str, run_key: str, *, job_type: JobType = JobType.SYNC
    ) -> Attachment:
        """Find or start the one job for this logical sync; see the module docstring.

        A job found through the ledger that already finished is returned as is (its
        outcome recorded): ``wait`` then returns or raises at once.
        """
        entry = self.ledger.find_open(run_key)
        if entry is not None:
            attachment = self._attach_from_ledger(entry, connection_id, run_key, job_type)
            if attachment is not None:
                return attachment

        recent = self._list_recent(connection_id, job_type)
        history = tuple(j for j in recent if j.status.is_terminal)
        running = [j for j in recent if not j.status.is_terminal]
        job = _newest(running)
        if job is not None:
            if len(running) > 1:
                logger.warning(
                    "connection %s job %s: %d jobs are running on the connection (%s); "
                    "attaching to the newest",
                    connection_id,
                    job.job_id,
                    len(running),
                    ", ".join(str(j.job_id) for j in running),
                )
            return self._adopt(job, "running", connection_id, run_key, job_type, history)

        return self._create(connection_id, run_key, job_type, recent, history)

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
        return Waiter(self, attachment, on_progress).run()

    # ------------------------------------------------------------------ attach helpers

    def _attach_from_ledger(
        self, entry: LedgerEntry, connection_id: str, run_key: str, job_type: JobType
    ) -> Attachment | None:
        if entry.connection_id != connection_id:
            logger.warning(
                "connection %s job %s: run key %s has an open ledger row for another "
                "connection (%s); not attaching to it",
                connection_id,
                entry.job_id,
                run_key,
                entry.connection_id,
            )
            return None
        try:
            job = self._retry_read(
                lambda: self.client.get_job(entry.job_id), connection_id, entry.job_id, "get job"
            )
        except NotFoundError:
            logger.warning(
                "connection %s job %s: the ledger's job no longer exists in Airbyte; "
                "closing its ledger row and looking for another",
                connection_id,
                entry.job_id,
            )
            self._record_outcome(run_key, entry.job_id, MISSING, None, None)
            return None
        if job.status.is_terminal:
            logger.info(
                "connection %s job %s: the ledger's job already finished (%s)",
                connection_id,
                job.job_id,
                job.status.value,
            )
            status = job.status.value
            self._record_outcome(run_key, job.job_id, status, job.rows_synced, job.bytes_synced)
        else:
            logger.info(
                "connection %s job %s: re-attaching to the job in the ledger for run key %s (%s)",
                connection_id,
                job.job_id,
                run_key,
                job.status.value,
            )
        # The job's own type wins over the requested one: it is what actually ran.
        if job.job_type is not JobType.UNKNOWN:
            job_type = job.job_type
        self._emit_attach("sync.attached", "ledger", job, connection_id, run_key, job_type)
        return Attachment(
            job=job, how="ledger", connection_id=connection_id, run_key=run_key, job_type=job_type
        )

    def _adopt(
        self,
        job: Job,
        how: AttachHow,
        connection_id: str,
        run_key: str,
        job_type: JobType,
        history: tuple[Job, ...] | None,
    ) -> Attachment:
        # The ledger write comes first: if anything after it fails or the process dies,
        # the next run finds this job instead of starting another.
        self.ledger.record_job(
            LedgerEntry(
                run_key=run_key,
                connection_id=connection_id,
                job_id=job.job_id,
                job_type=job_type.value,
                attached=how != "created",
                status=job.status.value,
                created_at=self.clock.now(),
            )
        )
        verb = {
            "created": "triggered",
            "reconciled": "reconciled (found after an unanswered create)",
            "conflict": "attached after a 409 (a sync was already running)",
            "running": "attached to the job already running",
            "ledger": "re-attached",
        }[how]
        logger.info(
            "connection %s job %s: %s (%s, run key %s)",
            connection_id,
            job.job_id,
            verb,
            job.status.value,
            run_key,
        )
        name = {"created": "sync.triggered", "reconciled": "sync.reconciled"}.get(
            how, "sync.attached"
        )
        self._emit_attach(name, how, job, connection_id, run_key, job_type)
        if history is not None:
            history = tuple(j for j in history if j.job_id != job.job_id)
        return Attachment(
            job=job,
            how=how,
            connection_id=connection_id,
            run_key=run_key,
            job_type=job_type,
            history=history,
        )

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
        posts = 0
        while True:
            posts += 1
            since = self.clock.now() - timedelta(seconds=self.settings.clock_skew)
            try:
                job = self.client.create_job(connection_id, job_type=job_type)
            except SyncAlreadyRunningError as exc:
                return self._attach_after_conflict(
                    connection_id, run_key, job_type, exc, since, seen_max
                )
            except (AirbyteTransportError, ServerError, RateLimitedError) as exc:
                # Transport errors and 5xx on a POST are ambiguous: the job may exist.
                # JobCreateUncertainError is the client saying so explicitly.
                kind = "answer lost" if isinstance(exc, JobCreateUncertainError) else str(exc)
                logger.warning(
                    "connection %s job ?: create may or may not have reached Airbyte (%s); "
                    "listing jobs created since %s to find out",
                    connection_id,
                    kind,
                    since.isoformat(),
                )
                found, verified = self._reconcile(connection_id, job_type, since, seen_max)
                if found is not None:
                    return self._adopt(
                        found, "reconciled", connection_id, run_key, job_type, history
                    )
                if not verified:
                    logger.error(
                        "connection %s job ?: could not list jobs to check whether the create "
                        "worked; not posting again (a second job could duplicate the sync)",
                        connection_id,
                    )
                    raise
                if posts >= 2:
                    logger.error(
                        "connection %s job ?: still no job after a second unanswered create; "
                        "giving up without posting again",
                        connection_id,
                    )
                    raise
                logger.warning(
                    "connection %s job ?: no job appeared within %.0fs; posting once more",
                    connection_id,
                    self.settings.confirm_window,
                )
                continue
            return self._adopt(job, "created", connection_id, run_key, job_type, history)

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
        delay = 0.5
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
            self.clock.sleep(min(delay, max(target - now, MIN_POLL_DELAY)))
            delay = min(delay * 1.5, 5.0)

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
        delay = 0.5
        while True:
            try:
                listed = self._list_once(connection_id, job_type)
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
            self.clock.sleep(min(delay, remaining))
            delay = min(delay * 1.5, 5.0)

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

    def _list_once(self, connection_id: str, job_type: JobType) -> list[Job]:
        limit = max(self.settings.history_size + 5, _LIST_LIMIT)
        return list(
            self.client.list_jobs(
                connection_id,
                job_type=job_type,
                order_by="createdAt|DESC",
                page_size=limit,
                max_items=limit,
            )
        )

    def _list_recent(self, connection_id: str, job_type: JobType) -> list[Job]:
        """The newest jobs of this type on the connection: running ones and history."""
        jobs = self._retry_read(
            lambda: self._list_once(connection_id, job_type), connection_id, None, "list jobs"
        )
        return sorted(jobs, key=lambda j: j.job_id, reverse=True)

    def _retry_read(
        self, read: Callable[[], T], connection_id: str, job_id: int | None, what: str
    ) -> T:
        """Retry a read on transient errors for up to ``confirm_window``, then raise."""
        deadline = self.clock.monotonic() + self.settings.confirm_window
        delay = 0.5
        attempt = 0
        while True:
            attempt += 1
            try:
                return read()
            except TRANSIENT_ERRORS as exc:
                remaining = deadline - self.clock.monotonic()
                if remaining <= 0:
                    raise
                logger.warning(
                    "connection %s job %s: %s failed (attempt %d: %s); retrying",
                    connection_id,
                    "?" if job_id is None else job_id,
                    what,
                    attempt,
                    exc,
                )
                self.clock.sleep(min(delay, remaining))
                delay = min(delay * 2, 5.0)

    def _load_history(self, attachment: Attachment) -> tuple[Job, ...]:
        if attachment.history is not None:
            return attachment.history
        try:
            listed = self._list_once(attachment.connection_id, attachment.job_type)
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

    # ------------------------------------------------------------------ small helpers

    def _record_outcome(
        self,
        run_key: str,
        job_id: int,
        status: str,
        rows: int | None,
        bytes_: int | None,
    ) -> None:
        if not run_key:
            return
        self.ledger.record_outcome(
            run_key,
            job_id,
            status=status,
            rows_committed=rows,
            bytes_committed=bytes_,
            finished_at=self.clock.now(),
        )

    def _emit(self, name: str, level: str = "info", **fields: Any) -> None:
        self.emitter.emit(Event(name=name, fields=fields, at=self.clock.now(), level=level))

    def _emit_attach(
        self,
        name: str,
        how: AttachHow,
        job: Job,
        connection_id: str,
        run_key: str,
        job_type: JobType,
    ) -> None:
        self._emit(
            name,
            connection_id=connection_id,
            job_id=job.job_id,
            run_key=run_key,
            job_type=job_type.value,
            how=how,
            status=job.status.value,
            job_url=self._job_url(job),
        )

    def _job_url(self, job: Job) -> str:
        try:
            return self.client.job_url(job)
        except Exception:
            logger.exception(
                "connection %s job %s: could not build the job URL", job.connection_id, job.job_id
            )
            return ""


__all__ = ["SyncRunner"]
