"""Records lost or duplicated inside Airbyte fail the counts check before anything
downstream reads them (issue 8, item 3), end to end through ``luigi-airbyte run``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from e2e.e2e_helpers import CRM, Project, default_steps, job_posts, jobs_for


def _failed_checks(result: Any, step: str) -> dict[str, dict[str, Any]]:
    return {c["check"]: c for c in result.steps()[step]["checks"] if not c["passed"]}


def test_lost_records_fail_the_counts_check_and_block_downstream(
    make_project: Callable[..., Project],
) -> None:
    # The destination loses a tenth of what the source emitted, and says succeeded.
    project = make_project(faults={"jobs": {CRM: {"commit_shortfall": 0.1}}})

    result = project.run("--json")

    assert result.returncode == 6, result
    got = result.steps()
    assert got["crm"]["status"] == "succeeded"
    assert got["crm:counts"]["status"] == "failed"
    failed = _failed_checks(result, "crm:counts")
    lost = failed["lost:orders"]["details"]
    # both numbers recorded
    assert lost["committed"] < lost["expected"] == lost["emitted"]
    assert lost["lost"] == lost["expected"] - lost["committed"] > 0
    assert got["users_loaded"]["status"] == got["report"]["status"] == "upstream_failed"
    assert job_posts(project.sandbox) == 2
    alerts = project.alert_lines()
    assert len(alerts) == 1 and alerts[0]["step"] == "crm:counts", alerts


def test_on_lost_records_warn_opts_out(make_project: Callable[..., Project]) -> None:
    project = make_project(faults={"jobs": {CRM: {"commit_shortfall": 0.1}}})
    steps = default_steps()
    steps[0]["counts"] = {"warehouse": "main", "on_lost_records": "warn"}
    project.write(steps)

    result = project.run("--json")

    assert result.returncode == 0, result
    checks = {c["check"]: c for c in result.steps()["crm:counts"]["checks"]}
    assert checks["lost:orders"]["passed"] is False
    assert checks["lost:orders"]["severity"] == "warning"
    assert result.steps()["report"]["status"] == "succeeded"


def test_duplicates_on_retry_in_an_append_mode_fail_the_counts_check(
    make_project: Callable[..., Project],
) -> None:
    # Attempt 0 fails without checkpointing; attempt 1 re-sends its rows (orders is
    # incremental_append with primary key id).
    project = make_project(
        faults={"jobs": {CRM: {"fail_attempts": 1, "duplicate_on_retry": True}}},
        attempt_backoff_seconds=0,
    )

    result = project.run("--json")

    assert result.returncode == 6, result
    failed = _failed_checks(result, "crm:counts")
    assert "duplicates:orders" in failed, failed
    assert failed["duplicates:orders"]["details"]["duplicates"] > 0
    # users is deduplicated by Airbyte: duplicate keys there are not an error
    assert "duplicates:users" not in failed
    assert result.steps()["report"]["status"] == "upstream_failed"
    assert len(jobs_for(project.sandbox, CRM)) == 1


def test_a_clean_retried_run_raises_no_false_alarm(make_project: Callable[..., Project]) -> None:
    project = make_project(faults={"jobs": {CRM: {"fail_attempts": 1}}}, attempt_backoff_seconds=0)

    result = project.run("--json")

    assert result.returncode == 0, result
    checks = result.steps()["crm:counts"]["checks"]
    assert checks and all(c["passed"] for c in checks), checks
    assert {c["check"] for c in checks} >= {"lost:orders", "duplicates:orders", "counts:orders"}


@pytest.mark.parametrize("form", ["/api/v1", "/api"])
def test_both_config_api_url_forms_work_end_to_end(
    make_project: Callable[..., Project], form: str
) -> None:
    project = make_project()
    project.write()
    doc = json.loads(project.path.read_text(encoding="utf-8"))
    doc["airbyte"]["config_api_url"] = project.sandbox.base_url + form
    project.path.write_text(json.dumps(doc), encoding="utf-8")

    result = project.run("--json")

    assert result.returncode == 0, result
    checks = {c["check"]: c for c in result.steps()["crm:counts"]["checks"]}
    # per-stream counts came from the config API: the counts check ran, not skipped
    assert checks["counts:orders"]["passed"] and checks["lost:orders"]["passed"]
    paths = [r["path"] for r in project.sandbox.requests() if "/jobs/get" in r["path"]]
    assert paths and all(p.startswith("/api/v1/jobs/") for p in paths), paths
