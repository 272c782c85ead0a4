"""A dead worker is recovered inside the run (issue 7, item 4).

A sync's task process SIGKILLed mid-sync, on luigid and on the local scheduler, and a whole
run killed while a second run of the same pipeline and date waits on the same luigid: the
Airbyte job keeps running, the next attempt attaches to it, and the run ends with the
job's true outcome. Jobs are counted per connection in the sandbox.

luigid runs with the ``[scheduler]``/``[resources]`` block of docs/luigi.md, read from the
doc itself, with the two delays shortened so the tests take seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from e2e.e2e_helpers import CRM, EVENTS, Project, connection_id, finish, jobs_for, wait_for
from e2e.luigid_helpers import (
    FAST,
    documented_luigid_config,
    running_luigid,
    task_process_of,
)


def test_docs_give_the_luigid_settings_recovery_relies_on() -> None:
    cfg = documented_luigid_config()
    scheduler = cfg["scheduler"]
    assert scheduler.getboolean("prune_on_get_work") is True
    assert 0 < scheduler.getfloat("worker_disconnect_delay") <= 60
    assert 0 <= scheduler.getfloat("retry_delay") <= 60
    assert scheduler.getint("retry_count") == 1
    assert cfg["resources"].getint("airbyte") >= 2


@pytest.fixture(scope="module")
def luigid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """luigid with the documented settings, delays shortened (``FAST``)."""
    with running_luigid(tmp_path_factory.mktemp("luigid"), FAST) as url:
        yield url


def _rpc(url: str, method: str, **kwargs: Any) -> Any:
    reply = httpx.post(f"{url}/api/{method}", data={"data": json.dumps(kwargs)}, timeout=10)
    reply.raise_for_status()
    return reply.json()["response"]


def _running_crm_job(project: Project) -> dict[str, Any] | None:
    running = [j for j in jobs_for(project.sandbox, CRM) if j["status"] == "running"]
    return running[0] if running else None


def _kill_the_crm_task_process(project: Project, run: subprocess.Popen[str]) -> tuple[int, float]:
    """SIGKILL the task process waiting on the crm job; return that job's id and when."""
    job = wait_for(lambda: _running_crm_job(project), timeout=60, what="the crm job to run")
    # events is fast: wait until its task process is gone and only crm's is left
    wait_for(
        lambda: (
            jobs_for(project.sandbox, EVENTS)
            and jobs_for(project.sandbox, EVENTS)[0]["status"] == "succeeded"
        ),
        timeout=60,
        what="the events job to finish",
    )
    crm_id = connection_id(project.sandbox, CRM)
    child = wait_for(
        lambda: task_process_of(run.pid, project.state_dir, crm_id),
        timeout=30,
        what="the process running the crm sync",
    )
    assert _running_crm_job(project) is not None, "killed too late: the crm job ended"
    child.send_signal(signal.SIGKILL)
    killed_at = time.time()
    child.wait(timeout=10)
    assert run.poll() is None, "the run died with its task process"
    return int(job["jobId"]), killed_at


POLL = 1.0  # the project's poll interval
SLACK = 8.0  # Luigi's own loop, a fork, a loaded CI machine


def _reattached_after(project: Project, job_id: int, killed_at: float) -> float:
    """Seconds from the kill to the next attempt's first look at the job."""
    gets = [
        e["time"]
        for e in project.sandbox.requests(f"*/jobs/{job_id}", method="GET")
        if e["time"] > killed_at
    ]
    assert gets, "nobody looked at the job after the kill"
    return float(min(gets) - killed_at)


def _assert_recovered(project: Project, result: Any, job_id: int) -> None:
    assert result.returncode == 0, result
    jobs = jobs_for(project.sandbox, CRM)
    assert [j["jobId"] for j in jobs] == [job_id], "a second crm job was started"
    assert jobs[0]["status"] == "succeeded"
    assert len(jobs_for(project.sandbox, EVENTS)) == 1
    steps = result.steps()
    assert steps["crm"]["status"] == "succeeded", steps["crm"]
    assert steps["crm"]["job_id"] == job_id
    assert f"job {job_id} (" in steps["crm"]["message"], steps["crm"]
    # events may have been synced by the killed run (then it is skipped here): once either way
    assert {s["status"] for s in steps.values()} <= {"succeeded", "skipped"}, steps


@pytest.mark.slow
@pytest.mark.luigid
def test_luigid_task_process_killed_mid_sync_is_recovered_in_the_same_run(
    luigid: str, make_project: Callable[..., Project]
) -> None:
    project = make_project(slow={CRM: 10})

    run = project.start("--scheduler-url", luigid, "--workers", "4", "--json", date="2026-03-01")
    try:
        job_id, killed_at = _kill_the_crm_task_process(project, run)
    finally:
        result = finish(run)

    _assert_recovered(project, result, job_id)
    # the worker sees its task process die at once; luigid re-queues after retry_delay
    assert _reattached_after(project, job_id, killed_at) < float(FAST["retry_delay"]) + POLL + SLACK


@pytest.mark.slow
@pytest.mark.luigid
def test_second_run_on_luigid_attaches_when_the_first_is_killed_whole(
    luigid: str, make_project: Callable[..., Project]
) -> None:
    project = make_project(slow={CRM: 12})
    args = ("--scheduler-url", luigid, "--json")
    date = "2026-03-02"

    first = project.start(*args, date=date)
    second = None
    try:
        job = wait_for(lambda: _running_crm_job(project), timeout=60, what="the crm job")
        second = project.start(*args, date=date)

        def crm_task_shared() -> bool:
            tasks = _rpc(luigid, "task_list", status="RUNNING", upstream_status="", search="")
            crm = [t for t in tasks.values() if t["params"].get("step") == "crm"]
            return bool(crm) and len(crm[0]["workers"]) == 2

        wait_for(crm_task_shared, timeout=60, what="the second run to schedule the crm sync")
        assert _running_crm_job(project) is not None, "killed too late: the crm job ended"
        os.killpg(first.pid, signal.SIGKILL)
        killed_at = time.time()
        finish(first)
        assert first.returncode == -signal.SIGKILL
        result = finish(second)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(first.pid, signal.SIGKILL)
        if second is not None and second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)

    _assert_recovered(project, result, int(job["jobId"]))
    # attached within luigid's disconnect delay (+ retry_delay) plus one poll, not after
    # luigid's 60 s prune
    delays = float(FAST["worker_disconnect_delay"]) + float(FAST["retry_delay"])
    assert _reattached_after(project, int(job["jobId"]), killed_at) < delays + POLL + SLACK


@pytest.mark.slow
def test_local_scheduler_task_process_killed_mid_sync_is_recovered_in_the_same_run(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(slow={CRM: 10})

    run = project.start("--workers", "4", "--json")
    try:
        job_id, killed_at = _kill_the_crm_task_process(project, run)
    finally:
        result = finish(run)

    _assert_recovered(project, result, job_id)
    # the local scheduler re-queues after WorkerOptions.retry_delay (1 s)
    assert _reattached_after(project, job_id, killed_at) < 1.0 + POLL + SLACK
