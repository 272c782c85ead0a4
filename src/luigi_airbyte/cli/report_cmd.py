"""``luigi-airbyte report RUN_ID --html FILE``, and the HTML report a run writes at its end.

The page itself is drawn by ``luigi_airbyte.store.html_report`` from store records; this
module only gathers them (run, events, earlier stream counts) and what the pipeline file
adds (dependencies, connections, dbt models), and decides where the file goes.
"""

from __future__ import annotations

from pathlib import Path

import click

from luigi_airbyte.app.report_links import report_location
from luigi_airbyte.app.runtime import Runtime
from luigi_airbyte.cli.common import fail
from luigi_airbyte.cli.options import AirbyteFlags, store_options
from luigi_airbyte.cli.render import note
from luigi_airbyte.errors import LuigiAirbyteError, StoreError
from luigi_airbyte.pipeline._steps import DbtStep
from luigi_airbyte.pipeline.graph import Graph
from luigi_airbyte.store import Store, mask_url
from luigi_airbyte.store.html_report import StepPlan, render_run_html, write_html

_MAX_MODELS = 20
__all__ = ["build_run_html", "plan_from_graph", "report_location", "write_run_html"]


def plan_from_graph(graph: Graph, rt: Runtime | None = None) -> dict[str, StepPlan]:
    """What the pipeline file says per step: dependencies, connection, dbt models."""
    plan: dict[str, StepPlan] = {}
    for node in graph:
        models: tuple[str, ...] = ()
        if isinstance(node.step, DbtStep) and rt is not None and rt.pipeline_file is not None:
            folder = rt.pipeline_file.resolve_path(node.step.dbt.project_dir) / "models"
            if folder.is_dir():
                models = tuple(sorted(p.stem for p in folder.rglob("*.sql")))[:_MAX_MODELS]
        plan[node.name] = StepPlan(after=node.after, connection=node.connection, models=models)
    return plan


def _plan_for(rt: Runtime, pipeline: str) -> dict[str, StepPlan]:
    pf = rt.pipeline_file
    if pf is None or pipeline not in pf.pipelines:
        return {}
    return plan_from_graph(rt.graph(pipeline), rt)


def build_run_html(rt: Runtime, store: Store, run_id: str, *, link: str = "") -> str:
    """Render one stored run (a unique id prefix works too)."""
    detail = store.get_run(run_id)
    run = detail.run
    return render_run_html(
        detail,
        events=store.events(run.run_id),
        previous=store.previous_stream_rows(run.pipeline, run.started_at),
        plan=_plan_for(rt, run.pipeline),
        redact=rt.redact,
        report_url=link or None,
    )


def write_run_html(rt: Runtime, run_id: str, path: Path, *, link: str = "") -> Path:
    """Render a stored run and write it atomically to ``path``."""
    return write_html(build_run_html(rt, rt.store(), run_id, link=link), path)


def open_existing_store(rt: Runtime, run_id: str) -> Store:
    """The store, refusing to create an empty SQLite file just to find nothing in it."""
    from luigi_airbyte.cli.history_cmd import _store

    store = _store(rt)
    if store is None:
        raise StoreError(
            f"no metadata store at {mask_url(rt.store_url())}, so no run {run_id}; "
            "pass the pipeline file (-f) or --store-url the run used"
        )
    return store


@click.command("report")
@click.argument("run_id")
@click.option(
    "--html",
    "html_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the run as one self-contained HTML page here.",
)
@store_options
def report_command(run_id: str, html_path: Path, airbyte: AirbyteFlags) -> None:
    """Write a run's HTML report: timeline, rows per stream, checks, failures, lineage.

    RUN_ID may be the first characters (at least 4) of the id, as `history` prints
    it. The page needs nothing else to open: no network, no script. With -f, the
    timeline also shows which step waited for which, and the lineage the
    connections and dbt models (docs/reports.md).

    \b
    Example:
      luigi-airbyte report 3f2a9c1e -f pipeline.yaml --html report.html
    """
    try:
        rt = airbyte.runtime()
        try:
            store = open_existing_store(rt, run_id)
            path = write_html(build_run_html(rt, store, run_id), html_path)
        finally:
            rt.close()
    except LuigiAirbyteError as exc:
        fail(exc, as_json=False)
    note(f"wrote {path}")
