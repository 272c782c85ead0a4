"""Read-only questions the CLI asks: Airbyte's recent jobs and one job in detail, the
metadata store's recent runs and one run, the trends page.

Each takes an open ``Runtime`` and returns data; the commands print it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from luigi_airbyte.errors import AirbyteError, StoreError
from luigi_airbyte.store import RunDetail, RunSummary, Store, mask_url

if TYPE_CHECKING:
    from luigi_airbyte.airbyte import AirbyteClient, Connection, Job, JobDetails
    from luigi_airbyte.app.runtime import Runtime

Warn = Callable[[str], None]


def _quiet(message: str) -> None:
    """The default ``warn``: say nothing."""


# --- Airbyte's jobs ----------------------------------------------------------------------


def workspace_connections(rt: Runtime) -> list[Connection]:
    """The connections of the configured workspace, else of every visible one."""
    workspace = rt.workspace_id()
    return list(rt.client().list_connections([workspace] if workspace else None))


def connection_names(
    client: AirbyteClient, workspace_id: str | None, warn: Warn = _quiet
) -> dict[str, str]:
    """Connection id → name, best effort (a listing failure leaves ids unnamed)."""
    try:
        return {
            c.connection_id: c.name
            for c in client.list_connections([workspace_id] if workspace_id else None)
        }
    except AirbyteError as exc:
        warn(f"warning: could not list connections to name them: {exc}")
        return {}


def recent_jobs(
    rt: Runtime, connection: str | None, *, status: str | None, limit: int, warn: Warn = _quiet
) -> tuple[list[Job], dict[str, str]]:
    """The newest jobs of one connection (name or id) or of the workspace, and the names
    of their connections."""
    client = rt.client()
    if connection is not None:
        conn = rt.connection(connection)
        jobs = list(client.list_jobs(conn.connection_id, status=status, max_items=limit))
        return jobs, {conn.connection_id: conn.name}
    workspace = rt.workspace_id()
    workspaces = [workspace] if workspace else None
    jobs = list(client.list_jobs(status=status, max_items=limit, workspace_ids=workspaces))
    return jobs, connection_names(client, workspace, warn) if jobs else {}


@dataclass(frozen=True)
class JobView:
    """One job as ``jobs show`` presents it."""

    job: Job
    details: JobDetails | None  # None where Airbyte has no config API (Cloud)
    url: str
    connection_name: str | None


def job_view(rt: Runtime, job_id: int, warn: Warn = _quiet) -> JobView:
    client = rt.client()
    job = client.get_job(job_id)
    details = client.get_job_details(job_id)
    url = client.job_url(job)
    name = connection_names(client, rt.workspace_id(), warn).get(job.connection_id)
    return JobView(job, details, url, name)


# --- the metadata store's runs -------------------------------------------------------------


def missing_sqlite(url: str) -> bool:
    """True for a SQLite file URL whose file does not exist (reading must not create it)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # opening the store says what is wrong with it
        return False
    if not parsed.drivername.startswith("sqlite") or not parsed.database:
        return False
    return parsed.database != ":memory:" and not Path(parsed.database).exists()


def store_to_read(rt: Runtime) -> Store | None:
    """The store (None if its file does not exist), with abandoned runs closed first: a run
    whose process is gone shows as ``abandoned``, never as ``running`` for good."""
    from luigi_airbyte.app.run_service import RunService

    if missing_sqlite(rt.store_url()):
        return None
    return RunService(rt).store()


def recent_runs(
    rt: Runtime, pipeline: str | None, limit: int
) -> tuple[Store | None, list[RunSummary], str]:
    """(the store, its newest runs, where it is with any password masked)."""
    store = store_to_read(rt)
    runs = store.history(pipeline, limit) if store is not None else []
    return store, runs, mask_url(rt.store_url())


def store_of_run(rt: Runtime, run_id: str) -> Store:
    """The store to look ``run_id`` up in, refusing to create an empty SQLite file just to
    find nothing in it."""
    store = store_to_read(rt)
    if store is None:
        # Opening would create an empty store; say where we looked instead.
        raise StoreError(
            f"no metadata store at {mask_url(rt.store_url())}, so no run {run_id}; "
            "pass the pipeline file (-f) or --store-url the run used"
        )
    return store


def run_detail(rt: Runtime, run_id: str) -> RunDetail:
    """One run by id (or its first characters)."""
    return store_of_run(rt, run_id).get_run(run_id)


def write_trends(
    rt: Runtime, store: Store | None, path: Path, pipeline: str | None, days: int
) -> Path:
    """The trends page (duration per step, rows per stream) of the last ``days``."""
    from luigi_airbyte.store.html_report import render_trends_html, write_html

    since = datetime.now(timezone.utc) - timedelta(days=days)
    details = store.runs_since(since, pipeline) if store is not None else []
    text = render_trends_html(details, pipeline=pipeline, days=days, redact=rt.redact)
    return write_html(text, path)


__all__ = [
    "JobView",
    "Warn",
    "connection_names",
    "job_view",
    "recent_jobs",
    "recent_runs",
    "run_detail",
    "store_of_run",
    "store_to_read",
    "workspace_connections",
    "write_trends",
]
