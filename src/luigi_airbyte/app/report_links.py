"""Where a run's HTML report goes and how people reach it (alerts, JUnit, Luigi's UI).

``run --report-html PATH`` wins; else ``reports.html: true`` puts the report in
``<state_dir>/reports/<run id>.html``. When ``reports.base_url`` says where the state
folder is served, the link is ``<base_url>reports/<run id>.html``; otherwise the path.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from luigi_airbyte.pipeline._steps import DbtStep
from luigi_airbyte.pipeline.graph import Graph
from luigi_airbyte.store import Store
from luigi_airbyte.store.anchors import step_anchor

_MAX_MODELS = 20

if TYPE_CHECKING:  # the HTML renderer (~8 ms to import) is loaded when a report is made
    from luigi_airbyte.app.runtime import Runtime
    from luigi_airbyte.store.html_report import StepPlan


def report_location(rt: Runtime, run_id: str, cli_path: Path | None) -> tuple[Path | None, str]:
    """(path to write, link to give people), or (None, "") when no HTML report is wanted."""
    pf = rt.pipeline_file
    reports = pf.reports if pf is not None else None
    path = cli_path
    if path is None and reports is not None and reports.html:
        path = rt.state_dir / "reports" / f"{run_id}.html"
    if path is None:
        return None, ""
    path = path.resolve()
    link = str(path)
    if reports is not None and reports.base_url:
        try:
            relative = path.relative_to(rt.state_dir.resolve())
            link = reports.base_url.rstrip("/") + "/" + relative.as_posix()
        except ValueError:
            pass  # written outside the served state folder: the path is the only link
    return path, link


def served_step_link(rt: Runtime, run_id: str, step: str) -> str:
    """The served URL of a step's row in its run's report (for Luigi's tracking URL), or
    "" unless the file has ``reports: {html: true, base_url: ...}``."""
    pf = rt.pipeline_file
    reports = pf.reports if pf is not None else None
    if not run_id or reports is None or not reports.html or not reports.base_url:
        return ""
    return f"{reports.base_url.rstrip('/')}/reports/{quote(run_id)}.html#{quote(step_anchor(step))}"


def plan_from_graph(graph: Graph, rt: Runtime | None = None) -> dict[str, StepPlan]:
    """What the pipeline file says per step: dependencies, connection, dbt models."""
    from luigi_airbyte.store.html_report import StepPlan

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
    from luigi_airbyte.store.html_report import render_run_html

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
    from luigi_airbyte.store.html_report import write_html

    return write_html(build_run_html(rt, rt.store(), run_id, link=link), path)
