"""Run reports for CI: JUnit XML (test dashboards) and JSON (scripts). See docs/reports.md.

Both are pure functions of a ``RunDetail`` so a report can be rebuilt at any time from
the store (``luigi-airbyte report <run-id>``), not only at the end of a run.

JUnit mapping, one ``<testcase>`` per step:

    succeeded        -> passed
    failed           -> <failure>   (counted in failures)
    fresh, skipped   -> <skipped>
    upstream_failed  -> <skipped message="upstream_failed: ...">  the root cause is the
                        upstream step's <failure>; counting it again would inflate failures
    not_run, pending,
    running          -> <error>     the step should have run and did not finish, with no
                        failure to blame (run killed, scheduler gave up): never green
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luigi_airbyte.store.runs import (
    CheckRecord,
    RunDetail,
    StepRecord,
    StreamStatRecord,
)
from luigi_airbyte.store.schema import STEP_STATUSES

if TYPE_CHECKING:  # the JUnit writer imports ElementTree when it runs: most runs write none
    import xml.etree.ElementTree as ET

JSON_REPORT_KIND = "luigi-airbyte.run-report"
JSON_SCHEMA_VERSION = 1

_SKIPPED = ("fresh", "skipped", "upstream_failed")
_ERRORS = ("not_run", "pending", "running", "abandoned")
_MESSAGE_ATTR_MAX = 500

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# Characters XML 1.0 forbids even when escaped (NUL, most C0 controls, lone surrogates...).
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value: object) -> str:
    """Make any text safe for XML 1.0: drop ANSI colour codes and forbidden characters."""
    return _XML_INVALID.sub("\ufffd", _ANSI.sub("", str(value)))


def _seconds(value: float | None) -> str:
    return f"{max(value or 0.0, 0.0):.3f}"


def _iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 with a ``Z``, microseconds always present: one fixed format."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def step_duration(step: StepRecord) -> float | None:
    """The recorded duration, else the span between its timestamps, else ``None``."""
    if step.duration_s is not None:
        return step.duration_s
    if step.started_at is not None and step.finished_at is not None:
        return (step.finished_at - step.started_at).total_seconds()
    return None


def _stream_line(s: StreamStatRecord) -> str:
    name = f"{s.namespace}.{s.stream}" if s.namespace else s.stream
    return (
        f"stream {name}: records_committed={s.records_committed} "
        f"records_emitted={s.records_emitted} records_rejected={s.records_rejected} "
        f"bytes_committed={s.bytes_committed} bytes_emitted={s.bytes_emitted} (job {s.job_id})"
    )


def _check_line(c: CheckRecord) -> str:
    verdict = "passed" if c.passed else "FAILED"
    text = f"check {c.check}: {verdict} (severity {c.severity})"
    return f"{text}: {c.message}" if c.message else text


def _system_out(run: RunDetail, step: StepRecord) -> str:
    lines = [f"kind: {step.kind}", f"status: {step.status}"]
    if step.owner:
        lines.append(f"owner: {step.owner}")
    if step.job_id is not None:
        lines.append(f"job_id: {step.job_id}")
    if step.rows is not None:
        lines.append(f"rows: {step.rows}")
    if step.started_at is not None:
        lines.append(f"started_at: {_iso(step.started_at)}")
    if step.finished_at is not None:
        lines.append(f"finished_at: {_iso(step.finished_at)}")
    lines.extend(_stream_line(s) for s in run.streams_for(step.step_name))
    lines.extend(_check_line(c) for c in run.checks_for(step.step_name))
    if step.message:
        lines.append(f"message: {step.message}")
    return "\n".join(lines) + "\n"


def _outcome(run: RunDetail, step: StepRecord) -> ET.Element | None:
    """The child element that marks a non-passing testcase, or ``None`` for a pass."""
    import xml.etree.ElementTree as ET

    reason = (step.message or "").strip()
    if step.status == "failed":
        failed_checks = [c for c in run.checks_for(step.step_name) if not c.passed]
        reason = reason or "; ".join(_check_line(c) for c in failed_checks) or "step failed"
        el = ET.Element("failure", message=_xml_text(reason[:_MESSAGE_ATTR_MAX]))
        el.set("type", f"{step.kind}.failed")
        body = [reason, *(_check_line(c) for c in failed_checks if _check_line(c) not in reason)]
        el.text = _xml_text("\n".join(body))
        return el
    if step.status in _SKIPPED:
        text = f"{step.status}: {reason}" if reason else step.status
        return ET.Element("skipped", message=_xml_text(text[:_MESSAGE_ATTR_MAX]))
    if step.status in _ERRORS:
        what = "not run" if step.status == "not_run" else f"did not finish (still {step.status})"
        text = f"{step.status}: {reason}" if reason else f"{step.status}: step {what}"
        el = ET.Element("error", message=_xml_text(text[:_MESSAGE_ATTR_MAX]))
        el.set("type", "not_run" if step.status == "not_run" else "incomplete")
        el.text = _xml_text(text)
        return el
    return None


def junit_xml(run: RunDetail, *, html_report: str | None = None) -> str:
    """The run as JUnit XML: ``<testsuites>`` holding one ``<testsuite>`` (the run).

    ``html_report`` (a path or URL of the run's HTML report) becomes a property.
    """
    import xml.etree.ElementTree as ET

    pipeline = run.run.pipeline
    cases, counts = _junit_cases(run)
    root = ET.Element("testsuites", {"name": "luigi-airbyte", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": _xml_text(pipeline), **counts})
    # The Ant JUnit schema wants a timestamp without an offset: it is UTC.
    suite.set(
        "timestamp", run.run.started_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    )
    suite.set("hostname", _xml_text(run.run.host or "localhost"))
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("run_id", run.run.run_id),
        ("pipeline", pipeline),
        ("run_date", run.run.run_date.isoformat() if run.run.run_date else ""),
        ("status", run.run.status),
        ("exit_code", "" if run.run.exit_code is None else str(run.run.exit_code)),
        ("started_at", _iso(run.run.started_at) or ""),
        ("finished_at", _iso(run.run.finished_at) or ""),
        ("scheduler", run.run.scheduler or ""),
        *((("html_report", html_report),) if html_report else ()),
    ):
        ET.SubElement(props, "property", name=name, value=_xml_text(value))
    suite.extend(cases)
    if run.run.message:
        err = ET.SubElement(suite, "system-err")
        err.text = _xml_text(run.run.message)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _junit_cases(run: RunDetail) -> tuple[list[ET.Element], dict[str, str]]:
    """One ``<testcase>`` per step, and the suite's counts (tests, failures, ..., time)."""
    import xml.etree.ElementTree as ET

    cases: list[ET.Element] = []
    tally = {"failure": 0, "error": 0, "skipped": 0}
    steps_time = 0.0
    for step in run.steps:
        duration = step_duration(step) or 0.0
        steps_time += max(duration, 0.0)
        case = ET.Element(
            "testcase", classname=_xml_text(run.run.pipeline), name=_xml_text(step.step_name)
        )
        case.set("time", _seconds(duration))
        outcome = _outcome(run, step)
        if outcome is not None:
            case.append(outcome)
            tag = outcome.tag if outcome.tag in ("failure", "error") else "skipped"
            tally[tag] += 1
        out = ET.SubElement(case, "system-out")
        out.text = _xml_text(_system_out(run, step))
        cases.append(case)
    # Wall-clock time of the run when it finished (steps may overlap), else the step sum.
    total = run.run.duration_s if run.run.duration_s is not None else steps_time
    counts = {
        "tests": str(len(cases)),
        "failures": str(tally["failure"]),
        "errors": str(tally["error"]),
        "skipped": str(tally["skipped"]),
        "time": _seconds(total),
    }
    return cases, counts


def _json_step(run: RunDetail, step: StepRecord) -> dict[str, Any]:
    return {
        "name": step.step_name,
        "kind": step.kind,
        "status": step.status,
        "owner": step.owner,
        "started_at": _iso(step.started_at),
        "finished_at": _iso(step.finished_at),
        "duration_s": step_duration(step),
        "job_id": step.job_id,
        "rows": step.rows,
        "message": step.message,
        "exit_code": step.exit_code,
        "streams": [
            {
                "stream": s.stream,
                "namespace": s.namespace,
                "job_id": s.job_id,
                "records_emitted": s.records_emitted,
                "records_committed": s.records_committed,
                "bytes_emitted": s.bytes_emitted,
                "bytes_committed": s.bytes_committed,
                "records_rejected": s.records_rejected,
            }
            for s in run.streams_for(step.step_name)
        ],
        "checks": [
            {
                "check": c.check,
                "passed": c.passed,
                "severity": c.severity,
                "message": c.message,
                "details": c.details,
                "at": _iso(c.at),
            }
            for c in run.checks_for(step.step_name)
        ],
    }


def json_report(run: RunDetail) -> dict[str, Any]:
    """The run as a JSON-ready dict; shape documented in docs/reports.md (schema_version 1)."""
    by_status = dict.fromkeys(STEP_STATUSES, 0)
    for step in run.steps:
        by_status[step.status] = by_status.get(step.status, 0) + 1
    summary = run.run
    return {
        "report": JSON_REPORT_KIND,
        "schema_version": JSON_SCHEMA_VERSION,
        "run": {
            "run_id": summary.run_id,
            "pipeline": summary.pipeline,
            "run_date": summary.run_date.isoformat() if summary.run_date else None,
            "status": summary.status,
            "exit_code": summary.exit_code,
            "started_at": _iso(summary.started_at),
            "finished_at": _iso(summary.finished_at),
            "duration_s": summary.duration_s,
            "host": summary.host,
            "scheduler": summary.scheduler,
            "argv": summary.argv,
            "message": summary.message,
        },
        "totals": {
            "steps": len(run.steps),
            "by_status": by_status,
            "rows": sum(s.rows or 0 for s in run.steps),
            "records_committed": sum(s.records_committed for s in run.stream_stats),
            "bytes_committed": sum(s.bytes_committed for s in run.stream_stats),
            "checks": len(run.checks),
            "checks_failed": sum(1 for c in run.checks if not c.passed),
        },
        "steps": [_json_step(run, step) for step in run.steps],
    }


def write_junit_xml(run: RunDetail, path: Path, *, html_report: str | None = None) -> Path:
    """Write ``junit_xml(run)`` atomically (a reader never sees half a file)."""
    return _atomic_write(path, junit_xml(run, html_report=html_report))


def write_json_report(run: RunDetail, path: Path) -> Path:
    """Write ``json_report(run)`` atomically, indented, UTF-8."""
    text = json.dumps(json_report(run), indent=2, ensure_ascii=False, default=str)
    return _atomic_write(path, text + "\n")


def _atomic_write(path: Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
