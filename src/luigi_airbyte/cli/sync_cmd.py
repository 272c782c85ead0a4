"""``sync CONNECTION``: trigger-or-attach one connection's job, wait, report."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from luigi_airbyte.cli.common import emit_json, fail, interrupted, json_option, options
from luigi_airbyte.cli.options import AirbyteFlags, airbyte_options, duration_callback
from luigi_airbyte.cli.render import fields, note, number, seconds, table
from luigi_airbyte.errors import LuigiAirbyteError

if TYPE_CHECKING:
    from luigi_airbyte.airbyte import JobType
    from luigi_airbyte.app.adhoc import AdhocSync
    from luigi_airbyte.sync import Attachment, Progress


class _ProgressLines:
    """Live progress on stderr: one line when the job is known, then one per change."""

    def __init__(self, connection: str) -> None:
        self.connection = connection
        self.last = ""

    def attached(self, attachment: Attachment, url: str) -> None:
        verb = {
            "created": "started",
            "running": "attached to the running",
            "conflict": "attached to the running",
            "ledger": "re-attached to",
            "reconciled": "found the started",
        }.get(attachment.how, attachment.how)
        note(
            f"{self.connection}: {verb} {attachment.job_type.value} job {attachment.job_id} "
            f"(run key {attachment.run_key})"
        )
        if url:
            note(f"  {url}")

    def progress(self, p: Progress) -> None:
        parts = [f"job {p.job_id} {p.status.value}", seconds(p.elapsed_s)]
        if p.expected_s is not None:
            parts[-1] += f" of ~{seconds(p.expected_s)}"
        if p.records is not None:
            parts.append(f"{p.records:,} records")
        text = " · ".join(parts)
        if text != self.last:
            self.last = text
            note(f"  {text}")


_SYNC_OPTIONS = options(
    click.argument("connection"),
    click.option(
        "--wait/--no-wait",
        default=True,
        show_default=True,
        help="Wait for the job to finish, or print its id and return.",
    ),
    click.option(
        "--timeout",
        callback=duration_callback,
        metavar="DURATION",
        help="Give up (and cancel the job) after this long, e.g. 30m, or 60 (seconds). "
        "Default: airbyte.timeout.",
    ),
    click.option(
        "--run-key",
        metavar="KEY",
        help="Ledger key for this job (default sync:<connection id>:<UTC date>).",
    ),
    click.option("--reset", is_flag=True, help="Run a reset job instead of a sync."),
    click.option(
        "--clear",
        is_flag=True,
        help="Run a clear job: erases the connection's destination data. Needs --confirm-clear.",
    ),
    click.option("--confirm-clear", is_flag=True, help="Confirm that --clear may erase data."),
    airbyte_options,
    json_option,
)


@click.command("sync")
@_SYNC_OPTIONS
def sync_command(
    connection: str,
    wait: bool,
    timeout: timedelta | None,
    run_key: str | None,
    reset: bool,
    clear: bool,
    confirm_clear: bool,
    airbyte: AirbyteFlags,
    as_json: bool,
) -> None:
    """Sync one connection now (by name or id), wait, and report rows per stream.

    The job is found or started the way pipeline runs do it: a job this run key
    already started is re-attached, a job running on the connection is attached,
    otherwise one is started; its id is written to the metadata store's ledger
    before waiting. So a second `sync` while the first runs (or after Ctrl-C)
    attaches instead of syncing the data twice. The default run key is the one
    the pipeline uses for today; pass --run-key to keep them apart.

    Progress goes to stderr; the result (job id, status, rows, streams) to stdout.
    The sync is recorded as a run of the pipeline "adhoc" (see `history`).
    Exit 0 when the job succeeded, 5 when it failed, was cancelled or timed out,
    4 when Airbyte cannot be reached or the connection is not found.

    \b
    Example:
      luigi-airbyte sync "Postgres CRM → Warehouse" -f pipeline.yaml
      luigi-airbyte sync 9f1c2e6a-... --url http://localhost:8000/api/public/v1 \\
          --client-id "$AIRBYTE_CLIENT_ID" --client-secret-ref env:AIRBYTE_CLIENT_SECRET
      JOB=$(luigi-airbyte sync "Postgres CRM → Warehouse" -f pipeline.yaml --no-wait)
      luigi-airbyte sync "Postgres CRM → Warehouse" -f pipeline.yaml --clear --confirm-clear --json
    """
    from luigi_airbyte.app.adhoc import AdhocJob, run_adhoc
    from luigi_airbyte.app.run_service import default_argv
    from luigi_airbyte.sync import Terminated

    job_type = _job_type(reset, clear)  # a usage error before anything is loaded
    overrides = {"timeout": timeout.total_seconds()} if timeout is not None else {}
    lines = _ProgressLines(connection)
    try:
        outcome = run_adhoc(
            airbyte.runtime(sync_overrides=overrides),
            AdhocJob(connection, run_key, job_type, confirm_clear),
            wait=wait,
            on_attach=lines.attached,
            on_progress=lines.progress,
            argv=default_argv(),
        )
    except LuigiAirbyteError as exc:
        fail(exc, as_json=as_json)
    except (KeyboardInterrupt, Terminated):
        interrupted(_INTERRUPTED)
    _render(outcome, as_json=as_json)


_INTERRUPTED = (
    "interrupted: the Airbyte job keeps running unless on_interrupt is cancel; "
    "run the same command again to attach to it"
)


def _job_type(reset: bool, clear: bool) -> JobType:
    from luigi_airbyte.airbyte import JobType

    if reset and clear:
        raise click.UsageError("use one of --reset or --clear, not both")
    return JobType.RESET if reset else JobType.CLEAR if clear else JobType.SYNC


def outcome_document(outcome: AdhocSync) -> dict[str, Any]:
    """The ``--json`` document of ``sync``."""
    conn = outcome.connection
    doc: dict[str, Any] = {
        "connection": {"id": conn.connection_id, "name": conn.name},
        "job_id": outcome.job_id,
        "job_type": outcome.job_type.value,
        "attached": outcome.attachment.how,
        "run_key": outcome.run_key,
        "job_url": outcome.job_url,
        "waited": outcome.result is not None,
        "run_id": outcome.run_id,
    }
    result = outcome.result
    if result is None:
        doc["status"] = outcome.attachment.job.status.value
        return doc
    doc.update(
        {
            "status": result.status.value,
            "rows_committed": result.rows_committed,
            "bytes_committed": result.bytes_committed,
            "records_emitted": result.records_emitted,
            "attempts": result.attempts,
            "duration_s": result.duration_s,
            "queued_s": result.queued_s,
            "replaced_job_ids": list(result.replaced_job_ids),
            "streams": [
                {
                    "stream": s.name,
                    "namespace": s.namespace,
                    "records_emitted": s.records_emitted,
                    "records_committed": s.records_committed,
                    "bytes_emitted": s.bytes_emitted,
                    "bytes_committed": s.bytes_committed,
                    "records_rejected": s.records_rejected,
                }
                for s in result.streams
            ],
            "warnings": list(result.warnings),
        }
    )
    return doc


def _render(outcome: AdhocSync, *, as_json: bool) -> None:
    if as_json:
        emit_json(outcome_document(outcome))
        return
    result = outcome.result
    if result is None:
        note(
            f"job {outcome.job_id} is {outcome.attachment.job.status.value} "
            f"({outcome.attachment.how}); follow it with: luigi-airbyte jobs show "
            f"{outcome.job_id}"
        )
        click.echo(outcome.job_id)
        return
    for warning in result.warnings:
        note(f"warning: {warning}")
    fields(
        [
            ("connection", f"{outcome.connection.name} ({outcome.connection.connection_id})"),
            ("job", f"{result.job_id} ({outcome.job_type.value}, {result.attached_how})"),
            ("status", result.status.value),
            ("rows", number(result.rows_committed)),
            ("bytes", number(result.bytes_committed)),
            ("attempts", result.attempts or ""),
            ("duration", seconds(result.duration_s)),
            ("url", outcome.job_url),
            ("run", outcome.run_id),
        ]
    )
    if result.streams:
        click.echo()
        table(
            ("stream", "records", "bytes"),
            [
                (s.name, number(s.records_committed), number(s.bytes_committed))
                for s in result.streams
            ],
            numeric=("records", "bytes"),
        )
