"""The run's one look at each workspace's recent sync jobs, handed to its sync tasks.

Before its ``POST /jobs`` a sync claim looks at the connection's recent jobs: to attach to
a job already running there, to learn the job ids that existed before the POST (what an
unanswered create is reconciled against), and for the history the wait and the outcome
rules learn from. Listing per connection costs one request per sync. Instead, the process
that schedules the run (and forks Luigi's workers) lists each workspace's recent sync jobs
once, when it first finds a sync that will run, and the forked tasks inherit it in memory
(``RunShared.seen_jobs``).

Only a *brand-new* claim uses it (``luigi_airbyte.sync.claims``): one whose run key has no
create intent left, so no process of ours can have posted a job for it that the ledger
does not name. A connection where this listing saw a job running, a workspace the listing
did not cover, another process tree (another luigid host), a refresh, or a failed listing
fall back to the per-connection listing. A job started outside luigi-airbyte after this
listing is found as before: Airbyte answers the POST with 409 (or with the queued job) and
the claim attaches to it.
"""

from __future__ import annotations

import logging
import multiprocessing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from luigi_airbyte.airbyte.models import Connection, Job, JobType
from luigi_airbyte.sync.journal import LIST_LIMIT

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime

logger = logging.getLogger(__name__)

SEEN_JOBS_CAP = 5000
"""Jobs read from one workspace at most (50 pages of 100); connections the capped listing
does not cover list their own jobs, as before."""


@dataclass(frozen=True)
class WorkspaceJobs:
    """One listing of a workspace's sync jobs, newest first, grouped by connection."""

    by_connection: dict[str, tuple[Job, ...]]
    complete: bool  # not capped: a connection it does not hold has no sync jobs

    def recent(self, connection_id: str, limit: int) -> list[Job] | None:
        """The connection's newest ``limit`` sync jobs as listed, or None when this
        listing cannot tell (it was capped before it held ``limit`` of them)."""
        jobs = self.by_connection.get(connection_id, ())
        if len(jobs) >= limit or self.complete:
            return list(jobs[:limit])
        return None


def list_workspace_jobs(rt: Runtime, workspace: str, cap: int) -> WorkspaceJobs:
    """``GET /jobs?workspaceIds=…&jobType=sync&orderBy=createdAt|DESC``, up to ``cap`` jobs."""
    jobs = list(
        rt.client().list_jobs(
            workspace_ids=[workspace] if workspace else None,
            job_type=JobType.SYNC,
            order_by="createdAt|DESC",
            page_size=100,
            max_items=cap,
        )
    )
    by_connection: dict[str, list[Job]] = {}
    for job in sorted(jobs, key=lambda j: j.job_id, reverse=True):
        by_connection.setdefault(job.connection_id, []).append(job)
    return WorkspaceJobs(
        {cid: tuple(found) for cid, found in by_connection.items()},
        complete=len(jobs) < cap,
    )


def look_before_syncs(rt: Runtime, conn: Connection, syncs: int) -> None:
    """List ``conn``'s workspace's recent sync jobs once for the run, in the process that
    will fork the sync tasks (a forked task never lists the workspace: it would pay a
    listing per sync, which is what this saves). ``syncs`` sizes the listing: enough jobs
    for each sync of the run. A failed listing is remembered as such: the tasks then list
    their own connection, as before."""
    if multiprocessing.parent_process() is not None:  # a task process Luigi forked
        return
    key = conn.workspace_id
    if key in rt.shared.seen_jobs:
        return
    cap = min(SEEN_JOBS_CAP, max(100, syncs * LIST_LIMIT))
    seen: WorkspaceJobs | None
    try:
        seen = list_workspace_jobs(rt, key or (rt.workspace_id() or ""), cap)
    except Exception as exc:  # noqa: BLE001 - scheduling goes on: each sync lists its own
        logger.info(
            "workspace %s: could not list its recent jobs once for the run (%s); each sync "
            "lists its own connection's jobs",
            key or "(any)",
            exc,
        )
        seen = None
    rt.shared.seen_jobs[key] = seen


def seen_recent(rt: Runtime, connection_id: str, job_type: JobType, limit: int) -> list[Job] | None:
    """The connection's newest ``limit`` jobs of ``job_type`` from the run's listing of its
    workspace, or None when the run has no such listing that covers it (only sync jobs are
    listed)."""
    if job_type is not JobType.SYNC:
        return None
    # Only what the run resolved already: this answers without a request.
    conn = next(
        (c for c in list(rt.shared.connections.values()) if c.connection_id == connection_id),
        None,
    )
    if conn is None:
        return None
    seen = rt.shared.seen_jobs.get(conn.workspace_id)
    if not isinstance(seen, WorkspaceJobs):
        return None
    return seen.recent(connection_id, limit)


__all__ = [
    "SEEN_JOBS_CAP",
    "WorkspaceJobs",
    "list_workspace_jobs",
    "look_before_syncs",
    "seen_recent",
]
