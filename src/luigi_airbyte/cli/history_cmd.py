"""``history`` (recent runs) and ``show RUN_ID`` (one run), read from the metadata store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from luigi_airbyte.cli.common import emit_json, fail, json_option
from luigi_airbyte.cli.options import AirbyteFlags, store_options
from luigi_airbyte.cli.render import fields, iso, note, number, seconds, table, when
from luigi_airbyte.errors import LuigiAirbyteError, StoreError

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime
    from luigi_airbyte.store import RunDetail, RunSummary, Store

_OK = ("succeeded", "fresh", "skipped")


def _missing_sqlite(url: str) -> bool:
    """True for a SQLite file URL whose file does not exist (reading must not create it)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database:
        return False
    return parsed.database != ":memory:" and not Path(parsed.database).exists()


def _store(rt: Runtime) -> Store | None:
    """The store (None if its file does not exist), with abandoned runs closed first: a run
    whose process is gone shows as ``abandoned``, never as ``running`` for good."""
    from luigi_airbyte.app.run_service import RunService

    if _missing_sqlite(rt.store_url()):
        return None
    return RunService(rt).store()


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


@click.command("history")
@click.option("-p", "--pipeline", help="Only runs of this pipeline (ad-hoc syncs: adhoc).")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(1, 10000),
    default=20,
    show_default=True,
    help="At most this many runs, newest first.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write trends (duration per step, rows per stream) as one HTML page here.",
)
@click.option(
    "--days",
    type=click.IntRange(1, 3650),
    default=30,
    show_default=True,
    help="With --html: the runs of the last this many days.",
)
@store_options
@json_option
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
    from luigi_airbyte.store import mask_url

    try:
        rt = airbyte.runtime()
        try:
            store = _store(rt)
            runs = store.history(pipeline, limit) if store is not None else []
            location = mask_url(rt.store_url())
            if html_path is not None:
                _write_trends(rt, store, html_path, pipeline, days)
        finally:
            rt.close()
    except LuigiAirbyteError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        emit_json({"store": location, "runs": [run_document(r) for r in runs]})
        return
    if not runs:
        note(f"no runs recorded in {location}")
        return
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


def _write_trends(
    rt: Runtime, store: Store | None, path: Path, pipeline: str | None, days: int
) -> None:
    from datetime import datetime, timedelta, timezone

    from luigi_airbyte.store.html_report import render_trends_html, write_html

    since = datetime.now(timezone.utc) - timedelta(days=days)
    details = store.runs_since(since, pipeline) if store is not None else []
    text = render_trends_html(details, pipeline=pipeline, days=days, redact=rt.redact)
    note(f"wrote {write_html(text, path)}")


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
    type=click.Path(dir_okay=False, path_type=Path),
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
    from luigi_airbyte.store import json_report, junit_xml, mask_url

    try:
        rt = airbyte.runtime()
        try:
            store = _store(rt)
            if store is None:
                # Opening would create an empty store; say where we looked instead.
                raise StoreError(
                    f"no metadata store at {mask_url(rt.store_url())}, so no run {run_id}; "
                    "pass the pipeline file (-f) or --store-url the run used"
                )
            detail = store.get_run(run_id)
        finally:
            rt.close()
    except LuigiAirbyteError as exc:
        fail(exc, as_json=as_json)
    if junit_path is not None:
        junit_path.parent.mkdir(parents=True, exist_ok=True)
        junit_path.write_text(junit_xml(detail), encoding="utf-8")
        note(f"wrote {junit_path}")
    if as_json:
        emit_json(json_report(detail))
        return
    _render(detail)


def _render(detail: RunDetail) -> None:
    from luigi_airbyte.app.run_service import one_line

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
