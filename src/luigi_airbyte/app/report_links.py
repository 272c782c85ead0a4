"""Where a run's HTML report goes and how people reach it (alerts, JUnit, Luigi's UI).

``run --report-html PATH`` wins; else ``reports.html: true`` puts the report in
``<state_dir>/reports/<run id>.html``. When ``reports.base_url`` says where the state
folder is served, the link is ``<base_url>reports/<run id>.html``; otherwise the path.

Luigi's tracking URL of a step (``served_step_link``) follows the same rule: the run
process remembers where ``report_location`` put its run's report (forked workers inherit
it), and a step links to its row only when that copy is served.
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

# (state folder, run id) -> the served URL of its report ("" when it is not served), as
# chosen by ``report_location`` in the run process; forked Luigi workers inherit it
_SERVED: dict[tuple[str, str], str] = {}

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
    served = ""
    if reports is not None and reports.base_url:
        try:
            relative = path.relative_to(rt.state_dir.resolve())
            served = reports.base_url.rstrip("/") + "/" + relative.as_posix()
        except ValueError:
            pass  # written outside the served state folder: the path is the only link
    link = served or str(path)
    if run_id:
        _SERVED[_key(rt, run_id)] = served
    return path, link


def _key(rt: Runtime, run_id: str) -> tuple[str, str]:
    return str(rt.state_dir.resolve()), run_id


def served_step_link(rt: Runtime, run_id: str, step: str) -> str:
    """The served URL of a step's row in its run's report (for Luigi's tracking URL), or
    "" when that run's report has no served copy.

    A run whose report ``report_location`` placed in this process tree links where it
    placed it (``--report-html PATH`` replaces the state folder's copy: a URL only when
    ``PATH`` is inside the served state folder); any other run id (a task started
    outside ``run``) gets ``<base_url>reports/<run id>.html`` when the file has
    ``reports: {html: true, base_url: ...}``."""
    if not run_id:
        return ""
    anchor = "#" + quote(step_anchor(step))
    served = _SERVED.get(_key(rt, run_id))
    if served is not None:
        return served + anchor if served else ""
    pf = rt.pipeline_file
    reports = pf.reports if pf is not None else None
    if reports is None or not reports.html or not reports.base_url:
        return ""
    return f"{reports.base_url.rstrip('/')}/reports/{quote(run_id)}.html{anchor}"


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
