"""Ctrl-C during a sync: exit 130, the Airbyte job keeps running, the re-run attaches."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import psutil
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


@pytest.mark.slow
def test_ctrl_c_with_workers_stops_the_slots_quietly_and_the_next_run_attaches(
    make_project: Callable[..., Project],
) -> None:
    """A terminal's Ctrl-C reaches the whole process group: the run and its warm slots
    (``tasks/warm_slots.py``). The sync's slot detaches from the job; the idle ones and
    the run exit without a traceback each."""
    project = make_project(slow={CRM: 8})

    first = project.start("--workers", "2")
    running = wait_for(
        lambda: [j for j in jobs_for(project.sandbox, CRM) if j["status"] == "running"],
        timeout=60,
        what="the crm job to run",
    )
    slots = psutil.Process(first.pid).children()
    assert slots, "no task process to interrupt"
    os.killpg(first.pid, signal.SIGINT)  # the run is its session's (and group's) leader
    result = finish(first)
    assert result.returncode == 130, result
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    job_id = running[0]["jobId"]
    assert project.sandbox.engine.get_job(job_id)["status"] in ("running", "succeeded")
    assert not [p.pid for p in slots if _alive(p)], "a slot outlived its run"

    second = project.run("--json")

    assert second.returncode == 0, second
    assert [j["jobId"] for j in jobs_for(project.sandbox, CRM)] == [job_id]


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
