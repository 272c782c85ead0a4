"""Ctrl-C during a sync: exit 130, the Airbyte job keeps running, the re-run attaches."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

from e2e.e2e_helpers import CRM, Project, finish, jobs_for, wait_for


@pytest.mark.slow
def test_ctrl_c_detaches_and_the_next_run_attaches(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(slow={CRM: 8})

    first = project.start()
    running = wait_for(
        lambda: [j for j in jobs_for(project.sandbox, CRM) if j["status"] == "running"],
        timeout=60,
        what="the crm job to run",
    )
    first.send_signal(signal.SIGINT)  # what Ctrl-C sends to the foreground process
    result = finish(first)
    assert result.returncode == 130, result
    assert "run the same date again to attach" in result.stderr
    job_id = running[0]["jobId"]
    # detach (the default): the job was not cancelled
    assert project.sandbox.engine.get_job(job_id)["status"] in ("running", "succeeded")

    second = project.run("--json")

    assert second.returncode == 0, second
    assert [j["jobId"] for j in jobs_for(project.sandbox, CRM)] == [job_id]
    assert second.steps()["crm"]["job_id"] == job_id
