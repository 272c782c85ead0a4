"""A sync step with ``freshness`` is skipped when Airbyte synced the connection recently."""

from __future__ import annotations

from collections.abc import Callable

from e2e.e2e_helpers import CRM, EVENTS, Project, connection_id, job_posts, jobs_for, wait_for


def test_recent_success_in_airbyte_skips_the_sync_as_fresh(
    make_project: Callable[..., Project],
) -> None:
    project = make_project()
    sandbox = project.sandbox
    # a sync that happened outside luigi-airbyte (Airbyte's own schedule, say)
    job = sandbox.engine.create_job(connection_id(sandbox, CRM), "sync")
    wait_for(
        lambda: sandbox.engine.get_job(job["jobId"])["status"] == "succeeded",
        what="the direct job to succeed",
    )
    steps = [
        {"sync": "crm", "connection": CRM, "freshness": "6h"},
        {"sync": "events", "connection": EVENTS, "freshness": "6h"},
    ]
    project.write(steps)

    result = project.run("--json")

    assert result.returncode == 0, result
    got = result.steps()
    assert got["crm"]["status"] == "fresh", got["crm"]
    assert "window 6h" in got["crm"]["message"]
    assert len(jobs_for(sandbox, CRM)) == 1
    # the other connection was never synced, so it is not fresh
    assert got["events"]["status"] == "succeeded"
    assert job_posts(sandbox) == 1
