"""``AirbyteSyncTask``: one Airbyte connection synced once per run date (or interval).

Retries (docs/luigi.md, "Retries"): a sync gets Luigi attempts for two different reasons.

- The step's ``retries: N`` — N more attempts after a *failed Airbyte job*, each posting
  one new job (the failed one is finished; there is nothing to attach to).
- Up to ``ATTACH_RETRIES`` attempts after an attempt was *lost*: its task process was
  killed, or its whole worker died and luigid failed the task after
  ``worker_disconnect_delay``. The Airbyte job is still running; the next attempt finds it
  in the ledger and attaches, so the run ends with the job's true outcome.

The policy is computed each time Luigi asks for it (``retry_count``): it stays open while
the step runs or was lost, and closes as soon as an attempt *failed* (a failed Airbyte job,
a failed check of its outcome, a configuration error...). ``run()`` backs this up: it never
posts a new job once this run's failed jobs have used the step's ``retries:``. After
``run --reload`` the step's jobs include its refresh's (``StepExecutor.step_run_keys``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from typing import Any

import luigi

from luigi_airbyte.app.execute import StepContext, SyncRequest
from luigi_airbyte.app.inherited_job import jobs_the_step_was_given
from luigi_airbyte.app.step_context import sync_run_key
from luigi_airbyte.errors import ConnectionLookupError, SyncFailedError
from luigi_airbyte.pipeline.graph import Node
from luigi_airbyte.store import Store
from luigi_airbyte.store.ledger import LedgerEntry, refresh_run_key_prefix
from luigi_airbyte.tasks.base import StepTask, _Reporter
from luigi_airbyte.tasks.context import runtime_for

logger = logging.getLogger(__name__)

ATTACH_RETRIES = 2
"""Attempts a sync may lose (killed task process, dead worker) and still be recovered."""

_PROCESS_STARTED = dt.datetime.now(dt.timezone.utc)
_NOT_A_FAILURE = {"succeeded", "missing"}  # "missing": the job vanished; another is looked for


_RUN_STARTED: dict[str, dt.datetime] = {}


def _run_started(store: Store, run_id: str) -> dt.datetime:
    """When the run started: read once per process (it never changes). Luigi asks for a
    task's retry policy when it schedules the task, when the task reports its tracking
    URL and when it ends; reading the whole run record each time cost O(steps) each."""
    found = _RUN_STARTED.get(run_id)
    if found is None:
        found = _RUN_STARTED[run_id] = store.get_run(run_id).run.started_at
    return found


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


@dataclass(frozen=True)
class _Attempts:
    """What the store says about this run's attempts at one sync step."""

    run_key: str
    open_job: LedgerEntry | None  # a job of the step (sync or refresh) not known finished
    failed_jobs: tuple[LedgerEntry, ...]  # jobs of the step that failed in this run
    step_status: str | None  # this run's step row; "failed" = the last attempt failed


class AirbyteSyncTask(StepTask):
    """Sync an Airbyte connection, unless its data is already fresh.

    Usable on its own::

        luigi --module luigi_airbyte.tasks AirbyteSyncTask \\
            --connection "Postgres CRM → Warehouse" --freshness 6h --local-scheduler

    Settings (URL, auth *references*) come from ``[airbyte]`` in luigi.cfg and
    ``LUIGI_AIRBYTE_*`` variables; inside a pipeline they come from the pipeline file.
    """

    kind = "sync"
    warm_process = True  # runs in a warm slot, not a fork per task (``warm_slots``)

    connection = luigi.Parameter(description="Connection id, or its name in the workspace.")
    freshness = luigi.Parameter(
        default="", description="Skip when the last succeeded sync ended within this (e.g. 6h)."
    )
    connection_id = luigi.Parameter(
        default="",
        significant=False,
        description="The connection's id when the run resolved it already (not part of the id).",
    )

    @classmethod
    def node_parameters(cls, node: Node, *, pipeline_file: str = "") -> dict[str, Any]:
        # The id comes from the run's one connection listing (resolved before Luigi forks
        # workers), so a task process never lists connections to resolve a name. It is
        # insignificant: task ids stay those of the names, identical in every process.
        connection_id = (
            runtime_for(pipeline_file).connection_id_or_blank(node.connection_id or node.connection)
            if pipeline_file
            else node.connection_id
        )
        return {
            "connection": node.connection,
            "connection_id": connection_id,
            "freshness": node.freshness,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lost_attempts = 0  # task processes of this instance that died (this worker)

    @property
    def resources(self) -> dict[str, int]:  # type: ignore[override]
        """One unit of the Airbyte instance's resource, so luigid caps concurrent syncs."""
        return {runtime_for(str(self.pipeline_file)).airbyte_resource(): 1}

    def context(self) -> StepContext:
        """Outside a pipeline the step is named after the connection it syncs."""
        ctx = super().context()
        return ctx if ctx.step else replace(ctx, step=str(self.connection))

    def request(self) -> SyncRequest:
        return SyncRequest(
            connection=str(self.connection_id or self.connection), freshness=str(self.freshness)
        )

    def complete(self) -> bool:
        return self.executor().sync_is_complete(self.context(), self.request())

    # --- retries -------------------------------------------------------------------------

    @property
    def job_attempts(self) -> int:
        """Airbyte jobs this step may start in one run: 1 + the step's ``retries:``."""
        return super().retry_count

    @property
    def retry_count(self) -> int:
        """Luigi's failure limit for this task, as of now (see the module docstring).

        - this run's failed jobs used ``retries:`` → 1: stop at the failure just reported;
        - the last attempt failed (any error raised by ``run()``) → ``job_attempts`` plus
          the attempts this worker saw lost: only ``retries:`` allows another;
        - otherwise (not run yet, running, or lost) → ``job_attempts + ATTACH_RETRIES``:
          if the attempt is lost, the next one attaches to its job.
        """
        base = self.job_attempts
        try:
            attempts = self._attempts(open_job=False)
        except Exception as exc:  # noqa: BLE001 - Luigi calls this while reporting; never raise
            logger.debug("retry policy of %s without the store: %s", self, exc)
            return base + min(self.lost_attempts, ATTACH_RETRIES)
        if len(attempts.failed_jobs) >= base:
            return 1
        if attempts.step_status == "failed" or (
            not self.context().run_id and not self.lost_attempts
        ):
            return base + min(self.lost_attempts, ATTACH_RETRIES)
        return base + ATTACH_RETRIES

    def _attempts(self, *, open_job: bool = True) -> _Attempts:
        """What the store says; while Luigi schedules, from one read of the run
        (``tasks/scheduling.py``)."""
        ctx = self.context()
        rt = runtime_for(str(self.pipeline_file))
        store = rt.store()
        conn = rt.connection(str(self.connection_id or self.connection))
        key = sync_run_key(conn.connection_id, ctx.partition)
        since = _run_started(store, ctx.run_id) if ctx.run_id else _PROCESS_STARTED
        snapshot = self.executor().run_attempts(ctx.run_id, since)
        if snapshot is None:
            recent = store.ledger.recent_for_connection(conn.connection_id, limit=50)
            status = store.step_status(ctx.run_id, ctx.step) if ctx.run_id else None
        else:  # only jobs created in the run: a pass comes before the step's attempts
            recent, status = list(snapshot.entries), snapshot.step_status.get(ctx.step)
        keys = frozenset({key})
        refreshes = refresh_run_key_prefix(conn.connection_id)
        if any(e.run_key.startswith(refreshes) for e in recent):
            keys = self.executor().step_run_keys(key)  # the refresh of its rejected load
        failed = [
            e for e in recent if e.run_key in keys and e.finished and e.status not in _NOT_A_FAILURE
        ]
        older = [e for e in failed if e.created_at is None or _utc(e.created_at) < _utc(since)]
        # an earlier run's job counts only if this run took it over
        given = jobs_the_step_was_given(store, ctx) if older and ctx.run_id else set()
        failed = [e for e in failed if e not in older or e.job_id in given]
        found = (store.ledger.find_open(k) for k in sorted(keys)) if open_job else iter(())
        return _Attempts(
            run_key=key,
            open_job=next((e for e in found if e is not None), None),
            failed_jobs=tuple(failed),
            step_status=status,
        )

    def _refuse_another_job(self) -> None:
        """Fail (without posting) when this run's failed jobs used up ``retries:``.

        Reached when Luigi retries a step whose last job failed for good, e.g. after its
        process was lost between recording the failure and reporting it.
        """
        try:
            attempts = self._attempts()
        except ConnectionLookupError:
            return  # no such connection, so no job: run_sync fails the step with the cause
        if attempts.open_job is not None or len(attempts.failed_jobs) < self.job_attempts:
            return
        last = max(attempts.failed_jobs, key=lambda e: e.job_id)
        retries = self.job_attempts - 1
        ctx = self.context()
        text = (
            f"Airbyte job {last.job_id} ended {last.status}; not starting another: the step "
            f"allows {retries} retr{'y' if retries == 1 else 'ies'} (`retries:`) and this run "
            f"used {len(attempts.failed_jobs)} job(s)"
        )
        if ctx.run_id:
            store = runtime_for(str(self.pipeline_file)).store()
            step = store.get_run(ctx.run_id).step(ctx.step)
            if step is not None and step.status == "failed" and step.job_id == last.job_id:
                text = step.message or text  # keep the job's own story
            else:
                store.upsert_step(
                    ctx.run_id,
                    ctx.step,
                    kind="sync",
                    status="failed",
                    finished_at=dt.datetime.now(dt.timezone.utc),
                    job_id=last.job_id,
                    message=text,
                    exit_code=SyncFailedError.exit_code,
                )
        raise SyncFailedError(text, connection_id=last.connection_id, job_id=last.job_id)

    # --- run -----------------------------------------------------------------------------

    def run(self) -> None:
        self._refuse_another_job()
        with _Reporter(self) as reporter:
            self.executor().run_sync(self.context(), self.request(), reporter=reporter)

    def _node_or_none(self) -> Any:
        return None if self.pipeline == "adhoc" else super()._node_or_none()


def _count_lost_attempt(task: AirbyteSyncTask, message: str) -> None:
    """Luigi's worker saw the task process die (fires in the worker, before it reports the
    failure and asks for the retry policy)."""
    task.lost_attempts += 1
    logger.warning(
        "sync %s: %s; the next attempt attaches to its Airbyte job", task.context().step, message
    )


AirbyteSyncTask.event_handler(luigi.Event.PROCESS_FAILURE)(_count_lost_attempt)
