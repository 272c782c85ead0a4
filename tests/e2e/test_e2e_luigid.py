"""Runs on a real central scheduler: ``luigid`` started by the module, shared by its tests.

luigid keys tasks by id, and a pipeline's task ids are (pipeline, step, date): every test
uses its own date so one test's DONE tasks never satisfy another's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from e2e.e2e_helpers import (
    CRM,
    EVENTS,
    Project,
    RunResult,
    finish,
    job_posts,
    jobs_for,
    wait_for,
)
from e2e.luigid_helpers import FAST, running_luigid
from pg_server import PostgresServer

pytestmark = [pytest.mark.luigid, pytest.mark.slow]


@pytest.fixture(scope="module")
def luigid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A luigid on a free loopback port, with the settings of docs/luigi.md; yields its URL."""
    with running_luigid(tmp_path_factory.mktemp("luigid"), FAST) as url:
        yield url


def _rpc(luigid: str, method: str, **kwargs: Any) -> Any:
    reply = httpx.post(f"{luigid}/api/{method}", data={"data": json.dumps(kwargs)}, timeout=10)
    reply.raise_for_status()
    return reply.json()["response"]


def test_run_on_luigid_with_two_workers(luigid: str, make_project: Callable[..., Project]) -> None:
    project = make_project()

    result = project.run("--scheduler-url", luigid, "--workers", "2", "--json", date="2026-02-01")

    assert result.returncode == 0, result
    assert result.doc["run"]["scheduler"] == luigid
    assert {s["status"] for s in result.steps().values()} == {"succeeded"}
    assert len(jobs_for(project.sandbox, CRM)) == len(jobs_for(project.sandbox, EVENTS)) == 1
    assert job_posts(project.sandbox) == 2


def test_two_runs_at_once_sync_each_connection_once(
    luigid: str, make_project: Callable[..., Project]
) -> None:
    project = make_project(job_seconds=4)
    args = ("--scheduler-url", luigid, "--json")

    procs = [project.start(*args, date="2026-02-02") for _ in range(2)]
    results = [finish(p) for p in procs]

    _each_step_ran_once(project, results)


def _each_step_ran_once(project: Project, results: list[RunResult]) -> None:
    """Both runs succeeded, each connection got one job, and each step ran in exactly one
    of the two processes (the other saw it done)."""
    for result in results:
        assert result.returncode == 0, result
    assert len(jobs_for(project.sandbox, CRM)) == 1
    assert len(jobs_for(project.sandbox, EVENTS)) == 1
    assert job_posts(project.sandbox) == 2
    first, second = (r.steps() for r in results)
    assert set(first) == set(second) == {"crm", "crm:counts", "events", "users_loaded", "report"}
    for step in first:
        statuses = sorted([first[step]["status"], second[step]["status"]])
        assert statuses == ["skipped", "succeeded"], (step, statuses)


@pytest.mark.postgres
def test_two_hosts_on_luigid_and_a_shared_postgres_store_sync_each_connection_once(
    luigid: str, make_project: Callable[..., Project], pg_server: PostgresServer
) -> None:
    """Issue 10's deployment once it outgrew one machine: two run processes (two hosts),
    two workers each (warm slots), one luigid and one PostgreSQL store."""
    project = make_project(job_seconds=3)
    doc = json.loads(project.path.read_text(encoding="utf-8"))
    doc["store"] = {"url": pg_server.create_database("hosts")}
    project.path.write_text(json.dumps(doc), encoding="utf-8")
    args = ("--scheduler-url", luigid, "--workers", "2", "--json")

    procs = [project.start(*args, date="2026-02-04") for _ in range(2)]
    results = [finish(p) for p in procs]

    _each_step_ran_once(project, results)
    history = project.cli("history", "--json", "-f", str(project.path))
    assert history.returncode == 0, history.stderr
    stored = {r["run_id"]: r["status"] for r in history.doc["runs"]}
    assert stored == {r.doc["run"]["run_id"]: "succeeded" for r in results}
    assert not list(project.state_dir.glob("*.db"))  # nothing went to a SQLite file


def test_tracking_url_and_status_are_visible_in_luigid(
    luigid: str, make_project: Callable[..., Project]
) -> None:
    project = make_project(job_seconds=4)
    project.write([{"sync": "crm", "connection": CRM}])

    proc = project.start("--scheduler-url", luigid, date="2026-02-03")
    try:
        job = wait_for(lambda: jobs_for(project.sandbox, CRM), timeout=60, what="the crm job")[0]

        def running_sync() -> tuple[str, dict[str, Any]] | None:
            tasks = _rpc(luigid, "task_list", status="RUNNING", upstream_status="", search="")
            for task_id, task in tasks.items():
                if task["name"] == "AirbyteSyncTask" and task.get("status_message"):
                    return task_id, dict(task)
            return None

        task_id, task = wait_for(running_sync, timeout=60, what="a running AirbyteSyncTask")
    finally:
        result = finish(proc)
    assert task["status_message"].startswith(f"job {job['jobId']} "), task
    assert f"#{job['jobId']}::0" in task["tracking_url"], task
    assert f"/connections/{job['connectionId']}/" in task["tracking_url"]
    assert task["params"]["step"] == "crm"
    # luigi clears `resources` when a tracking URL is set; what is held is resources_running
    assert task["resources_running"] == {"airbyte": 1}
    assert result.returncode == 0, result
    # The task's messages go to luigid off its path (``tasks/luigid_outbox.py``), and all
    # of them arrive before it is reported done: its last status, 100 %, and still DONE.
    sync = _rpc(luigid, "task_list", status="DONE", upstream_status="", search="")[task_id]
    assert sync["status_message"].startswith(f"job {job['jobId']} succeeded"), sync
    assert sync["progress_percentage"] == 100
    assert f"#{job['jobId']}::0" in sync["tracking_url"]
    running = _rpc(luigid, "task_list", status="RUNNING", upstream_status="", search="")
    assert task_id not in running


def test_the_run_after_a_failed_sync_runs_it_again(
    luigid: str, make_project: Callable[..., Project]
) -> None:
    """luigid disables a task whose failures reach its policy (a failed job: 1) for a day,
    and our tasks keep their ids across runs: the re-run the recap prints must re-enable
    its steps, not end with "not run (still_pending_not_ext)" and exit 1."""
    project = make_project(
        faults={"jobs": {CRM: {"fail_attempts": 5, "failure_message": "disk full"}}},
        max_attempts=1,
    )
    args = ("--scheduler-url", luigid, "--workers", "2", "--json")
    failed = project.run(*args, date="2026-02-05")
    assert failed.returncode == 5, failed
    assert _rpc(luigid, "task_list", status="DISABLED", upstream_status="")  # as luigid does

    project.sandbox.set_faults(engine={"jobs": {}})
    again = project.run(*args, date="2026-02-05")

    assert again.returncode == 0, again
    assert again.steps()["crm"]["status"] == "succeeded"
    assert [j["status"] for j in jobs_for(project.sandbox, CRM)] == ["failed", "succeeded"]
    assert "re-enabled for this run" in again.stderr, again.stderr
