"""``history`` (recent runs) and ``show RUN_ID`` (one run), read from the metadata store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from luigi_airbyte.cli.common import emit_json, json_option, options
from luigi_airbyte.cli.options import OUTPUT_FILE, AirbyteFlags, limit_option, store_options
from luigi_airbyte.cli.render import fields, iso, note, number, seconds, table, when

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime
    from luigi_airbyte.store import RunDetail, RunSummary

_OK = ("succeeded", "fresh", "skipped")


def run_document(run: RunSummary) -> dict[str, Any]:
    """One run as a ``history --json`` item."""
    counts = dict(run.step_counts)
    return {
        "run_id": run.run_id,
        "pipeline": run.pipeline,
        "run_date": run.run_date.isoformat() if run.run_date else None,
        "status": run.status,
        "exit_code": run.exit_code,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration_s": run.duration_s,
        "host": run.host,
        "identity": run.identity,
        "steps_ok": sum(counts.get(s, 0) for s in _OK),
        "steps_failed": counts.get("failed", 0),
        "step_counts": counts,
    }


_HISTORY_OPTIONS = options(
    click.option("-p", "--pipeline", help="Only runs of this pipeline (ad-hoc syncs: adhoc)."),
    limit_option(10000, "runs"),
    click.option(
        "--html",
        "html_path",
        type=OUTPUT_FILE,
        help="Also write trends (duration per step, rows per stream) as one HTML page here.",
    ),
    click.option(
        "--days",
        type=click.IntRange(1, 3650),
        default=30,
        show_default=True,
        help="With --html: the runs of the last this many days.",
    ),
    store_options,
    json_option,
)


@click.command("history")
@_HISTORY_OPTIONS
def history_command(
    pipeline: str | None,
    limit: int,
    html_path: Path | None,
    days: int,
    airbyte: AirbyteFlags,
    as_json: bool,
) -> None:
    """List recent runs, newest first: status, exit code, duration, steps ok/failed.

    Runs are read from the metadata store configured by the pipeline file (-f),
    the environment, luigi.cfg or --store-url. Pass a run id (or its first 8
    characters) to `show` for the details.

    \b
    Example:
      luigi-airbyte history -f pipeline.yaml
      luigi-airbyte history -f pipeline.yaml -p nightly -n 5 --json
      luigi-airbyte history -f pipeline.yaml --html trends.html --days 14
    """
    from luigi_airbyte.app.queries import recent_runs, write_trends

    def read(rt: Runtime) -> tuple[list[RunSummary], str]:
        store, runs, location = recent_runs(rt, pipeline, limit)
        if html_path is not None:
            note(f"wrote {write_trends(rt, store, html_path, pipeline, days)}")
        return runs, location

    runs, location = airbyte.call(read, as_json=as_json)
    if as_json:
        emit_json({"store": location, "runs": [run_document(r) for r in runs]})
    elif not runs:
        note(f"no runs recorded in {location}")
    else:
        _history_table(runs)


def _history_table(runs: list[RunSummary]) -> None:
    table(
        ("run", "pipeline", "date", "status", "exit", "started", "duration", "steps", "by"),
        [
            (
                r.run_id[:8],
                r.pipeline,
                r.run_date.isoformat() if r.run_date else "",
                r.status,
                "" if r.exit_code is None else r.exit_code,
                when(r.started_at),
                seconds(r.duration_s),
                _steps(run_document(r)),
                _by(r),
            )
            for r in runs
        ],
        numeric=("exit",),
    )


def _by(run: RunSummary) -> str:
    """Who ran it: host, and the identity it acted as towards Airbyte."""
    return " as ".join(v for v in (run.host, run.identity) if v)


def _steps(doc: dict[str, Any]) -> str:
    text = f"{doc['steps_ok']} ok"
    if doc["steps_failed"]:
        text += f", {doc['steps_failed']} failed"
    others = sum(doc["step_counts"].values()) - doc["steps_ok"] - doc["steps_failed"]
    if others:
        text += f", {others} other"
    return text


@click.command("show")
@click.argument("run_id")
@click.option(
    "--junit",
    "junit_path",
    type=OUTPUT_FILE,
    help="Also write the run as a JUnit XML report to this file.",
)
@store_options
@json_option
def show_command(
    run_id: str, junit_path: Path | None, airbyte: AirbyteFlags, as_json: bool
) -> None:
    """Show one run: its steps, per-stream counts and check results.

    RUN_ID may be the first characters (at least 4) of the id, as `history`
    prints it. --json prints the run report (docs/reports.md), the same document
    `run --report-json` writes.

    \b
    Example:
      luigi-airbyte show 3f2a9c1e -f pipeline.yaml
      luigi-airbyte show 3f2a9c1e -f pipeline.yaml --junit report.xml --json > report.json
    """
    from luigi_airbyte.app.queries import run_detail
    from luigi_airbyte.store import json_report, junit_xml

    detail = airbyte.call(lambda rt: run_detail(rt, run_id), as_json=as_json)
    if junit_path is not None:
        junit_path.parent.mkdir(parents=True, exist_ok=True)
        junit_path.write_text(junit_xml(detail), encoding="utf-8")
        note(f"wrote {junit_path}")
    if as_json:
        emit_json(json_report(detail))
        return
    _render(detail)


def _render(detail: RunDetail) -> None:
    run = detail.run
    fields(
        [
            ("run", run.run_id),
            ("pipeline", run.pipeline),
            ("date", run.run_date.isoformat() if run.run_date else ""),
            ("status", run.status),
            ("exit code", "" if run.exit_code is None else run.exit_code),
            ("started", when(run.started_at)),
            ("finished", when(run.finished_at)),
            ("duration", seconds(run.duration_s)),
            ("host", run.host),
            ("acted as", run.identity),
            ("command", run.argv),
            ("message", run.message),
        ]
    )
    _steps_table(detail)
    _streams_table(detail)
    _checks_table(detail)


def _steps_table(detail: RunDetail) -> None:
    from luigi_airbyte.app.run_service import one_line

    if detail.steps:
        click.echo()
        table(
            ("step", "kind", "status", "job", "rows", "duration", "message"),
            [
                (
                    s.step_name,
                    s.kind,
                    s.status,
                    "" if s.job_id is None else s.job_id,
                    number(s.rows),
                    seconds(s.duration_s),
                    one_line(s.message, 400),
                )
                for s in detail.steps
            ],
            numeric=("job", "rows"),
        )


def _streams_table(detail: RunDetail) -> None:
    if detail.stream_stats:
        click.echo()
        table(
            ("step", "stream", "job", "records", "bytes", "rejected"),
            [
                (
                    s.step_name,
                    f"{s.namespace}.{s.stream}" if s.namespace else s.stream,
                    "" if s.job_id is None else s.job_id,
                    number(s.records_committed),
                    number(s.bytes_committed),
                    number(s.records_rejected),
                )
                for s in detail.stream_stats
            ],
            numeric=("job", "records", "bytes", "rejected"),
        )


def _checks_table(detail: RunDetail) -> None:
    from luigi_airbyte.app.run_service import one_line

    if detail.checks:
        click.echo()
        table(
            ("step", "check", "result", "severity", "message"),
            [
                (
                    c.step_name,
                    c.check,
                    "passed" if c.passed else "FAILED",
                    c.severity,
                    one_line(c.message, 400),
                )
                for c in detail.checks
            ],
        )
