"""JUnit XML and JSON reports: valid, counted right, stable shape; built from a stored run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from luigi_airbyte.store import (
    JSON_REPORT_KIND,
    JSON_SCHEMA_VERSION,
    STEP_STATUSES,
    RunDetail,
    RunSummary,
    StepRecord,
    Store,
    json_report,
    junit_xml,
    write_json_report,
    write_junit_xml,
)

T0 = datetime(2024, 5, 1, 2, 0, tzinfo=timezone.utc)


def _record_every_status(store: Store) -> RunDetail:
    run_id = store.start_run("nightly", date(2024, 5, 1), started_at=T0, host="ci-7")
    store.upsert_step(
        run_id,
        "crm",
        kind="sync",
        status="succeeded",
        started_at=T0,
        finished_at=T0 + timedelta(seconds=12.25),
        job_id=101,
        rows=150,
        owner="data-platform",
    )
    store.add_stream_stats(
        run_id,
        "crm",
        101,
        [
            {"stream": "users", "namespace": "public", "records_committed": 100},
            {"stream": "orders", "records_committed": 50, "records_emitted": 51},
        ],
    )
    store.upsert_step(run_id, "crm:counts", kind="check", status="failed", duration_s=0.5)
    store.add_check_result(
        run_id,
        "crm:counts",
        "counts",
        False,
        message="users: source 100 != destination 90",
        details={"users": {"source": 100, "destination": 90}},
    )
    store.upsert_step(
        run_id,
        "dbt",
        kind="dbt",
        status="failed",
        duration_s=3,
        message='model "orders" failed: <division by zero> & \x1b[31mmore\x1b[0m\x00',
    )
    store.upsert_step(run_id, "spark", kind="spark", status="upstream_failed", message="dbt")
    store.upsert_step(run_id, "hr", kind="sync", status="fresh", message="last sync 2h ago")
    store.upsert_step(run_id, "optional", kind="command", status="skipped")
    store.upsert_step(run_id, "export", kind="command", status="not_run")
    store.upsert_step(run_id, "hanging", kind="command", status="running")
    store.upsert_step(run_id, "queued", kind="command", status="pending")
    store.finish_run(run_id, "failed", 7, finished_at=T0 + timedelta(seconds=60), message="x")
    return store.get_run(run_id)


@pytest.fixture
def detail(store: Store) -> RunDetail:
    return _record_every_status(store)


def _cases(root: ET.Element) -> dict[str, ET.Element]:
    return {case.attrib["name"]: case for case in root.iter("testcase")}


def test_junit_is_valid_xml_with_correct_counts(detail: RunDetail) -> None:
    text = junit_xml(detail)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    expected = {
        "tests": "9",
        "failures": "2",
        "errors": "3",
        "skipped": "3",
        "time": "60.000",
    }
    for element in (root, suite):
        assert {k: element.attrib[k] for k in expected} == expected
    assert suite.attrib["name"] == "nightly"
    assert suite.attrib["hostname"] == "ci-7"
    assert suite.attrib["timestamp"] == "2024-05-01T02:00:00"
    props = {p.attrib["name"]: p.attrib["value"] for p in suite.iter("property")}
    assert props["run_id"] == detail.run.run_id
    assert props["exit_code"] == "7" and props["run_date"] == "2024-05-01"
    # Counted attributes agree with the children.
    cases = list(suite.iter("testcase"))
    assert len(cases) == 9
    assert sum(1 for c in cases if c.find("failure") is not None) == 2
    assert sum(1 for c in cases if c.find("error") is not None) == 3
    assert sum(1 for c in cases if c.find("skipped") is not None) == 3
    # <properties> must come before the testcases (JUnit schema order).
    assert next(iter(suite)).tag == "properties"


def test_junit_testcases_carry_classname_time_and_details(detail: RunDetail) -> None:
    cases = _cases(ET.fromstring(junit_xml(detail)))
    assert [c.attrib["classname"] for c in cases.values()] == ["nightly"] * 9
    crm = cases["crm"]
    assert crm.attrib["time"] == "12.250"
    assert crm.find("failure") is None and crm.find("skipped") is None
    out = crm.findtext("system-out") or ""
    assert "job_id: 101" in out and "rows: 150" in out and "owner: data-platform" in out
    assert "stream public.users: records_committed=100" in out
    assert "stream orders: records_committed=50 records_emitted=51" in out
    assert cases["dbt"].attrib["time"] == "3.000"


def test_junit_failure_messages(detail: RunDetail) -> None:
    cases = _cases(ET.fromstring(junit_xml(detail)))
    dbt = cases["dbt"].find("failure")
    assert dbt is not None
    # Markup characters survive escaping; ANSI codes and NUL (invalid in XML) do not.
    assert dbt.attrib["message"].startswith('model "orders" failed: <division by zero> & more')
    assert "\x1b" not in dbt.attrib["message"] and "\x00" not in dbt.attrib["message"]
    assert dbt.attrib["type"] == "dbt.failed"
    counts = cases["crm:counts"].find("failure")
    assert counts is not None
    assert counts.attrib["message"] == "check counts: FAILED (severity error): " + (
        "users: source 100 != destination 90"
    )
    assert "check counts: FAILED" in (cases["crm:counts"].findtext("system-out") or "")


def test_junit_skips_and_errors(detail: RunDetail) -> None:
    cases = _cases(ET.fromstring(junit_xml(detail)))

    def attr(name: str, tag: str) -> str:
        element = cases[name].find(tag)
        assert element is not None, (name, tag)
        return element.attrib["message"]

    assert attr("hr", "skipped") == "fresh: last sync 2h ago"
    assert attr("optional", "skipped") == "skipped"
    assert attr("spark", "skipped") == "upstream_failed: dbt"
    assert attr("export", "error").startswith("not_run")
    assert attr("hanging", "error").startswith("running")
    assert attr("queued", "error").startswith("pending")
    export = cases["export"].find("error")
    hanging = cases["hanging"].find("error")
    assert export is not None and hanging is not None
    assert (export.attrib["type"], hanging.attrib["type"]) == ("not_run", "incomplete")


def test_junit_for_an_unfinished_run_uses_the_step_sum() -> None:
    run = RunDetail(
        run=RunSummary(run_id="r", pipeline="p", run_date=None, status="running", started_at=T0),
        steps=(
            StepRecord("r", "a", "sync", "succeeded", duration_s=1.5),
            StepRecord(
                "r", "b", "dbt", "succeeded", started_at=T0, finished_at=T0 + timedelta(seconds=2)
            ),
        ),
    )
    root = ET.fromstring(junit_xml(run))
    assert root.attrib["time"] == "3.500" and root.attrib["tests"] == "2"
    assert _cases(root)["b"].attrib["time"] == "2.000"


def test_junit_for_a_run_without_steps() -> None:
    run = RunDetail(run=RunSummary("r", "p", None, "failed", T0))
    root = ET.fromstring(junit_xml(run))
    assert root.attrib["tests"] == "0" and list(root.iter("testcase")) == []


def test_json_report_shape(detail: RunDetail) -> None:
    report = json_report(detail)
    json.dumps(report)  # serialisable as-is, no default= needed
    assert report["report"] == JSON_REPORT_KIND == "luigi-airbyte.run-report"
    assert report["schema_version"] == JSON_SCHEMA_VERSION == 1
    assert set(report) == {"report", "schema_version", "run", "totals", "steps"}
    assert set(report["run"]) == {
        "run_id",
        "pipeline",
        "run_date",
        "status",
        "exit_code",
        "started_at",
        "finished_at",
        "duration_s",
        "host",
        "scheduler",
        "argv",
        "message",
    }
    run = report["run"]
    assert run["started_at"] == "2024-05-01T02:00:00.000000Z"
    assert (run["run_date"], run["exit_code"], run["duration_s"]) == ("2024-05-01", 7, 60.0)

    totals = report["totals"]
    assert list(totals["by_status"]) == list(STEP_STATUSES)  # every status, always present
    assert totals["steps"] == 9 and totals["by_status"]["failed"] == 2
    assert totals["rows"] == 150 and totals["records_committed"] == 150
    assert (totals["checks"], totals["checks_failed"]) == (1, 1)

    step_keys = {
        "name",
        "kind",
        "status",
        "owner",
        "started_at",
        "finished_at",
        "duration_s",
        "job_id",
        "rows",
        "message",
        "exit_code",
        "streams",
        "checks",
    }
    assert all(set(step) == step_keys for step in report["steps"])
    crm = report["steps"][0]
    assert (crm["name"], crm["duration_s"], crm["job_id"]) == ("crm", 12.25, 101)
    assert crm["streams"][0] == {
        "stream": "users",
        "namespace": "public",
        "job_id": 101,
        "records_emitted": 0,
        "records_committed": 100,
        "bytes_emitted": 0,
        "bytes_committed": 0,
        "records_rejected": 0,
    }
    check = report["steps"][1]["checks"][0]
    assert set(check) == {"check", "passed", "severity", "message", "details", "at"}
    assert check["details"] == {"users": {"source": 100, "destination": 90}}


def test_write_reports_to_files(detail: RunDetail, tmp_path: Path) -> None:
    xml_path = write_junit_xml(detail, tmp_path / "out" / "junit.xml")
    json_path = write_json_report(detail, tmp_path / "out" / "run.json")
    assert ET.parse(xml_path).getroot().attrib["tests"] == "9"
    assert json.loads(json_path.read_text(encoding="utf-8"))["run"]["run_id"] == detail.run.run_id
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["junit.xml", "run.json"]
