"""What a run leaves behind once it has ended: the JSON document (``run --json`` and
``--report-json``), the JUnit XML, the HTML report, and a credential rotation if asked.

The CLI prints; this writes. A run whose store failed (``recorded=False``) writes only
the JSON report, from what Luigi knew.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luigi_airbyte.app.run_service import RunOutcome, RunService
from luigi_airbyte.store import RunDetail, json_report, junit_xml

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime


def error_document(error: BaseException, detail: RunDetail, code: int) -> dict[str, Any]:
    """The JSON document of a run that ended on ``error`` (preflight, store)."""
    return {
        **json_report(detail),
        "exit_code": code,
        "error": {"type": type(error).__name__, "message": str(error), "exit_code": code},
    }


def write_run_outputs(
    rt: Runtime,
    result: RunOutcome,
    *,
    junit_path: Path | None = None,
    report_path: Path | None = None,
    rotate: bool = False,
) -> dict[str, Any]:
    """Write what a finished run was asked for; returns its JSON document (with
    ``credentials`` after a rotation and ``html_report`` where one was written)."""
    detail, code = result.detail, result.code
    if junit_path is not None and result.recorded:
        junit_path.parent.mkdir(parents=True, exist_ok=True)
        junit_path.write_text(
            junit_xml(detail, html_report=result.html_link or None), encoding="utf-8"
        )
    doc = {**json_report(detail), "exit_code": code, "luigi_status": result.luigi_status}
    if not result.recorded:
        doc["error"] = {"type": "StoreError", "message": str(result.error), "exit_code": code}
    if rotate and result.recorded:
        doc["credentials"] = RunService(rt).rotate_credentials(
            detail.run.run_id, detail.run.pipeline
        )
    if result.html_path is not None and result.recorded:
        from luigi_airbyte.app.report_links import write_run_html

        doc["html_report"] = str(
            write_run_html(rt, detail.run.run_id, result.html_path, link=result.html_link)
        )
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    return doc


__all__ = ["error_document", "write_run_outputs"]
