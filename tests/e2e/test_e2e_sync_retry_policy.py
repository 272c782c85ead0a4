"""The retry policy of a sync: attach-only retries for lost attempts, none for a failed job.

A failed Airbyte job is re-run only if the step says ``retries:``; a lost attempt (its task
process died) is retried and attaches. The policy is read here as Luigi reads it
(``retry_count``) against the store a real run wrote, and ``run()``'s refusal to post is
checked against the sandbox's job count.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from e2e.e2e_helpers import (
    CRM,
    EVENTS,
    Project,
    connection_id,
    finish,
    job_posts,
    jobs_for,
    wait_for,
)
from e2e.luigid_helpers import task_process_of
from luigi_airbyte.errors import SyncFailedError
from luigi_airbyte.tasks import AirbyteSyncTask
from luigi_airbyte.tasks.context import clear_runtimes, runtime_for
from luigi_airbyte.tasks.scheduling import end_pass, start_pass
from luigi_airbyte.tasks.sync_task import ATTACH_RETRIES

FAILURE = "Source CRM: connection refused by crm.internal:5432"
DATE = dt.date(2026, 1, 15)


@pytest.fixture(autouse=True)
def _fresh_runtimes() -> Iterator[None]:
    yield
    clear_runtimes()


def _task(project: Project, run_id: str) -> AirbyteSyncTask:
    return AirbyteSyncTask(
        pipeline_file=str(project.path),
        pipeline=project.pipeline_name,
        step="crm",
        connection=CRM,
        run_date=DATE,
        run_id=run_id,
    )


def _failed_run(make_project: Callable[..., Project], **world: Any) -> tuple[Project, str]:
    project = make_project(
        faults={"jobs": {CRM: {"fail_attempts": 5, "failure_message": FAILURE}}},
        max_attempts=1,
        **world,
    )
    result = project.run("--json")
    assert result.returncode == 5, result
    assert len(jobs_for(project.sandbox, CRM)) == 1
    return project, str(result.doc["run"]["run_id"])


def test_after_a_failed_job_luigi_stops_and_run_refuses_to_post_again(
    make_project: Callable[..., Project],
) -> None:
    project, run_id = _failed_run(make_project)
    task = _task(project, run_id)
    posts = job_posts(project.sandbox)

    # Luigi would disable the task at the failure just reported...
    assert task.retry_count == 1
    # ...and an attempt that comes anyway (a lost report) fails without a new job
    with pytest.raises(SyncFailedError, match=FAILURE):
        task.run()
    assert job_posts(project.sandbox) == posts
    assert len(jobs_for(project.sandbox, CRM)) == 1
    step = runtime_for(str(project.path)).store().get_run(run_id).step("crm")
    assert step is not None and step.status == "failed" and FAILURE in (step.message or "")


def test_a_new_run_of_the_date_may_sync_again_and_an_unstarted_step_may_be_lost(
    make_project: Callable[..., Project],
) -> None:
    project, _ = _failed_run(make_project)
    store = runtime_for(str(project.path)).store()
    later = store.start_run(project.pipeline_name, DATE, argv=["test"], scheduler="local")

    task = _task(project, later)

    # the earlier run's failed job is not this run's: 1 attempt + the attach-only ones
    assert task.retry_count == 1 + ATTACH_RETRIES


def test_a_failed_attempt_gets_no_attach_retry_but_a_lost_one_does(
    make_project: Callable[..., Project],
) -> None:
    project = make_project()
    store = runtime_for(str(project.path)).store()
    run_id = store.start_run(project.pipeline_name, DATE, argv=["test"], scheduler="local")
    task = _task(project, run_id)
    store.upsert_step(run_id, "crm", kind="sync", status="running")
    assert task.retry_count == 1 + ATTACH_RETRIES  # running, or lost: attach if it dies

    store.upsert_step(run_id, "crm", kind="sync", status="failed", message="[exit 4] 503")
    assert task.retry_count == 1  # raised (no job failed): only retries: would allow more

    task.lost_attempts = 1  # its worker saw one earlier attempt die
    assert task.retry_count == 2


def test_retries_budget_counts_only_failed_jobs_of_this_run(
    make_project: Callable[..., Project],
) -> None:
    steps_file: list[dict[str, Any]] = [
        {"sync": "crm", "connection": CRM, "retries": 1},
    ]
    project = make_project(
        faults={"jobs": {CRM: {"fail_attempts": 5, "failure_message": FAILURE}}},
        max_attempts=1,
    )
    project.write(steps_file)
    result = project.run("--json", "--workers", "2")
    assert result.returncode == 5, result
    assert len(jobs_for(project.sandbox, CRM)) == 2  # 1 + retries: 1, not more
    assert _task(project, str(result.doc["run"]["run_id"])).retry_count == 1


@pytest.mark.slow
def test_task_process_killed_then_its_job_fails_ends_with_the_failure_and_one_job(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(
        faults={"jobs": {CRM: {"fail_attempts": 5, "failure_message": FAILURE}}},
        max_attempts=1,
        slow={CRM: 6},
    )
    run = project.start("--workers", "4", "--json")
    try:
        job = wait_for(
            lambda: [j for j in jobs_for(project.sandbox, CRM) if j["status"] == "running"],
            timeout=60,
            what="the crm job to run",
        )[0]
        wait_for(
            lambda: [j for j in jobs_for(project.sandbox, EVENTS) if j["status"] == "succeeded"],
            timeout=60,
            what="the events job",
        )

        crm_id = connection_id(project.sandbox, CRM)
        child = wait_for(
            lambda: task_process_of(run.pid, project.state_dir, crm_id),
            timeout=30,
            what="the process running the crm sync",
        )
        os.kill(child.pid, signal.SIGKILL)
    finally:
        result = finish(run)

    assert result.returncode == 5, result
    crm_jobs = jobs_for(project.sandbox, CRM)
    assert [j["jobId"] for j in crm_jobs] == [job["jobId"]]
    assert crm_jobs[0]["status"] == "failed"
    crm = result.steps()["crm"]
    assert crm["status"] == "failed" and FAILURE in crm["message"], crm


def _interrupted_while_its_job_runs(project: Project, workers: str) -> int:
    """A run of the crm step, Ctrl-C'd while its job runs (left running: detach); the
    job's id."""
    project.write([{"sync": "crm", "connection": CRM}])
    first = project.start("--workers", workers)
    job_id = wait_for(
        lambda: [j for j in jobs_for(project.sandbox, CRM) if j["status"] == "running"],
        timeout=60,
        what="the crm job to run",
    )[0]["jobId"]
    os.killpg(first.pid, signal.SIGINT)
    interrupted = finish(first)
    assert interrupted.returncode == 130, interrupted
    return int(job_id)


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_job_taken_over_from_an_interrupted_run_is_this_runs_one_attempt(
    make_project: Callable[..., Project], workers: str
) -> None:
    """Ctrl-C leaves the job running; the next run attaches to it. When that job then
    fails (here the step's ``timeout:`` cancels it), the run has used its one attempt:
    with no ``retries:`` it posts no second job (it did, as the job was created before
    the run started)."""
    project = make_project(faults={"jobs": {CRM: {"never_finish": True}}})
    job_id = _interrupted_while_its_job_runs(project, workers)
    project.write([{"sync": "crm", "connection": CRM, "timeout": "2s"}])

    second = project.run("--json", "--workers", workers)

    assert second.returncode == 5, second
    jobs = jobs_for(project.sandbox, CRM)
    assert [(j["jobId"], j["status"]) for j in jobs] == [(job_id, "cancelled")], second
    assert second.steps()["crm"]["job_id"] == job_id


@pytest.mark.slow
def test_a_taken_over_job_stays_an_attempt_after_the_next_one_is_posted(
    make_project: Callable[..., Project],
) -> None:
    """``retries: 1``: the taken-over job and one new job. The step row names only its
    latest job, so once job 2 was posted the taken-over job 1 dropped out of the count and
    a third job was posted when job 2 failed too."""
    project = make_project(faults={"jobs": {CRM: {"never_finish": True}}})
    job_id = _interrupted_while_its_job_runs(project, "1")
    project.write([{"sync": "crm", "connection": CRM, "timeout": "2s", "retries": 1}])

    second = project.run("--json")

    assert second.returncode == 5, second
    jobs = jobs_for(project.sandbox, CRM)
    assert jobs[0]["jobId"] == job_id
    assert [j["status"] for j in jobs] == ["cancelled", "cancelled"], (jobs, second)


@pytest.mark.slow
def test_after_an_interrupted_run_whose_job_then_failed_the_next_run_posts_one_job(
    make_project: Callable[..., Project],
) -> None:
    """Ctrl-C detaches from the job and leaves its ledger row open; the job then fails
    while no run watches it. The next run finds it there, already ended: that failure is
    the earlier run's, so this run posts its one job at once, with no failed attempt of
    its own (it reported job 1's failure and stopped, or posted only on Luigi's retry).
    A run killed outright is settled by the next run's reaper before its steps start
    (``test_e2e_lifecycle.py``)."""
    project = make_project(faults={"jobs": {CRM: {"never_finish": True}}})
    job_id = _interrupted_while_its_job_runs(project, "1")
    project.sandbox.engine.cancel_job(job_id)  # ended while no run watched it
    project.sandbox.set_faults(engine={"jobs": {}})

    second = project.run("--json")

    assert second.returncode == 0, second
    jobs = jobs_for(project.sandbox, CRM)
    assert [j["status"] for j in jobs] == ["cancelled", "succeeded"], jobs
    assert second.steps()["crm"]["job_id"] == jobs[1]["jobId"]
    assert "crm: failed" not in second.stderr, second.stderr[-3000:]
    assert f"job {job_id}: started by an earlier run" in second.stderr, second.stderr[-3000:]


def test_while_luigi_schedules_the_policy_comes_from_one_read_of_the_run(
    make_project: Callable[..., Project],
) -> None:
    """Luigi asks every task for its policy while it adds the graph: three queries per
    task cost seconds of start-up at N = 1,000. Within a pass the run is read once, and
    the answer is the one the task gets on its own."""
    project, run_id = _failed_run(make_project)
    tasks = [_task(project, run_id) for _ in range(20)]
    alone = tasks[0].retry_count
    engine = runtime_for(str(project.path)).store().engine
    selects: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        start_pass()
        try:
            answers = {task.retry_count for task in tasks}
        finally:
            end_pass()
        in_pass = len(selects)
        _ = [task.retry_count for task in tasks]
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert answers == {alone} == {1}
    assert in_pass <= 2  # the run's jobs and its steps' statuses
    assert len(selects) - in_pass >= 2 * len(tasks)  # outside a pass each task reads
