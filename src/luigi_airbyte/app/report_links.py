"""Where a run's HTML report goes and how people reach it (alerts, JUnit, Luigi's UI).

``run --report-html PATH`` wins; else ``reports.html: true`` puts the report in
``<state_dir>/reports/<run id>.html``. When ``reports.base_url`` says where the state
folder is served, the link is ``<base_url>reports/<run id>.html``; otherwise the path.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from luigi_airbyte.store.html_report import step_anchor

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime


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
