"""``luigi-airbyte run``: validate, preflight, build the Luigi graph, run it, report."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from luigi_airbyte.app import collector
from luigi_airbyte.cli.common import emit_json, fail, interrupted, json_option, options
from luigi_airbyte.cli.options import OUTPUT_FILE, existing_file, given_path, pipeline_runtime
from luigi_airbyte.errors import LuigiAirbyteError

if TYPE_CHECKING:  # imported where used: `--help` must not pay for them
    from rich.console import Console

    from luigi_airbyte.app.run_service import GraphOutcome, RunOutcome, RunRequest
    from luigi_airbyte.app.runtime import Runtime
    from luigi_airbyte.pipeline.graph import Graph
    from luigi_airbyte.store import RunDetail


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


_RUN_OPTIONS = options(
    click.argument("pipeline_file", type=click.Path()),  # str: '' must not become '.'
    click.option(
        "-p", "--pipeline", "pipeline_name", help="Pipeline to run (when the file has several)."
    ),
    click.option(
        "-w",
        "--workers",
        type=click.IntRange(1, 64),
        default=1,
        show_default=True,
        help="Luigi worker processes.",
    ),
    click.option("--scheduler-url", help="Use a central luigid, e.g. http://localhost:8082."),
    click.option(
        "--date",
        "run_date",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        help="Logical run date (default: today, UTC).",
    ),
    click.option(
        "--interval",
        default="",
        help="A finer partition of the date: the date, T and a part, e.g. 2026-11-24T14.",
    ),
    click.option(
        "--junit",
        "junit_path",
        type=OUTPUT_FILE,
        help="Write a JUnit XML report here.",
    ),
    click.option(
        "--report-json",
        "report_path",
        type=OUTPUT_FILE,
        help="Write the JSON report here.",
    ),
    click.option(
        "--report-html",
        "report_html",
        type=OUTPUT_FILE,
        help="Write the HTML run report here (reports.html in the file: in the state folder).",
    ),
    click.option(
        "--dry-run", is_flag=True, help="Show the graph and what would run or be skipped."
    ),
    click.option(
        "--skip-preflight", is_flag=True, help="Do not check Airbyte and warehouses first."
    ),
    click.option(
        "--reload",
        multiple=True,
        metavar="SYNC_STEP",
        help="Reject the load of this sync step whose counts checks found records lost or "
        "duplicated, have Airbyte refresh those streams once, then run the checks and what "
        "they blocked. Repeatable.",
    ),
    click.option("--url", help="Airbyte public API URL (overrides the file)."),
    click.option("--store-url", help="Metadata store URL (overrides the file)."),
    click.option(
        "--rotate-credentials",
        is_flag=True,
        help="After the run, replace the Airbyte application credential (client_credentials "
        "with a file: or aws-sm: secret).",
    ),
    json_option,
)


@click.command("run")
@_RUN_OPTIONS
def run_command(
    pipeline_file: str,
    pipeline_name: str | None,
    workers: int,
    scheduler_url: str | None,
    run_date: dt.datetime | None,
    interval: str,
    junit_path: Path | None,
    report_path: Path | None,
    report_html: Path | None,
    dry_run: bool,
    skip_preflight: bool,
    reload: tuple[str, ...],
    url: str | None,
    store_url: str | None,
    rotate_credentials: bool,
    as_json: bool,
) -> None:
    """Run a pipeline: syncs, checks and transforms, in dependency order, on Luigi.

    Validation problems exit 3 before anything is contacted; preflight failures exit 4
    before any sync starts. A sync whose data is fresh is skipped; a re-run for the
    same date re-attaches to, or reuses, the Airbyte job of the first run.

    \b
    Example:
      luigi-airbyte run pipeline.yaml --junit report.xml
      luigi-airbyte run pipeline.yaml -p nightly --date 2026-11-24 --workers 4 \\
          --scheduler-url http://luigid:8082
    """
    try:
        code, doc = execute_run(
            given_path(pipeline_file),
            pipeline_name=pipeline_name,
            workers=workers,
            scheduler_url=scheduler_url,
            run_date=run_date.date() if run_date else _today(),
            interval=interval,
            junit_path=junit_path,
            report_path=report_path,
            report_html=report_html,
            dry_run=dry_run,
            skip_preflight=skip_preflight,
            reload=reload,
            cli_settings={"airbyte.url": url, "store.url": store_url},
            as_json=as_json,
            rotate=rotate_credentials,
        )
    except LuigiAirbyteError as exc:
        fail(exc, as_json=as_json)
    except KeyboardInterrupt:
        interrupted(_INTERRUPTED, fg="yellow")
    if as_json:
        emit_json(doc)
    sys.exit(code)


_INTERRUPTED = (
    "interrupted: running Airbyte jobs were left running (on_interrupt: detach) or "
    "cancelled (on_interrupt: cancel); run the same date again to attach"
)


@collector.paused_start_up
def execute_run(
    pipeline_file: Path,
    *,
    pipeline_name: str | None = None,
    workers: int = 1,
    scheduler_url: str | None = None,
    run_date: dt.date,
    interval: str = "",
    junit_path: Path | None = None,
    report_path: Path | None = None,
    report_html: Path | None = None,
    dry_run: bool = False,
    skip_preflight: bool = False,
    reload: tuple[str, ...] = (),
    cli_settings: dict[str, Any] | None = None,
    as_json: bool = False,
    console: Console | None = None,
    runtime: Runtime | None = None,
    rotate: bool = False,
) -> tuple[int, dict[str, Any]]:
    """The body of ``run``: the run service does the work, this prints it.

    Returns (exit code, JSON document). Raises ``ConfigError`` (exit 3) and a refused
    store's ``StoreError`` (exit 4) before anything is contacted or Luigi imported.
    """
    from luigi_airbyte.app.run_outputs import write_run_outputs
    from luigi_airbyte.app.run_service import RunRequest, RunService, default_argv
    from luigi_airbyte.cli.progress import ProgressPrinter

    out = console
    path = existing_file(pipeline_file)
    rt = runtime or pipeline_runtime(path, cli_settings, event_sinks=(ProgressPrinter(),))
    try:
        if dry_run:
            out = out or _console(as_json)
            return _dry_run(rt, pipeline_name, path, run_date, interval, out, as_json)
        request = RunRequest(
            pipeline_file=path,
            run_date=run_date,
            pipeline_name=pipeline_name,
            interval=interval,
            workers=workers,
            scheduler_url=scheduler_url,
            skip_preflight=skip_preflight,
            reload=tuple(reload),
            argv=default_argv(),
            report_html=report_html,
        )
        result = RunService(rt).run(request, _graph_runner)
        if result.error is not None and result.recorded:
            return _preflight_failed(result, request)
        doc = write_run_outputs(
            rt, result, junit_path=junit_path, report_path=report_path, rotate=rotate
        )
        _print_result(result, doc, _lazy_console(out, as_json), as_json=as_json)
        return result.code, doc
    finally:
        if runtime is None:  # ours: close connections, flush and stop sink threads
            _close(rt)


def _graph_runner(rt: Runtime, graph: Graph, **options: Any) -> GraphOutcome:
    """Luigi is imported (only now) while the run's first Airbyte requests are under way
    (``app/prefetch.py``), without the optional packages the run does not use from it
    (``app/lean_imports.py``); the run then goes on as ``tasks.outcome`` runs it."""
    from luigi_airbyte.app.lean_imports import absent, luigi_unused
    from luigi_airbyte.app.prefetch import prefetched

    unused = luigi_unused(remote_scheduler=bool(options.get("scheduler_url")))
    with prefetched(rt, graph), absent(unused):
        from luigi_airbyte.tasks.outcome import run_pipeline_graph
    return run_pipeline_graph(rt, graph, **options)


def _close(rt: Runtime) -> None:
    from luigi_airbyte.tasks.context import clear_runtimes

    clear_runtimes()
    rt.close()


def _lazy_console(given: Console | None, as_json: bool) -> Callable[[], Console]:
    """``given``, or the console ``_console`` makes on first use (then always that one)."""
    made: list[Console] = [given] if given is not None else []

    def get() -> Console:
        if not made:
            made.append(_console(as_json))
        return made[0]

    return get


def _console(as_json: bool) -> Console:
    from rich.console import Console

    stream = sys.stderr if as_json else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else 160)


def _preflight_failed(result: RunOutcome, request: RunRequest) -> tuple[int, dict[str, Any]]:
    """A preflight failure: recorded as a run, alerted; the message says the rest."""
    from luigi_airbyte.app.run_outputs import error_document
    from luigi_airbyte.app.run_service import rerun_command

    detail, code = result.detail, result.code
    assert result.error is not None
    click.secho(f"error: {result.error}", fg="red", err=True)
    click.secho(
        f"run {detail.run.run_id[:8]} recorded as failed (exit {code}); the owner "
        f"was alerted. Fix the above, then rerun `{rerun_command(request)}`.",
        err=True,
    )
    return code, error_document(result.error, detail, code)


def _print_result(
    result: RunOutcome, doc: dict[str, Any], out: Callable[[], Console], *, as_json: bool
) -> None:
    """The rotation's line, the table, a lost store's error, the recap, the report's path.

    ``out`` makes the console when something is printed to it: with ``--json`` there is
    usually nothing, and rich is then not imported at all."""
    rotation = doc.get("credentials")
    if rotation is not None:
        if rotation["rotated"]:
            out().print(f"credential rotated: new client id {rotation['client_id']}")
        else:
            out().print(f"[yellow]credential rotation failed[/yellow]: {rotation['error']}")
    if as_json:
        if not result.recorded:
            click.secho(f"error: {result.error}", fg="red", err=True)
        return
    from rich.markup import escape

    console = out()
    render_summary(result.detail, result.code, console)
    if not result.recorded:
        console.print(
            f"[red]error:[/red] {escape(str(result.error))}", soft_wrap=True, highlight=False
        )
    render_recap(result, console)
    if "html_report" in doc:
        console.print(f"HTML report: {doc['html_report']}", soft_wrap=True, highlight=False)


def render_summary(detail: RunDetail, code: int, out: Console) -> None:
    """The end-of-run table: step, status, job id, rows, duration, note (wrapped, never
    cut short: the recap below it repeats what failed, with the cause and the fix)."""
    from rich.markup import escape
    from rich.table import Table

    from luigi_airbyte.app.run_service import one_line

    run = detail.run
    table = Table(title=f"{run.pipeline} · {run.run_date} · run {run.run_id[:8]}", expand=False)
    for col in ("step", "kind", "status", "job", "rows", "duration"):
        table.add_column(col, no_wrap=True)
    table.add_column("note", overflow="fold", min_width=40, max_width=100)
    colours = {
        "succeeded": "green",
        "failed": "red",
        "abandoned": "red",
        "fresh": "blue",
        "skipped": "blue",
        "upstream_failed": "yellow",
        "not_run": "yellow",
    }
    for s in detail.steps:
        colour = colours.get(s.status, "white")
        table.add_row(
            escape(s.step_name),
            s.kind,
            f"[{colour}]{s.status}[/{colour}]",
            str(s.job_id) if s.job_id is not None else "",
            str(s.rows) if s.rows is not None else "",
            f"{s.duration_s:.1f}s" if s.duration_s is not None else "",
            escape(one_line(s.message, 300)),
        )
    out.print(table)
    verdict = "[green]succeeded[/green]" if code == 0 else f"[red]failed (exit {code})[/red]"
    out.print(f"run {run.run_id}: {verdict}")


def render_recap(result: RunOutcome, out: Console) -> None:
    """The last lines, like dbt's: each failed step with its connection, cause and fix,
    then ``PASS=.. FAIL=.. SKIPPED=.. (exit N)``. One line each, never wrapped."""
    from rich.markup import escape

    if result.recap:
        out.print(f"[red]Failed steps ({len(result.recap)}):[/red]", highlight=False)
    for item in result.recap:
        where = f"{item.kind}, connection {item.connection!r}" if item.connection else item.kind
        out.print(
            f"  [red]✗[/red] {escape(item.step)} ({escape(where)}, exit {item.exit_code}): "
            f"{escape(item.cause)}",
            soft_wrap=True,
            highlight=False,
        )
        out.print(f"    fix: {escape(item.fix)}", soft_wrap=True, highlight=False)
    colour = "green" if result.code == 0 else "red"
    out.print(f"[{colour}]{escape(result.counts_line())}[/{colour}]", highlight=False)


def _dry_run(
    rt: Runtime,
    pipeline_name: str | None,
    path: Path,
    run_date: dt.date,
    interval: str,
    out: Console,
    as_json: bool,
) -> tuple[int, dict[str, Any]]:
    """Print the graph and, per step, whether it would run or be skipped.

    Exits 0 only when every step could be answered: a step that could not (Airbyte or
    the store unreachable) makes it exit with that error's code (4), after the table
    (or, with --json, a document that carries the error). It never creates the store.
    """
    from luigi_airbyte.app.step_context import check_interval
    from luigi_airbyte.exit_codes import for_error

    check_interval(run_date, interval)
    pf = rt.pipeline_file
    assert pf is not None
    graph = rt.graph(pf.pipeline(pipeline_name).name)
    _read_store_without_creating_it(rt)
    rows, error = _dry_run_rows(rt, graph, path, run_date, interval)
    code = for_error(error) if error is not None else 0
    doc: dict[str, Any] = {
        "pipeline": graph.pipeline,
        "run_date": run_date.isoformat(),
        "dry_run": True,
        "exit_code": code,
        "steps": rows,
    }
    if error is not None:
        doc["error"] = {"type": type(error).__name__, "message": str(error), "exit_code": code}
    if not as_json:
        _print_dry_run(graph.pipeline, run_date, rows, out)
        if error is not None:
            click.secho(f"error: {error}", fg="red", err=True)
    return code, doc


def _read_store_without_creating_it(rt: Runtime) -> None:
    """A dry run reads the store but must not create it: with no SQLite file yet, the
    steps are asked against an empty in-memory store (no run on record, empty ledger)."""
    from luigi_airbyte.app.queries import missing_sqlite
    from luigi_airbyte.store import Store

    try:
        missing = missing_sqlite(rt.store_url())
    except LuigiAirbyteError:
        return  # the first step to open the store reports it
    if missing:
        rt.use_store(Store("sqlite://").open())


def _dry_run_rows(
    rt: Runtime, graph: Graph, path: Path, run_date: dt.date, interval: str
) -> tuple[list[dict[str, Any]], LuigiAirbyteError | None]:
    """One row per step, and the first error that left a step unanswered. After one that
    is not a missing connection, no other step is asked (an unreachable Airbyte costs its
    retries once, not per step). A sync's connection is looked up first: ``complete()``
    leaves a missing one to ``run()``, where it fails the step."""
    from luigi_airbyte.errors import ConnectionLookupError
    from luigi_airbyte.tasks.context import install_runtime
    from luigi_airbyte.tasks.sync_task import AirbyteSyncTask
    from luigi_airbyte.tasks.translator import task_for_node

    install_runtime(str(path), rt)
    rows = []
    error: LuigiAirbyteError | None = None
    for node in graph:
        task = task_for_node(node, pipeline_file=str(path), run_date=run_date, interval=interval)
        if error is not None and not isinstance(error, ConnectionLookupError):
            verdict = f"unknown: not asked after the error above ({type(error).__name__})"
        else:
            try:
                if isinstance(task, AirbyteSyncTask):
                    rt.connection(task.request().connection)
                done = bool(task.complete())
                verdict = "skip (done or fresh)" if done else "run"
            except LuigiAirbyteError as exc:
                error, verdict = error or exc, f"unknown: {exc}"
        rows.append(
            {
                "step": node.name,
                "kind": node.kind,
                "after": list(node.after),
                "owner": node.owner,
                "would": verdict,
                "task_id": task.task_id,
            }
        )
    return rows, error


def _print_dry_run(
    pipeline: str, run_date: dt.date, rows: list[dict[str, Any]], out: Console
) -> None:
    from rich.table import Table

    table = Table(title=f"dry run: {pipeline} · {run_date}")
    for col in ("step", "kind", "after", "owner", "would"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["step"], r["kind"], ", ".join(r["after"]), r["owner"], r["would"])
    out.print(table)
