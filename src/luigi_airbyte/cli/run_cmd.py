"""``luigi-airbyte run``: validate, preflight, build the Luigi graph, run it, report."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from luigi_airbyte.cli.app import cli, emit_json, fail, json_option
from luigi_airbyte.cli.exit_codes import ExitCode
from luigi_airbyte.errors import LuigiAirbyteError

if TYPE_CHECKING:
    from rich.console import Console

    from luigi_airbyte.app.runtime import Runtime
    from luigi_airbyte.pipeline.graph import Graph
    from luigi_airbyte.store import RunDetail


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


@cli.command("run")
@click.argument("pipeline_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-p", "--pipeline", "pipeline_name", help="Pipeline to run (when the file has several)."
)
@click.option(
    "-w",
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Luigi worker processes.",
)
@click.option("--scheduler-url", help="Use a central luigid, e.g. http://localhost:8082.")
@click.option(
    "--date",
    "run_date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Logical run date (default: today, UTC).",
)
@click.option("--interval", default="", help="A finer partition of the date, e.g. 2026-11-24T14.")
@click.option(
    "--junit",
    "junit_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a JUnit XML report here.",
)
@click.option(
    "--report-json",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the JSON report here.",
)
@click.option("--dry-run", is_flag=True, help="Show the graph and what would run or be skipped.")
@click.option("--skip-preflight", is_flag=True, help="Do not check Airbyte and warehouses first.")
@click.option("--url", help="Airbyte public API URL (overrides the file).")
@click.option("--store-url", help="Metadata store URL (overrides the file).")
@click.option(
    "--rotate-credentials",
    is_flag=True,
    help="After the run, replace the Airbyte application credential (client_credentials "
    "with a file: or aws-sm: secret).",
)
@json_option
def run_command(
    pipeline_file: Path,
    pipeline_name: str | None,
    workers: int,
    scheduler_url: str | None,
    run_date: dt.datetime | None,
    interval: str,
    junit_path: Path | None,
    report_path: Path | None,
    dry_run: bool,
    skip_preflight: bool,
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
            pipeline_file,
            pipeline_name=pipeline_name,
            workers=workers,
            scheduler_url=scheduler_url,
            run_date=run_date.date() if run_date else _today(),
            interval=interval,
            junit_path=junit_path,
            report_path=report_path,
            dry_run=dry_run,
            skip_preflight=skip_preflight,
            cli_settings={"airbyte.url": url, "store.url": store_url},
            as_json=as_json,
            rotate=rotate_credentials,
        )
    except LuigiAirbyteError as exc:
        fail(exc, as_json=as_json)
        return
    except KeyboardInterrupt:
        click.secho(
            "interrupted: running Airbyte jobs were left running (on_interrupt: detach) or "
            "cancelled (on_interrupt: cancel); run the same date again to attach",
            fg="yellow",
            err=True,
        )
        sys.exit(ExitCode.INTERRUPTED)
    if as_json:
        emit_json(doc)
    sys.exit(code)


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
    dry_run: bool = False,
    skip_preflight: bool = False,
    cli_settings: dict[str, Any] | None = None,
    as_json: bool = False,
    console: Console | None = None,
    runtime: Runtime | None = None,
    rotate: bool = False,
) -> tuple[int, dict[str, Any]]:
    """The body of ``run``; returns (exit code, JSON document). Raises library errors."""
    # Luigi is imported only now: validation errors must not pay for it.
    from rich.console import Console

    from luigi_airbyte.app.preflight import run_preflight
    from luigi_airbyte.app.runtime import Runtime
    from luigi_airbyte.cli.progress import ProgressPrinter
    from luigi_airbyte.store import json_report, junit_xml
    from luigi_airbyte.tasks import PipelineTask, WorkerOptions, run_graph
    from luigi_airbyte.tasks.context import install_runtime
    from luigi_airbyte.tasks.outcome import exit_code_for, record_unrun_steps, task_ids_by_step

    stream = sys.stderr if as_json else sys.stdout
    out = console or Console(file=stream, width=None if stream.isatty() else 160)
    settings = {k: v for k, v in (cli_settings or {}).items() if v is not None}
    path = pipeline_file.resolve()
    if not path.exists():
        from luigi_airbyte.errors import ConfigError, Problem

        raise ConfigError([Problem(str(pipeline_file), "-", "file not found", "check the path")])
    rt = runtime or Runtime.load(path, cli=settings, event_sinks=(ProgressPrinter(),))
    try:
        pf = rt.pipeline_file
        assert pf is not None
        pipeline = pf.pipeline(pipeline_name)
        graph = rt.graph(pipeline.name)

        if dry_run:
            return _dry_run(rt, graph, path, run_date, interval, out, as_json)

        if not skip_preflight:
            run_preflight(rt, graph)

        store = rt.store()
        run_id = store.start_run(
            pipeline.name,
            run_date,
            argv=[Path(sys.argv[0]).name, *sys.argv[1:]],
            scheduler=scheduler_url or "local",
        )
        install_runtime(str(path), rt)
        os.environ.setdefault("LUIGI_CONFIG_PARSER", "cfg")
        root = PipelineTask(
            pipeline_file=str(path),
            pipeline=pipeline.name,
            run_date=run_date,
            interval=interval,
            run_id=run_id,
        )
        options = WorkerOptions(resources={rt.airbyte_resource(): rt.settings.max_concurrent_syncs})
        try:
            outcome = run_graph(
                [root], workers=workers, scheduler_url=scheduler_url, options=options
            )
            ids = task_ids_by_step(
                graph, pipeline_file=str(path), run_date=run_date, interval=interval
            )
            record_unrun_steps(store, run_id, graph, outcome, ids)
            detail = store.get_run(run_id)
            code = exit_code_for(detail, outcome)
            rt.executor().alert_failed_steps(detail)
            status = "succeeded" if code == 0 else "failed"
            store.finish_run(run_id, status, code, message=f"luigi: {outcome.status}")
        except BaseException:
            store.finish_run(run_id, "failed", 1, message="interrupted or crashed")
            raise
        finally:
            rt.bus().flush()
        detail = store.get_run(run_id)
        if junit_path is not None:
            junit_path.parent.mkdir(parents=True, exist_ok=True)
            junit_path.write_text(junit_xml(detail), encoding="utf-8")
        doc = {**json_report(detail), "exit_code": code, "luigi_status": outcome.status}
        if rotate:
            doc["credentials"] = _rotate_after_run(rt, run_id, pipeline.name, pipeline.owner, out)
        if report_path is not None:
            import json

            report_path.parent.mkdir(parents=True, exist_ok=True)
            report_path.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
        if not as_json:
            render_summary(detail, code, out)
        return code, doc
    finally:
        if runtime is None:  # ours: close connections, flush and stop sink threads
            from luigi_airbyte.tasks.context import clear_runtimes

            clear_runtimes()
            rt.close()


def _rotate_after_run(
    rt: Runtime, run_id: str, pipeline: str, owner: str, out: Console
) -> dict[str, Any]:
    """Rotate the API credential after a cycle. A failure is reported, never fatal: the
    rotation keeps the stored credential valid at every step, so the next run still works.
    """
    from luigi_airbyte.app.rotation import rotate_credentials
    from luigi_airbyte.observe import Alert
    from luigi_airbyte.observe.events import Event

    try:
        result = rotate_credentials(rt)
    except LuigiAirbyteError as exc:
        message = rt.redact(str(exc))
        rt.bus().emit(
            Event(
                "credentials.rotation_failed", {"run_id": run_id, "error": message}, level="error"
            )
        )
        rt.router().alert(
            Alert(
                owner_role=owner,
                severity="warning",
                title=f"{pipeline}: credential rotation failed",
                text=message,
                run_id=run_id,
                pipeline=pipeline,
                kind="rotation",
                next_step="run `luigi-airbyte credentials rotate` and read its message",
            )
        )
        out.print(f"[yellow]credential rotation failed[/yellow]: {message}")
        return {"rotated": False, "error": message}
    rt.bus().emit(
        Event("credentials.rotated", {"run_id": run_id, "client_id": result.new_client_id})
    )
    out.print(f"credential rotated: new client id {result.new_client_id}")
    return {"rotated": True, "client_id": result.new_client_id}


def render_summary(detail: RunDetail, code: int, out: Console) -> None:
    """The end-of-run table: step, status, job id, rows, duration, note."""
    from rich.table import Table

    from luigi_airbyte.app.step_context import split_failure

    run = detail.run
    table = Table(title=f"{run.pipeline} · {run.run_date} · run {run.run_id[:8]}", expand=False)
    for col in ("step", "kind", "status", "job", "rows", "duration"):
        table.add_column(col, no_wrap=True)
    table.add_column("note", overflow="ellipsis", no_wrap=True, max_width=70)
    colours = {
        "succeeded": "green",
        "failed": "red",
        "fresh": "blue",
        "skipped": "blue",
        "upstream_failed": "yellow",
        "not_run": "yellow",
    }
    for s in detail.steps:
        colour = colours.get(s.status, "white")
        table.add_row(
            s.step_name,
            s.kind,
            f"[{colour}]{s.status}[/{colour}]",
            str(s.job_id) if s.job_id is not None else "",
            str(s.rows) if s.rows is not None else "",
            f"{s.duration_s:.1f}s" if s.duration_s is not None else "",
            split_failure(s.message)[1][:200],
        )
    out.print(table)
    verdict = "[green]succeeded[/green]" if code == 0 else f"[red]failed (exit {code})[/red]"
    out.print(f"run {run.run_id}: {verdict}")


def _dry_run(
    rt: Runtime,
    graph: Graph,
    path: Path,
    run_date: dt.date,
    interval: str,
    out: Console,
    as_json: bool,
) -> tuple[int, dict[str, Any]]:
    """Print the graph and, per step, whether it would run or be skipped."""
    from rich.table import Table

    from luigi_airbyte.tasks.context import install_runtime
    from luigi_airbyte.tasks.translator import task_for_node

    install_runtime(str(path), rt)
    rows = []
    for node in graph:
        task = task_for_node(node, pipeline_file=str(path), run_date=run_date, interval=interval)
        try:
            done = bool(task.complete())
            verdict = "skip (done or fresh)" if done else "run"
        except LuigiAirbyteError as exc:
            verdict = f"unknown: {exc}"
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
    doc = {
        "pipeline": graph.pipeline,
        "run_date": run_date.isoformat(),
        "dry_run": True,
        "steps": rows,
    }
    if not as_json:
        table = Table(title=f"dry run: {graph.pipeline} · {run_date}")
        for col in ("step", "kind", "after", "owner", "would"):
            table.add_column(col)
        for r in rows:
            table.add_row(r["step"], r["kind"], ", ".join(r["after"]), r["owner"], r["would"])
        out.print(table)
    return 0, doc
