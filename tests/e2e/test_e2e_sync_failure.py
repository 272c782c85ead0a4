"""A sync that fails in Airbyte: exit 5, downstream not run, JUnit failure, one alert."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

from e2e.e2e_helpers import CRM, EVENTS, Project, default_steps, jobs_for

FAILURE = "Source CRM: connection refused by crm.internal:5432"


def test_failed_sync_exits_5_and_alerts_the_owner_once(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(
        faults={"jobs": {CRM: {"fail_attempts": 5, "failure_message": FAILURE}}},
        max_attempts=2,
    )
    junit = project.root / "junit.xml"

    result = project.run("--json", "--junit", str(junit))

    assert result.returncode == 5, result
    assert result.doc["exit_code"] == 5
    steps = result.steps()
    assert steps["crm"]["status"] == "failed"
    assert FAILURE in steps["crm"]["message"]
    for downstream in ("crm:counts", "users_loaded", "report"):
        assert steps[downstream]["status"] == "upstream_failed", steps[downstream]
        assert steps[downstream]["started_at"] is None
    # the independent sync is not held back by the failure
    assert steps["events"]["status"] == "succeeded"
    assert len(jobs_for(project.sandbox, EVENTS)) == 1
    crm_jobs = jobs_for(project.sandbox, CRM)
    assert crm_jobs and all(j["status"] == "failed" for j in crm_jobs)
    # Airbyte already retried the attempts; Luigi must not start a second job (no retries:).
    assert len(crm_jobs) == 1, crm_jobs
    assert steps["crm"]["job_id"] in {j["jobId"] for j in crm_jobs}

    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert len(cases) == 5
    failure = cases["crm"].find("failure")
    assert failure is not None
    assert FAILURE in (failure.get("message", "") + (failure.text or ""))
    assert cases["events"].find("failure") is None

    # Luigi retries the failed sync (a new Airbyte job); the owner hears about it once,
    # when the run ends, with the job the step ended on
    alerts = project.alert_lines()
    assert len(alerts) == 1, alerts
    (alert,) = alerts
    assert alert["owner_role"] == "data-platform"
    assert alert["step"] == "crm" and alert["title"] == "nightly/crm failed"
    assert alert["job_id"] == steps["crm"]["job_id"]
    assert f"Airbyte job {alert['job_id']}" in alert["text"]
    assert FAILURE in alert["text"]


def test_retries_on_a_sync_step_allow_exactly_that_many_new_jobs(
    make_project: Callable[..., Project],
) -> None:
    steps = default_steps()
    crm = next(s for s in steps if s.get("sync") == "crm")
    crm["retries"] = 1
    project = make_project(
        faults={"jobs": {CRM: {"fail_attempts": 5, "failure_message": FAILURE}}},
        max_attempts=2,
    )
    project.write(steps=steps)
    result = project.run("--json")
    assert result.returncode == 5, result
    # one Luigi retry after Airbyte gave up: a second job, and no third
    assert len(jobs_for(project.sandbox, CRM)) == 2
