"""A job an earlier run left in the ledger, found already failed: not this run's attempt.

A run that dies while it waits (``kill -9``, a lost host) leaves its job running and its
ledger row open, so that the next run attaches instead of posting a second sync. If the
job then fails while no run watches it, the next run finds the row open and the job
ended. That failure belongs to the earlier run: this run gets its own job, the recovery
re-run, and does not report the old failure as its own attempt.

A job this run started, or took over while it was still running, is this run's,
whichever process of the run finds it ended: its failure is one of the step's attempts
(``retries:`` allows more), as ``tasks/sync_task.py`` counts them. The jobs a step was
given are its ``sync.job`` events (``jobs_the_step_was_given``): the step row names only
the latest, and a taken-over job that failed would drop out of the count when the next
one is posted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from luigi_airbyte.airbyte.models import JobStatus
from luigi_airbyte.sync import Attachment, SyncRunner

if TYPE_CHECKING:
    from luigi_airbyte.app.step_context import StepContext
    from luigi_airbyte.store import Store

logger = logging.getLogger(__name__)


def this_runs_job(
    store: Store, ctx: StepContext, runner: SyncRunner, connection_id: str, run_key: str
) -> Attachment:
    """``trigger_or_attach``, once more if the job found is an earlier run's that had
    already failed: the recovery re-run's own job."""
    attachment = runner.trigger_or_attach(connection_id, run_key)
    if ended_before_this_run(store, ctx, attachment):
        runner.release(run_key)  # nothing to wait for: claim again, and post
        attachment = runner.trigger_or_attach(connection_id, run_key)
    return attachment


def jobs_the_step_was_given(store: Store, ctx: StepContext) -> set[int]:
    """The Airbyte jobs this run's step was given, created or taken over (its
    ``sync.job`` events; a job found already failed is never given, see above)."""
    return {
        int(e.fields["job_id"])
        for e in store.events(ctx.run_id, name="sync.job", step=ctx.step)
        if isinstance(e.fields.get("job_id"), int)
    }


def ended_before_this_run(store: Store, ctx: StepContext, attachment: Attachment) -> bool:
    """True when ``attachment`` is an earlier run's job that had already failed or been
    cancelled when this run found it in the ledger (see the module docstring)."""
    job = attachment.job
    if (
        attachment.how != "ledger"
        or not attachment.finished
        or job.status is JobStatus.SUCCEEDED
        or not ctx.run_id
    ):
        return False
    if job.job_id in jobs_the_step_was_given(store, ctx):
        return False  # this run took it over while it ran: its failure is the run's
    recent = store.ledger.recent_for_connection(attachment.connection_id, limit=50)
    entry = next((e for e in recent if e.job_id == job.job_id), None)
    if entry is None or entry.created_at is None:
        return False
    started = store.run_summary(ctx.run_id).started_at
    if entry.created_at >= started:  # the store's times are aware, in UTC
        return False
    logger.warning(
        "connection %s job %s: started by an earlier run, it ended %s while no run watched "
        "it; starting this run's job",
        attachment.connection_id,
        job.job_id,
        job.status.value,
    )
    return True
