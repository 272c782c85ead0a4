"""``jobs list|show|cancel``: Airbyte jobs, straight from Airbyte."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from luigi_airbyte.cli.common import CONTEXT_SETTINGS, emit_json, json_option
from luigi_airbyte.cli.options import (
    AirbyteFlags,
    airbyte_options,
    duration_callback,
    limit_option,
)
from luigi_airbyte.cli.render import fields, iso, note, number, seconds, table, when

if TYPE_CHECKING:
    from luigi_airbyte.airbyte import Job, JobDetails

# JobStatus values but UNKNOWN (spelled out: importing the client would slow down --help)
_STATUSES = ["pending", "queued", "running", "incomplete", "succeeded", "failed", "cancelled"]


@click.group("jobs", context_settings=CONTEXT_SETTINGS)
def jobs_group() -> None:
    """List, inspect and cancel Airbyte jobs."""


def job_document(job: Job, connection_name: str | None = None) -> dict[str, Any]:
    """One job as JSON (the shape of ``jobs list --json`` items)."""
    return {
        "job_id": job.job_id,
        "status": job.status.value,
        "job_type": job.job_type.value,
        "connection_id": job.connection_id,
        "connection": connection_name,
        "started_at": iso(job.start_time),
        "updated_at": iso(job.last_updated_at),
        "duration_s": job.duration.total_seconds() if job.duration is not None else None,
        "rows_synced": job.rows_synced,
        "bytes_synced": job.bytes_synced,
    }


@jobs_group.command("list")
@click.argument("connection", required=False)
@click.option("--status", type=click.Choice(_STATUSES), help="Only jobs with this status.")
@limit_option(1000, "jobs")
@airbyte_options
@json_option
def list_command(
    connection: str | None,
    status: str | None,
    limit: int,
    airbyte: AirbyteFlags,
    as_json: bool,
) -> None:
    """List recent jobs, newest first: of one connection (name or id), or of all.

    \b
    Example:
      luigi-airbyte jobs list -f pipeline.yaml
      luigi-airbyte jobs list "Postgres CRM → Warehouse" -f pipeline.yaml --status failed
      luigi-airbyte jobs list --url http://localhost:8000/api/public/v1 --json -n 5
    """
    from luigi_airbyte.app.queries import recent_jobs

    jobs, names = airbyte.call(
        lambda rt: recent_jobs(rt, connection, status=status, limit=limit, warn=note),
        as_json=as_json,
        explain=True,
    )
    if as_json:
        emit_json({"jobs": [job_document(j, names.get(j.connection_id)) for j in jobs]})
        return
    if not jobs:
        note("no jobs found")
        return
    table(
        ("job", "connection", "type", "status", "started", "duration", "rows"),
        [
            (
                j.job_id,
                names.get(j.connection_id, j.connection_id),
                j.job_type.value,
                j.status.value,
                when(j.start_time),
                seconds(j.duration.total_seconds()) if j.duration is not None else "",
                number(j.rows_synced),
            )
            for j in jobs
        ],
        numeric=("job", "rows"),
    )


def details_document(details: JobDetails | None) -> dict[str, Any]:
    """Per-stream stats and attempts (empty when Airbyte has no config API)."""
    if details is None:
        return {"details_available": False, "streams": [], "attempts": [], "failure_reason": None}
    stats = details.stats
    return {
        "details_available": True,
        "records_emitted": stats.records_emitted,
        "records_committed": stats.records_committed,
        "bytes_committed": stats.bytes_committed,
        "records_rejected": stats.records_rejected,
        "failure_reason": details.failure_reason,
        "streams": [
            {
                "stream": s.name,
                "namespace": s.namespace,
                "records_emitted": s.records_emitted,
                "records_committed": s.records_committed,
                "bytes_committed": s.bytes_committed,
                "records_rejected": s.records_rejected,
            }
            for s in stats.streams
        ],
        "attempts": [
            {
                "number": a.number,
                "status": a.status,
                "records_committed": a.records_committed,
                "bytes_committed": a.bytes_committed,
                "created_at": iso(a.created_at),
                "ended_at": iso(a.ended_at),
                "failure": a.failure_message,
                "failure_type": a.failure_type,
            }
            for a in stats.attempts
        ],
    }


@jobs_group.command("show")
@click.argument("job_id", type=int)
@airbyte_options
@json_option
def show_command(job_id: int, airbyte: AirbyteFlags, as_json: bool) -> None:
    """Show one job: status, counts, attempts, per-stream stats and its page in Airbyte.

    Attempts and per-stream stats come from Airbyte's config API; they are left out
    where it is not available (Airbyte Cloud).

    \b
    Example:
      luigi-airbyte jobs show 4211 -f pipeline.yaml
      luigi-airbyte jobs show 4211 -f pipeline.yaml --json | jq '.streams'
    """
    from luigi_airbyte.app.queries import job_view

    view = airbyte.call(lambda rt: job_view(rt, job_id, warn=note), as_json=as_json, explain=True)
    job, name = view.job, view.connection_name
    doc = {**job_document(job, name), "url": view.url, **details_document(view.details)}
    if as_json:
        emit_json(doc)
        return
    fields(
        [
            ("job", f"{job.job_id} ({job.job_type.value})"),
            ("status", job.status.value),
            ("connection", f"{name} ({job.connection_id})" if name else job.connection_id),
            ("started", when(job.start_time)),
            ("updated", when(job.last_updated_at)),
            ("duration", seconds(doc["duration_s"])),
            ("rows", number(job.rows_synced)),
            ("bytes", number(job.bytes_synced)),
            ("failure", doc["failure_reason"]),
            ("url", view.url),
        ]
    )
    _stream_and_attempt_tables(doc)


def _stream_and_attempt_tables(doc: dict[str, Any]) -> None:
    if doc["streams"]:
        click.echo()
        table(
            ("stream", "emitted", "committed", "bytes", "rejected"),
            [
                (
                    s["stream"],
                    number(s["records_emitted"]),
                    number(s["records_committed"]),
                    number(s["bytes_committed"]),
                    number(s["records_rejected"]),
                )
                for s in doc["streams"]
            ],
            numeric=("emitted", "committed", "bytes", "rejected"),
        )
    if doc["attempts"]:
        click.echo()
        table(
            ("attempt", "status", "records", "ended", "failure"),
            [
                (
                    a["number"],
                    a["status"],
                    number(a["records_committed"]),
                    a["ended_at"] or "",
                    (a["failure"] or "")[:100],
                )
                for a in doc["attempts"]
            ],
            numeric=("attempt", "records"),
        )


@jobs_group.command("cancel")
@click.argument("job_id", type=int)
@click.option(
    "--timeout",
    callback=duration_callback,
    metavar="DURATION",
    default="1m",
    show_default=True,
    help="How long to wait for Airbyte to confirm the job stopped.",
)
@airbyte_options
@json_option
def cancel_command(job_id: int, timeout: timedelta, airbyte: AirbyteFlags, as_json: bool) -> None:
    """Cancel a job and wait until Airbyte confirms it stopped.

    A cancel request is not a cancel: the job is polled until it reaches a final
    status. Exit 0 when it stopped (or had already finished), 4 when Airbyte did not
    confirm within --timeout or refused.

    \b
    Example:
      luigi-airbyte jobs cancel 4211 -f pipeline.yaml
      luigi-airbyte jobs cancel 4211 -f pipeline.yaml --timeout 5m --json
    """
    from luigi_airbyte.app.adhoc import cancel_job

    outcome = airbyte.call(
        lambda rt: cancel_job(rt.client(), job_id, timeout=timeout.total_seconds()),
        as_json=as_json,
        explain=True,
    )
    job = outcome.job
    if as_json:
        emit_json(
            {
                "job_id": job.job_id,
                "status": job.status.value,
                "cancel_requested": outcome.requested,
                "already_finished": outcome.already_finished,
            }
        )
        return
    if outcome.already_finished:
        click.echo(f"job {job.job_id} had already finished ({job.status.value}); nothing to cancel")
    else:
        click.echo(f"job {job.job_id} {job.status.value}")
