"""A failed sync's alert carries what a tired person needs to act, in a JSON-lines route.

Connection name and id, a link to the Airbyte job, Airbyte's failure reason, the
downstream steps it blocked, and the one command that recovers, which must be true:
running it starts a new job for the failed sync, skips the finished one, and succeeds
once the fault is gone.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable

from e2e.e2e_helpers import CRM, EVENTS, Project, connection_id, jobs_for

FAILURE = "Source CRM: connection refused by crm.internal:5432"


def test_failed_sync_alert_names_connection_job_reason_blocked_steps_and_recovery(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(
        faults={"jobs": {CRM: {"fail_attempts": 5, "failure_message": FAILURE}}},
        max_attempts=2,
    )

    result = project.run("--json")

    assert result.returncode == 5, result
    steps = result.steps()
    (alert,) = project.alert_lines()
    crm_id = connection_id(project.sandbox, CRM)
    failed_job = steps["crm"]["job_id"]
    assert alert["connection"] == CRM
    assert alert["connection_id"] == crm_id
    assert alert["job_id"] == failed_job
    assert FAILURE in alert["airbyte_message"]
    assert alert["blocked"] == ["crm:counts", "users_loaded", "report"]
    job_link = alert["links"]["Airbyte job"]
    assert crm_id in job_link and job_link.endswith(f"#{failed_job}::0"), job_link
    command = f"luigi-airbyte run {project.path} -p nightly --date 2026-01-15"
    assert alert["command"] == command
    assert f"`{command}` re-runs the failed sync" in alert["next_step"]
    assert "attach" not in alert["text"]
    for needle in (f"{CRM} ({crm_id})", FAILURE, "crm:counts, users_loaded, report", command):
        assert needle in alert["text"], alert["text"]
    assert job_link in alert["text"]

    # The command is true: once the source is fixed, the failed sync gets a new job and
    # the finished one is skipped.
    project.sandbox.set_faults(engine={"jobs": {}})
    events_jobs = len(jobs_for(project.sandbox, EVENTS))
    argv = shlex.split(alert["command"])
    assert argv[0] == "luigi-airbyte"
    rerun = project.cli(*argv[1:], "--json")
    assert rerun.returncode == 0, rerun.stderr
    statuses = {s["name"]: s["status"] for s in rerun.doc["steps"]}
    assert statuses["crm"] == "succeeded" and statuses["report"] == "succeeded"
    assert statuses["events"] in ("skipped", "fresh"), statuses
    assert len(jobs_for(project.sandbox, EVENTS)) == events_jobs
    assert len(jobs_for(project.sandbox, CRM)) == 2
