"""The host's job watcher through the real CLI: forked workers ask it instead of Airbyte, and
fall back to polling their own job when it goes away mid-run.

Counts come from the sandbox's request journal. The run gets a short ``TMPDIR`` so its
socket (whose path is too long for a Unix socket under pytest's folders) is easy to find.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.e2e_helpers import Project, finish, wait_for
from luigi_airbyte.sandbox import Sandbox

N = 4
pytestmark = pytest.mark.timeout(300)


def world(n: int, job_seconds: float) -> dict[str, Any]:
    return {
        "workspaces": [{"name": "watched"}],
        "sources": [{"name": "gen", "type": "generator", "streams": []}],
        "destinations": [{"name": "wh", "type": "duckdb", "path": "wh.duckdb"}],
        "connections": [
            {
                "name": f"conn-{i}",
                "source": "gen",
                "destination": "wh",
                "streams": [],
                "job_duration_seconds": job_seconds,
            }
            for i in range(n)
        ],
        "applications": [{"name": "w", "client_id": "w-client", "client_secret": "w-secret"}],
        "settings": {"max_concurrent_jobs": 16, "max_attempts": 1},
    }


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="w", dir="/tmp") as folder:
        yield Path(folder)


@pytest.fixture
def watched_project(
    tmp_path: Path, airbyte_sandbox_factory: Callable[..., Sandbox]
) -> Callable[[float], Project]:
    def make(job_seconds: float) -> Project:
        project = Project(tmp_path / "project", airbyte_sandbox_factory(world(N, job_seconds)))
        project.write([{"sync_each": "all", "select": {"name": "conn-*"}}], warehouse=False)
        return project

    return make


def job_gets(sandbox: Sandbox) -> int:
    return len(sandbox.requests(endpoint="GET /jobs/{jobId}"))


def watcher_listings(sandbox: Sandbox) -> int:
    """The watcher's listings: the config API's (this sandbox has one), or ``GET /jobs``."""
    return sum(
        1
        for r in sandbox.requests()
        if r["path"].endswith("/jobs/list_for_workspaces")
        or (r["endpoint"] == "GET /jobs" and "updatedAtStart" in str(r["query"]))
    )


def sockets(folder: Path, state: Path) -> list[Path]:
    return [*state.glob("watch-*.sock"), *folder.glob("la-watch-*/watch-*.sock")]


def one_job_each(sandbox: Sandbox) -> None:
    posts = sandbox.requests(endpoint="POST /jobs")
    assert len(posts) == N
    jobs = sandbox.engine.list_jobs()
    assert len(jobs) == N and len({j["connectionId"] for j in jobs}) == N


def test_forked_workers_ask_the_watcher_not_airbyte(
    watched_project: Callable[[float], Project], short_tmp: Path
) -> None:
    project = watched_project(3.0)
    project.sandbox.clear_requests()

    result = project.run("--workers", str(N), "--json", TMPDIR=str(short_tmp))

    assert result.returncode == 0, result
    one_job_each(project.sandbox)
    assert job_gets(project.sandbox) == 0
    assert watcher_listings(project.sandbox) >= 1
    assert sockets(short_tmp, project.state_dir) == []  # removed when the run ended


def test_tasks_fall_back_to_polling_when_the_watcher_goes_away(
    watched_project: Callable[[float], Project], short_tmp: Path
) -> None:
    project = watched_project(8.0)
    project.sandbox.clear_requests()
    proc = project.start("--workers", str(N), "--json", TMPDIR=str(short_tmp))
    try:
        wait_for(
            lambda: (
                sum(1 for j in project.sandbox.engine.list_jobs() if j["status"] == "running") == N
            ),
            timeout=60,
            what="every job running",
        )
        wait_for(lambda: watcher_listings(project.sandbox) >= 2, what="the watcher's listings")
        found = wait_for(lambda: sockets(short_tmp, project.state_dir), what="the socket")
        assert job_gets(project.sandbox) == 0
        for path in found:
            path.unlink()  # the watcher is gone for every later request
    finally:
        result = finish(proc, timeout=120)

    assert result.returncode == 0, result
    one_job_each(project.sandbox)
    assert job_gets(project.sandbox) >= N, "the tasks did not poll their own jobs"
    assert "job watcher stopped answering" in result.stderr
