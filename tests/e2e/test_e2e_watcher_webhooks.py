"""Airbyte's pushes wake the run's job watcher, end to end through the real CLI.

``webhook configure`` points the sandbox's workspace at the address the run listens on
(``webhook.listen``); the run's watcher starts the receiver. One connection's push
arrives and is confirmed with exactly one request, the job's details (the config API),
which its task then uses: no ``GET /jobs/{id}`` and no second details call. The other
connection's push is dropped (the sandbox's fault), and the watcher's listing finds that
job's end without any ``GET /jobs/{id}``; its task fetches the details itself. A push for
another connection and a malformed one are ignored. Counts come from the sandbox's
request and delivery journals.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from e2e.e2e_helpers import Project, configure_webhooks, finish, wait_for
from luigi_airbyte.sandbox import Sandbox

pytestmark = pytest.mark.timeout(300)


def world() -> dict[str, Any]:
    return {
        "workspaces": [{"name": "pushed"}],
        "sources": [{"name": "gen", "type": "generator", "streams": []}],
        "destinations": [{"name": "wh", "type": "duckdb", "path": "wh.duckdb"}],
        "connections": [
            {
                "name": name,
                "source": "gen",
                "destination": "wh",
                "streams": [],
                "job_duration_seconds": 3.0,
            }
            for name in ("pushed", "dropped")
        ],
        "applications": [{"name": "w", "client_id": "w-client", "client_secret": "w-secret"}],
        "settings": {"max_concurrent_jobs": 8, "max_attempts": 1},
    }


def cid(sandbox: Sandbox, name: str) -> str:
    conn = next(c for c in sandbox.world.connections if c.name == name)
    return sandbox.world.connection_id(conn)


def gets_of(sandbox: Sandbox, job_id: int) -> int:
    return sum(
        1
        for r in sandbox.requests(endpoint="GET /jobs/{jobId}")
        if r["path"].endswith(f"/jobs/{job_id}")
    )


def details_of(sandbox: Sandbox, job_id: int) -> int:
    """Config-API reads of the job (``jobs/get_without_logs`` and the like)."""
    return sum(1 for r in sandbox.requests("/api/v1/jobs/*") if r.get("jobId") == job_id)


def test_a_push_is_confirmed_once_and_a_dropped_one_is_caught_by_the_watcher(
    tmp_path: Path, airbyte_sandbox_factory: Callable[..., Sandbox]
) -> None:
    project = Project(tmp_path / "project", airbyte_sandbox_factory(world()))
    project.write(
        [
            {"sync": "pushed", "connection": "pushed"},
            {"sync": "dropped", "connection": "dropped"},
        ],
        poll="2s",
        warehouse=False,
    )
    env = configure_webhooks(project)
    listen = env["LUIGI_AIRBYTE_WEBHOOK__LISTEN"]
    sandbox = project.sandbox
    sandbox.set_faults(webhooks={"drop_connections": [cid(sandbox, "dropped")]})
    sandbox.clear_requests()

    proc = project.start("--workers", "2", "--json", **env)
    # While the run waits: a push for a connection it does not sync, and a malformed one.
    ignored: list[int] = []

    def poke() -> None:
        wait_for(lambda: len(sandbox.engine.list_jobs()) == 2, what="both jobs")
        other = {
            "data": {
                "connection": {"id": "00000000-0000-4000-8000-000000000001"},
                "jobId": 999,
                "success": True,
            }
        }
        ignored.append(httpx.post(f"http://{listen}/", json=other).status_code)
        ignored.append(httpx.post(f"http://{listen}/", content=b"{oops").status_code)

    poker = threading.Thread(target=poke)
    poker.start()
    result = finish(proc, timeout=120)
    poker.join(10)

    assert result.returncode == 0, result
    jobs = {j["connectionId"]: j["jobId"] for j in sandbox.engine.list_jobs()}
    assert len(sandbox.requests(endpoint="POST /jobs")) == 2 and len(jobs) == 2
    pushed, dropped = jobs[cid(sandbox, "pushed")], jobs[cid(sandbox, "dropped")]
    deliveries = {d["jobId"]: d for d in sandbox.webhook_deliveries()}
    assert deliveries[pushed]["outcome"] == "sent" and deliveries[pushed]["status"] == 200
    assert deliveries[dropped]["outcome"] == "dropped"
    assert gets_of(sandbox, pushed) == 0  # confirmed by its details, not a GET
    # One read in all: the push's confirmation (whose details are the task's counts), or
    # none if a listing saw the end first (its counts came with it)
    assert details_of(sandbox, pushed) <= 1
    assert gets_of(sandbox, dropped) == 0  # found by the watcher's listing
    assert details_of(sandbox, dropped) == 0  # its counts came with the watcher's listing
    assert ignored == [202, 400]
