"""The claim side of ``SyncRunner``: acting as the run key's holder, attaching to the job
the ledger names, adopting a job into the ledger, settling a gone holder's claim.

``ClaimSteps`` is mixed into ``SyncRunner``; ``_Runner`` says what it uses of the runner
(the loops that list, reconcile and post stay in ``runner.py``). The rules are in the
module docstring of ``luigi_airbyte.sync.runner`` and in ``luigi_airbyte.store.ledger``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, TypeVar

from luigi_airbyte.airbyte.models import Job, JobStatus, JobType
from luigi_airbyte.errors import (
    AirbyteError,
    ConflictError,
    JobCreateUncertainError,
    LuigiAirbyteError,
    NotFoundError,
    SyncAlreadyRunningError,
)
from luigi_airbyte.store.ledger import Claim, ClaimResult, Holder, Ledger, LedgerEntry
from luigi_airbyte.sync.api import AirbyteJobsAPI
from luigi_airbyte.sync.claim_keeper import ClaimKeeper
from luigi_airbyte.sync.clock import Clock
from luigi_airbyte.sync.journal import JobJournal
from luigi_airbyte.sync.results import LOST, AttachHow, Attachment
from luigi_airbyte.sync.settings import SyncSettings

logger = logging.getLogger("luigi_airbyte.sync.runner")

T = TypeVar("T")

RecentJobs = Callable[[str, JobType, int], "list[Job] | None"]
"""The run's shared listing: ``(connection_id, job_type, limit)`` → the connection's newest
``limit`` jobs of that type as a run-wide listing saw them, or None when it cannot tell."""

#: Test-only hook: at the sync boundary named by this variable (``claim``: before the
#: claim; ``claimed``: claim committed; ``intent``: create intent committed, POST not sent;
#: ``posted``: POST answered, job not recorded; ``reconciling``: a reconcile listing failed)
#: the process touches the file named by ``LUIGI_AIRBYTE_TEST_PAUSE_FILE`` and sleeps, so
#: a test can kill -9 it exactly there.
PAUSE_ENV = "LUIGI_AIRBYTE_TEST_PAUSE_AT"
PAUSE_FILE_ENV = "LUIGI_AIRBYTE_TEST_PAUSE_FILE"


def _pause_point(boundary: str) -> None:
    if os.environ.get(PAUSE_ENV) != boundary:
        return
    marker = os.environ.get(PAUSE_FILE_ENV)
    if marker:
        Path(marker).write_text(f"{os.getpid()} {boundary}\n", encoding="utf-8")
    logger.warning("test pause hook: pid %s sleeping at %r", os.getpid(), boundary)
    while True:
        time.sleep(3600)


def _is_unknown_job(exc: AirbyteError) -> bool:
    """404, or Airbyte's 409 "Job is not currently running" for a job it does not know."""
    if isinstance(exc, NotFoundError):
        return True
    return (
        isinstance(exc, ConflictError)
        and not isinstance(exc, SyncAlreadyRunningError)
        and "not currently running" in (exc.server_message or str(exc)).lower()
    )


def _newest(jobs: Iterable[Job]) -> Job | None:
    # Airbyte job ids come from one increasing sequence, so the highest id is the newest,
    # whatever order a server (or a fake) lists them in.
    return max(jobs, key=lambda j: j.job_id, default=None)


class _Runner(Protocol):
    """What ``ClaimSteps`` uses of ``SyncRunner`` (methods as properties returning a
    callable, so their signatures are not restated here)."""

    client: AirbyteJobsAPI
    ledger: Ledger
    clock: Clock
    settings: SyncSettings
    holder: Holder
    lease_s: float
    recent: RecentJobs | None
    _keepers: dict[str, ClaimKeeper]
    _keepers_lock: threading.Lock

    def release(self, run_key: str) -> None: ...

    def _retry_read(
        self, read: Callable[[], T], connection_id: str, job_id: int | None, what: str
    ) -> T: ...

    journal: JobJournal

    @property
    def _emit_attach(self) -> Callable[..., None]: ...

    @property
    def _reconcile(self) -> Callable[..., tuple[Job | None, bool]]: ...

    @property
    def _reconcile_or_refuse(self) -> Callable[..., Attachment | None]: ...

    @property
    def _list_recent(self) -> Callable[..., list[Job]]: ...

    @property
    def _shared_recent(self) -> Callable[..., list[Job] | None]: ...

    @property
    def _create(self) -> Callable[..., Attachment]: ...

    @property
    def _attach_from_ledger(self) -> Callable[..., Attachment | None]: ...

    @property
    def _adopt(self) -> Callable[..., Attachment]: ...

    @property
    def _reconcile_intent(self) -> Callable[..., Attachment | None]: ...

    @property
    def _ledger_attachment(self) -> Callable[..., Attachment]: ...

    @property
    def _ledger_job(self) -> Callable[..., Job]: ...


class ClaimSteps:
    """The holder's steps of ``SyncRunner`` (see the module docstring)."""

    def release(self: _Runner, run_key: str) -> None:
        """Give up this runner's claim on ``run_key`` (a no-op if it holds none)."""
        with self._keepers_lock:
            keeper = self._keepers.pop(run_key, None)
        if keeper is None:
            return
        keeper.stop()
        try:
            self.ledger.release(run_key, self.holder)
        except LuigiAirbyteError as exc:  # the store is down: the lease expires anyway
            logger.warning("run key %s: could not release the claim (%s)", run_key, exc)

    def settle(self: _Runner, run_key: str) -> LedgerEntry | None:
        """Settle the claim of a holder that is gone, against Airbyte; post nothing.

        For marking abandoned runs: take the claim over (only if its holder is gone or
        it is free), record the outcome of the job its ledger row names if that job has
        finished (or ``lost`` if Airbyte no longer knows it), adopt a job a lost create
        made, then release the claim. Returns the run key's newest ledger row, or
        ``None`` when there is none or the holder is still alive.

        Raises ``AirbyteError`` when Airbyte cannot be read (the claim is released and
        keeps its intent, so the next run reconciles), ``StoreError`` when the store fails.
        """
        claim = self.ledger.get_claim(run_key)
        if claim is None:
            return self.ledger.find_open(run_key)
        result = self.ledger.claim(
            run_key, claim.connection_id, claim.job_type, self.holder, self.lease_s
        )
        if result.outcome == "complete":
            return result.succeeded
        if result.outcome == "held":
            return None
        job_type = JobType.parse(claim.job_type)
        try:
            entry = self.ledger.find_open(run_key)
            if entry is not None:
                self._attach_from_ledger(entry, claim.connection_id, run_key, job_type)
            elif claim.intent_at is not None:
                self._reconcile_intent(claim, claim.connection_id, run_key, job_type)
        finally:
            self.ledger.release(run_key, self.holder)
        return self.ledger.find_open(run_key) or self.ledger.last_succeeded(run_key)

    def _as_holder(
        self: _Runner, connection_id: str, run_key: str, job_type: JobType, result: ClaimResult
    ) -> Attachment:
        entry = self.ledger.find_open(run_key)
        if entry is not None:
            attachment = self._attach_from_ledger(entry, connection_id, run_key, job_type)
            if attachment is not None:
                return attachment
        claim = result.claim
        if claim is not None and claim.intent_at is not None:
            found = self._reconcile_intent(claim, connection_id, run_key, job_type)
            if found is not None:
                return found
        _pause_point("claimed")

        recent = self._shared_recent(connection_id, job_type, claim)
        if recent is None:
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

    def _shared_recent(
        self: _Runner, connection_id: str, job_type: JobType, claim: Claim | None
    ) -> list[Job] | None:
        """The connection's recent jobs from the run's shared listing, for a brand-new
        claim only; None means: list the connection's jobs now.

        Brand-new: the claim carries no create intent. Every POST of ours is preceded by
        a committed intent that only the recorded job clears, so without one no process
        of ours can have posted a job for this run key that the ledger does not name:
        nothing of ours is there to find. The listing then only serves to attach to a
        job running on the connection and to learn the job ids that existed before the
        POST (a lower bound stays a lower bound, however old the listing). A job the
        shared listing saw running is looked at again now; one started after it is
        reported by Airbyte's answer to the POST (409, or the queued job itself).
        """
        if self.recent is None or claim is None or claim.intent_at is not None:
            return None
        try:
            jobs = self.recent(connection_id, job_type, self.journal.listing_size)
        except Exception:  # a hint only: the connection is listed instead
            logger.exception("connection %s: the run's shared job listing failed", connection_id)
            return None
        if jobs is None:
            return None
        jobs = [j for j in jobs if j.connection_id in ("", connection_id)]
        if any(not j.status.is_terminal for j in jobs):
            return None
        logger.debug(
            "connection %s: recent jobs from the run's listing (%d); not listing again",
            connection_id,
            len(jobs),
        )
        return sorted(jobs, key=lambda j: j.job_id, reverse=True)

    def _reconcile_intent(
        self: _Runner, claim: Claim, connection_id: str, run_key: str, job_type: JobType
    ) -> Attachment | None:
        """A holder committed a create intent and never recorded a job: find that job."""
        assert claim.intent_at is not None
        since = claim.intent_at - timedelta(seconds=self.settings.clock_skew)
        logger.warning(
            "connection %s job ?: a previous holder of run key %s may have posted a job "
            "at %s without recording it; listing jobs created since %s",
            connection_id,
            run_key,
            claim.intent_at.isoformat(timespec="seconds"),
            since.isoformat(timespec="seconds"),
        )
        intent_at = claim.intent_at
        return self._reconcile_or_refuse(
            connection_id,
            run_key,
            job_type,
            since,
            claim.intent_seen_max,
            None,
            whose="the previous holder's create",
            refusal=lambda: JobCreateUncertainError(
                f"connection {connection_id}: run key {run_key} has an unreconciled create "
                f"from {intent_at.isoformat(timespec='seconds')} and Airbyte's job list "
                "could not be read; run again when Airbyte answers",
                method="GET",
                path="/jobs",
            ),
        )

    def _reconcile_or_refuse(
        self: _Runner,
        connection_id: str,
        run_key: str,
        job_type: JobType,
        since: datetime,
        seen_max: int | None,
        history: tuple[Job, ...] | None,
        *,
        whose: str,
        refusal: Callable[[], Exception],
    ) -> Attachment | None:
        """Settle a create that may have reached Airbyte: adopt the job a listing finds;
        ``None`` when a verified listing shows none (posting is safe); and when no listing
        could be verified, raise ``refusal()``: a second job could duplicate the sync."""
        found, verified = self._reconcile(connection_id, job_type, since, seen_max)
        if found is not None:
            return self._adopt(found, "reconciled", connection_id, run_key, job_type, history)
        if not verified:
            logger.error(
                "connection %s job ?: could not list jobs to check whether %s worked; "
                "not posting (a second job could duplicate the sync)",
                connection_id,
                whose,
            )
            raise refusal()
        return None

    def _complete(
        self: _Runner, entry: LedgerEntry, connection_id: str, run_key: str, job_type: JobType
    ) -> Attachment:
        """The run key already has a succeeded job: return it; nothing is posted."""
        try:
            job = self._ledger_job(entry, connection_id)
        except AirbyteError as exc:
            if not _is_unknown_job(exc):
                raise
            job = Job(
                job_id=entry.job_id,
                status=JobStatus.SUCCEEDED,
                job_type=JobType.parse(entry.job_type),
                connection_id=entry.connection_id,
                rows_synced=entry.rows_committed,
                bytes_synced=entry.bytes_committed,
            )
        logger.info(
            "connection %s job %s: run key %s already succeeded; nothing to start",
            connection_id,
            job.job_id,
            run_key,
        )
        return self._ledger_attachment(job, connection_id, run_key, job_type)

    def _attach_from_ledger(
        self: _Runner, entry: LedgerEntry, connection_id: str, run_key: str, job_type: JobType
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
            job = self._ledger_job(entry, connection_id)
        except AirbyteError as exc:
            if not _is_unknown_job(exc):
                raise
            reason = f"Airbyte does not know job {entry.job_id}: {exc}"
            logger.warning(
                "connection %s job %s: the ledger's job is unknown to Airbyte (%s); "
                "settling its ledger row as lost and going on",
                connection_id,
                entry.job_id,
                exc,
            )
            self.journal.record_outcome(run_key, entry.job_id, LOST, None, None, reason=reason)
            return None
        if job.status.is_terminal:
            logger.info(
                "connection %s job %s: the ledger's job already finished (%s)",
                connection_id,
                job.job_id,
                job.status.value,
            )
            status = job.status.value
            self.journal.record_outcome(
                run_key, job.job_id, status, job.rows_synced, job.bytes_synced
            )
        else:
            logger.info(
                "connection %s job %s: re-attaching to the job in the ledger for run key %s (%s)",
                connection_id,
                job.job_id,
                run_key,
                job.status.value,
            )
        return self._ledger_attachment(job, connection_id, run_key, job_type)

    def _ledger_job(self: _Runner, entry: LedgerEntry, connection_id: str) -> Job:
        """The job a ledger row names, as Airbyte reports it now (transient errors retried)."""
        return self._retry_read(
            lambda: self.client.get_job(entry.job_id), connection_id, entry.job_id, "get job"
        )

    def _ledger_attachment(
        self: _Runner, job: Job, connection_id: str, run_key: str, job_type: JobType
    ) -> Attachment:
        """The attachment to a job the ledger named. The job's own type wins over the
        requested one: it is what actually ran."""
        if job.job_type is not JobType.UNKNOWN:
            job_type = job.job_type
        self._emit_attach("sync.attached", "ledger", job, connection_id, run_key, job_type)
        return Attachment(
            job=job, how="ledger", connection_id=connection_id, run_key=run_key, job_type=job_type
        )

    def _adopt(
        self: _Runner,
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
            "queued": "attached to the queued job Airbyte answered the create with",
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
