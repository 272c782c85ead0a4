"""A dead worker is recovered inside the run (issue 7, item 4).

A sync's task process SIGKILLed mid-sync, on luigid and on the local scheduler, and a whole
run killed while a second run of the same pipeline and date waits on the same luigid: the
Airbyte job keeps running, the next attempt attaches to it, and the run ends with the
job's true outcome. Jobs are counted per connection in the sandbox.

luigid runs with the ``[scheduler]``/``[resources]`` block of docs/luigi.md, read from the
doc itself, with the two delays shortened so the tests take seconds.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from e2e.e2e_helpers import (
    CRM,
    EVENTS,
    VENV_BIN,
    Project,
    clean_env,
    finish,
    free_port,
    jobs_for,
    wait_for,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "luigi.md"
FAST = {"worker_disconnect_delay": "3", "retry_delay": "1"}


def documented_luigid_config() -> configparser.ConfigParser:
    """The ready-to-copy luigi.cfg block of docs/luigi.md."""
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"<!-- luigid-settings:[^>]*-->\s*```ini\n(.*?)```", text, re.S)
    assert match, "docs/luigi.md lost its luigid-settings block"
    cfg = configparser.ConfigParser(inline_comment_prefixes=("#",))
    cfg.read_string(match.group(1))
    return cfg


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
    """luigid on a free loopback port with the documented settings (delays shortened)."""
    home = tmp_path_factory.mktemp("luigid")
    cfg = documented_luigid_config()
    for key, value in FAST.items():
        assert cfg.has_option("scheduler", key), f"docs/luigi.md does not set {key}"
        cfg["scheduler"][key] = value
    with (home / "luigi.cfg").open("w", encoding="utf-8") as fh:
        cfg.write(fh)
    port = free_port()
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "luigid"),
            "--address",
            "127.0.0.1",
            "--port",
            str(port),
            "--state-path",
            str(home / "state.pickle"),
            "--logdir",
            str(home),
        ],
        cwd=home,
        env=clean_env(LUIGI_CONFIG_PATH=str(home / "luigi.cfg")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert proc.poll() is None, f"luigid exited with {proc.returncode}"
        try:
            return httpx.head(f"{url}/", timeout=1).status_code == 204
        except httpx.TransportError:
            return False

    try:
        wait_for(answers, timeout=30, what="luigid to answer HEAD /")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _rpc(url: str, method: str, **kwargs: Any) -> Any:
    reply = httpx.post(f"{url}/api/{method}", data={"data": json.dumps(kwargs)}, timeout=10)
    reply.raise_for_status()
    return reply.json()["response"]


def _running_crm_job(project: Project) -> dict[str, Any] | None:
    running = [j for j in jobs_for(project.sandbox, CRM) if j["status"] == "running"]
    return running[0] if running else None


def _only_task_process(run: subprocess.Popen[str]) -> psutil.Process | None:
    """The run's one live task process (Luigi forks one per running task), once the
    other tasks have ended."""
    children = [
        c
        for c in psutil.Process(run.pid).children()
        if c.status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    ]
    return children[0] if len(children) == 1 else None


def _kill_the_crm_task_process(project: Project, run: subprocess.Popen[str]) -> int:
    """SIGKILL the task process waiting on the crm job; return that job's id."""
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
    child = wait_for(lambda: _only_task_process(run), timeout=30, what="one task process")
    assert _running_crm_job(project) is not None, "killed too late: the crm job ended"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert run.poll() is None, "the run died with its task process"
    return int(job["jobId"])


def _assert_recovered(project: Project, result: Any, job_id: int) -> None:
    assert result.returncode == 0, result
    jobs = jobs_for(project.sandbox, CRM)
    assert [j["jobId"] for j in jobs] == [job_id], "a second crm job was started"
    assert jobs[0]["status"] == "succeeded"
    assert len(jobs_for(project.sandbox, EVENTS)) == 1
    steps = result.steps()
    assert {s["status"] for s in steps.values()} == {"succeeded"}, steps
    assert steps["crm"]["job_id"] == job_id
    assert f"job {job_id} (ledger)" in steps["crm"]["message"], steps["crm"]


@pytest.mark.slow
@pytest.mark.luigid
def test_luigid_task_process_killed_mid_sync_is_recovered_in_the_same_run(
    luigid: str, make_project: Callable[..., Project]
) -> None:
    project = make_project(slow={CRM: 8})

    run = project.start("--scheduler-url", luigid, "--workers", "4", "--json", date="2026-03-01")
    try:
        job_id = _kill_the_crm_task_process(project, run)
    finally:
        result = finish(run)

    _assert_recovered(project, result, job_id)


@pytest.mark.slow
@pytest.mark.luigid
def test_second_run_on_luigid_attaches_when_the_first_is_killed_whole(
    luigid: str, make_project: Callable[..., Project]
) -> None:
    project = make_project(slow={CRM: 10})
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
        killed_at = time.monotonic()
        finish(first)
        assert first.returncode == -signal.SIGKILL
        result = finish(second)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(first.pid, signal.SIGKILL)
        if second is not None and second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)

    _assert_recovered(project, result, int(job["jobId"]))
    # the job takes 10 s; a re-queue only after luigid's 60 s prune would show here
    assert time.monotonic() - killed_at < 40


@pytest.mark.slow
def test_local_scheduler_task_process_killed_mid_sync_is_recovered_in_the_same_run(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(slow={CRM: 8})

    run = project.start("--workers", "4", "--json")
    try:
        job_id = _kill_the_crm_task_process(project, run)
    finally:
        result = finish(run)

    _assert_recovered(project, result, job_id)
