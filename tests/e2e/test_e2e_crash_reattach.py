"""A run killed with SIGKILL mid-sync: the next run for the date re-attaches to the job."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

from e2e.e2e_helpers import CRM, EVENTS, Project, finish, job_posts, jobs_for, wait_for


@pytest.mark.slow
def test_rerun_after_sigkill_attaches_to_the_running_job(
    make_project: Callable[..., Project],
) -> None:
    # the whole pipeline: the re-run's preflight opens the warehouse the orphaned job is
    # still loading, and the SQL check reads it once the job is done
    project = make_project(slow={CRM: 8})

    first = project.start()
    try:
        running = wait_for(
            lambda: [j for j in jobs_for(project.sandbox, CRM) if j["status"] == "running"],
            timeout=60,
            what="the crm job to run",
        )
    finally:
        os.killpg(first.pid, signal.SIGKILL)
    finish(first)
    assert first.returncode == -signal.SIGKILL
    job_id = running[0]["jobId"]
    assert project.sandbox.engine.get_job(job_id)["status"] == "running", "killed too late"

    second = project.run("--json")

    assert second.returncode == 0, second
    jobs = jobs_for(project.sandbox, CRM)
    assert [j["jobId"] for j in jobs] == [job_id], "the re-run started a second sync"
    assert jobs[0]["status"] == "succeeded"
    assert len(jobs_for(project.sandbox, EVENTS)) == 1
    assert job_posts(project.sandbox) == 2
    steps = second.steps()
    assert steps["crm"]["status"] == steps["crm:counts"]["status"] == "succeeded", steps
    # events may have finished before the kill (then it is skipped now): synced once either way
    assert {s["status"] for s in steps.values()} <= {"succeeded", "skipped"}, steps
    crm = steps["crm"]
    assert crm["job_id"] == job_id
    assert (
        f"job {job_id} (ledger)" in crm["message"] or f"job {job_id} (running)" in crm["message"]
    ), crm
