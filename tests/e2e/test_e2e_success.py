"""A successful run through the real entry point: exit 0, JSON and JUnit reports, events."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from e2e.e2e_helpers import CRM, EVENTS, Project, job_posts, jobs_for


def test_successful_run_reports_every_step(project: Project) -> None:
    junit = project.root / "out" / "junit.xml"

    result = project.run("--json", "--junit", str(junit))

    assert result.returncode == 0, result
    doc = result.doc
    assert doc["exit_code"] == 0
    assert doc["run"]["status"] == "succeeded"
    assert doc["run"]["pipeline"] == "nightly"
    assert doc["run"]["run_date"] == "2026-01-15"
    steps = result.steps()
    # the implicit counts check of the crm step is a step of its own
    assert set(steps) == {"crm", "crm:counts", "events", "users_loaded", "report"}
    assert {s["status"] for s in steps.values()} == {"succeeded"}
    assert doc["totals"]["by_status"]["succeeded"] == 5

    crm_jobs, events_jobs = jobs_for(project.sandbox, CRM), jobs_for(project.sandbox, EVENTS)
    assert len(crm_jobs) == len(events_jobs) == 1
    assert steps["crm"]["job_id"] == crm_jobs[0]["jobId"]
    assert steps["events"]["job_id"] == events_jobs[0]["jobId"]
    assert job_posts(project.sandbox) == 2

    # per-stream counts add up to the step's rows and match what reached the warehouse
    crm = steps["crm"]
    per_stream = {s["stream"]: s["records_committed"] for s in crm["streams"]}
    assert set(per_stream) == {"users", "orders"}
    assert crm["rows"] == sum(per_stream.values()) > 0
    assert all(s["job_id"] == crm["job_id"] for s in crm["streams"])
    landed = project.sandbox.destination_counts(crm_jobs[0]["connectionId"])
    assert {k.removeprefix("crm_"): v for k, v in landed.items()} == per_stream
    events_streams = steps["events"]["streams"]
    assert steps["events"]["rows"] == sum(s["records_committed"] for s in events_streams) > 0
    # counts against the warehouse, records lost on the final attempt, and duplicate keys
    # for orders (incremental_append with a primary key; users is deduped by Airbyte)
    assert {c["check"] for c in steps["crm:counts"]["checks"]} == {
        "counts:users",
        "counts:orders",
        "lost:users",
        "lost:orders",
        "duplicates:orders",
    }
    assert all(c["passed"] for c in steps["crm:counts"]["checks"])

    tree = ET.parse(junit)
    suite = tree.getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == 5 == int(suite.get("tests", "0"))
    assert {c.get("name") for c in cases} == set(steps)
    assert suite.get("failures") == "0" and suite.get("errors") == "0"
    assert not any(c.find("failure") is not None for c in cases)

    events_file = project.state_dir / "events.jsonl"
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line]
    names = {e["event"] for e in events}
    assert {"step.started", "step.succeeded", "sync.job"} <= names, sorted(names)
    assert {e["run_id"] for e in events if "run_id" in e} == {doc["run"]["run_id"]}
    assert project.alert_lines() == []
