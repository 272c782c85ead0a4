"""Work outside a pipeline run: sync one connection now, cancel a job and confirm it.

The CLI's ``sync`` and ``jobs cancel`` commands are thin adapters over these functions,
so a script gets the same behaviour as the command line:

* ``sync_connection`` runs through `SyncRunner`, so it never starts a second job for
  the same run key (ledger row → attach; a running job → attach; 409 → attach). The
  default run key is the one pipeline runs use, ``sync:<connection id>:<UTC date>``:
  a ``sync`` while the nightly pipeline syncs the same connection attaches to its job.
  The sync is recorded in the metadata store as a run of the pipeline ``adhoc`` with
  one step, so ``history`` and ``show`` report it like any other run.
* ``start_sync`` only triggers (or attaches); nothing is recorded but the ledger row,
  so a later ``sync_connection`` with the same run key picks the job up.
* ``cancel_job`` sends the cancel and polls until Airbyte reports a terminal status:
  a cancel request is not a cancel.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING

from luigi_airbyte.airbyte import Connection, Job, JobType
from luigi_airbyte.app.execute import StepContext, sync_run_key
from luigi_airbyte.app.identity import acting_identity
from luigi_airbyte.app.run_service import RunHandle, flush_events, open_run, reap_abandoned
from luigi_airbyte.errors import (
    AirbyteError,
    ConfigError,
    LuigiAirbyteError,
    Problem,
    StateConflictError,
)
from luigi_airbyte.exit_codes import for_error
from luigi_airbyte.sync import (
    Attachment,
    Clock,
    ProgressCallback,
    SyncResult,
    SystemClock,
    Terminated,
    handle_termination,
)

if TYPE_CHECKING:
    from luigi_airbyte.airbyte import AirbyteClient
    from luigi_airbyte.app.runtime import Runtime

logger = logging.getLogger(__name__)

ADHOC_PIPELINE = "adhoc"
"""The pipeline name ad-hoc syncs are recorded under in the metadata store."""

AttachCallback = Callable[[Attachment, str], None]


def _today() -> date:
    return datetime.now(timezone.utc).date()


def adhoc_run_key(
    connection_id: str, job_type: JobType = JobType.SYNC, day: date | None = None
) -> str:
    """The default run key: ``sync:<id>:<date>`` (as pipelines use), ``reset:``/``clear:``.

    A reset or clear gets a key of its own so it never re-attaches to the sync of the
    same date, and a sync never mistakes a reset for itself.
    """
    day = day or _today()
    if job_type is JobType.SYNC:
        return sync_run_key(connection_id, day.isoformat())
    return f"{job_type.value}:{connection_id}:{day.isoformat()}"


@dataclass(frozen=True)
class AdhocSync:
    """What `sync_connection` / `start_sync` did.

    ``result`` is ``None`` when the job was only started (``start_sync``); ``run_id`` is
    the metadata-store run that recorded the sync (``None`` when nothing was recorded).
    """

    connection: Connection
    run_key: str
    job_type: JobType
    attachment: Attachment
    job_url: str
    result: SyncResult | None = None
    run_id: str | None = None

    @property
    def job_id(self) -> int:
        return self.attachment.job_id


def _check_job_type(job_type: JobType, confirm_clear: bool, connection: str) -> None:
    if job_type not in (JobType.SYNC, JobType.RESET, JobType.CLEAR):
        raise ConfigError(
            [Problem("adhoc", "job_type", f"cannot run a {job_type.value} job", "use sync")]
        )
    if job_type is JobType.CLEAR and confirm_clear is not True:
        raise ConfigError(
            [
                Problem(
                    source="cli",
                    field="--confirm-clear",
                    message=(
                        f"clearing {connection!r} erases every row the connection wrote to "
                        "the destination and its sync state; refusing without confirmation"
                    ),
                    fix="add --confirm-clear (library: confirm_clear=True) if you mean it",
                )
            ]
        )


def step_name(job_type: JobType, connection: Connection) -> str:
    """The step an ad-hoc job is recorded as: the connection name, prefixed for reset/clear."""
    if job_type is JobType.SYNC:
        return connection.name or connection.connection_id
    return f"{job_type.value}: {connection.name or connection.connection_id}"


@dataclass(frozen=True)
class AdhocJob:
    """One ad-hoc job to run: the connection (name or id), the ledger key (default
    `adhoc_run_key`), the job type, and for a clear the confirmation that it may erase."""

    connection: str
    run_key: str | None = None
    job_type: JobType = JobType.SYNC
    confirm_clear: bool = False

    def target(self, rt: Runtime) -> tuple[Connection, str]:
        """The connection and the run key, once the job type is allowed."""
        _check_job_type(self.job_type, self.confirm_clear, self.connection)
        conn = rt.connection(self.connection)
        return conn, self.run_key or adhoc_run_key(conn.connection_id, self.job_type)


def start_sync(rt: Runtime, job: AdhocJob) -> AdhocSync:
    """Trigger the job (or attach to the one already running) and return without waiting.

    The ledger row is written, so a later `sync_connection` with the same run key
    attaches to this job instead of starting another.
    """
    conn, key = job.target(rt)
    runner = rt.executor().runner()
    with handle_termination():
        attachment = runner.trigger_or_attach(conn.connection_id, key, job_type=job.job_type)
    runner.release(key)  # nobody waits here: the ledger row leads the next run to the job
    url = rt.client().job_url(attachment.job, conn)
    return AdhocSync(conn, key, job.job_type, attachment, url)


def sync_connection(
    rt: Runtime,
    job: AdhocJob,
    *,
    on_attach: AttachCallback | None = None,
    on_progress: ProgressCallback | None = None,
    argv: Sequence[str] | None = None,
) -> AdhocSync:
    """Sync (reset, clear) one connection now, wait for the job, record it as a run.

    ``on_attach(attachment, job_url)`` is called as soon as the job is known, before
    waiting; ``on_progress`` while waiting.

    Raises:
        ConnectionLookupError: no connection (or several) has that name; nothing recorded.
        AirbyteError: Airbyte could not be reached or refused; the run is recorded failed.
        SyncError: the job failed, was cancelled or timed out; the run is recorded failed.
    """
    # an unknown name (or a clear without confirmation) fails before anything is recorded
    conn, key = job.target(rt)
    handle, step, ctx = _open_adhoc_run(rt, conn, job.job_type, argv)
    runner = rt.executor().runner(None, ctx)
    attachment: Attachment | None = None
    url = ""
    try:
        with handle_termination():
            attachment = runner.trigger_or_attach(conn.connection_id, key, job_type=job.job_type)
            rt.store().upsert_step(handle.run_id, step, job_id=attachment.job_id)
            url = rt.client().job_url(attachment.job, conn)
            if on_attach is not None:
                on_attach(attachment, url)
            result = runner.wait(attachment, on_progress=on_progress)
    except BaseException as exc:
        _record_failure(rt, handle, step, exc, attachment)
        raise
    finally:
        flush_events(rt)
    _record_success(rt, handle, step, job.job_type, result)
    url = result.job_url or url
    return AdhocSync(conn, key, job.job_type, attachment, url, result, handle.run_id)


def run_adhoc(
    rt: Runtime,
    job: AdhocJob,
    *,
    wait: bool = True,
    on_attach: AttachCallback | None = None,
    on_progress: ProgressCallback | None = None,
    argv: Sequence[str] | None = None,
) -> AdhocSync:
    """``luigi-airbyte sync``: `sync_connection` when waiting, else `start_sync`; closes
    ``rt`` either way."""
    try:
        if not wait:
            return start_sync(rt, job)
        return sync_connection(rt, job, on_attach=on_attach, on_progress=on_progress, argv=argv)
    finally:
        rt.close()


def _open_adhoc_run(
    rt: Runtime, conn: Connection, job_type: JobType, argv: Sequence[str] | None
) -> tuple[RunHandle, str, StepContext]:
    """The run (pipeline ``adhoc``) and its one ``running`` step that record an ad-hoc job."""
    store = rt.store()
    reap_abandoned(store)
    day = _today()
    handle = open_run(store, ADHOC_PIPELINE, day, argv=argv, identity=acting_identity(rt))
    step = step_name(job_type, conn)
    store.upsert_step(
        handle.run_id, step, kind="sync", status="running", started_at=datetime.now(timezone.utc)
    )
    return handle, step, StepContext(ADHOC_PIPELINE, step, day, run_id=handle.run_id)


def _record_success(
    rt: Runtime, handle: RunHandle, step: str, job_type: JobType, result: SyncResult
) -> None:
    store = rt.store()
    if result.streams:
        store.add_stream_stats(handle.run_id, step, result.job_id, result.streams)
    streams = ", ".join(f"{s.name}={s.records_committed}" for s in result.streams)
    message = "; ".join(
        filter(None, [f"job {result.job_id} ({result.attached_how})", streams, *result.warnings])
    )
    store.upsert_step(
        handle.run_id,
        step,
        status="succeeded",
        finished_at=datetime.now(timezone.utc),
        job_id=result.job_id,
        rows=result.rows_committed,
        message=message,
    )
    handle.finish("succeeded", 0, message=f"{job_type.value} job {result.job_id}")


def _record_failure(
    rt: Runtime, handle: RunHandle, step: str, exc: BaseException, attachment: Attachment | None
) -> None:
    code = for_error(exc, interrupts=(KeyboardInterrupt, Terminated))
    if isinstance(exc, (KeyboardInterrupt, Terminated)):
        text = f"interrupted; with on_interrupt={rt.settings.on_interrupt} the Airbyte job " + (
            "keeps running and a rerun attaches to it"
            if rt.settings.on_interrupt == "detach"
            else "was cancelled"
        )
    else:
        text = rt.redact(str(exc)) or type(exc).__name__
    store = rt.store()
    try:
        store.upsert_step(
            handle.run_id,
            step,
            status="failed",
            finished_at=datetime.now(timezone.utc),
            job_id=attachment.job_id if attachment is not None else None,
            message=text,
            exit_code=code,
        )
        handle.finish("failed", code, message=text)
    except LuigiAirbyteError as store_exc:  # the original error matters more
        logger.warning("could not record the failed run %s: %s", handle.run_id, store_exc)
    finally:
        handle.stop_heartbeat()


@dataclass(frozen=True)
class CancelOutcome:
    """What `cancel_job` saw: the job's last state and whether the cancel took.

    ``requested`` is False when the job had already finished (nothing to cancel).
    """

    job: Job
    requested: bool

    @property
    def already_finished(self) -> bool:
        return not self.requested


def cancel_job(
    client: AirbyteClient,
    job_id: int,
    *,
    timeout: float = 60.0,
    poll_interval: float = 0.5,
    clock: Clock | None = None,
) -> CancelOutcome:
    """Cancel a job and poll until Airbyte reports it terminal (at most ``timeout`` s).

    Raises:
        NotFoundError: no such job.
        AirbyteError: the cancel was not confirmed in time (the job is still running).
    """
    clock = clock or SystemClock()
    job = client.get_job(job_id)
    if job.status.is_terminal:
        return CancelOutcome(job, requested=False)
    try:
        job = client.cancel_job(job_id)
    except StateConflictError:
        # Airbyte says the job is not running: it may have finished a moment ago.
        job = client.get_job(job_id)
        if job.status.is_terminal:
            return CancelOutcome(job, requested=False)
        raise
    deadline = clock.monotonic() + timeout
    while not job.status.is_terminal:
        if clock.monotonic() >= deadline:
            raise AirbyteError(
                f"job {job_id}: cancel requested but not confirmed within {timeout:.0f}s "
                f"(status still {job.status.value}). Check the job in Airbyte's UI "
                f"({client.job_url(job)}) and cancel it there if it keeps running"
            )
        clock.sleep(poll_interval)
        job = client.get_job(job_id)
    return CancelOutcome(job, requested=True)


__all__ = [
    "ADHOC_PIPELINE",
    "AdhocJob",
    "AdhocSync",
    "CancelOutcome",
    "adhoc_run_key",
    "cancel_job",
    "run_adhoc",
    "start_sync",
    "step_name",
    "sync_connection",
]
