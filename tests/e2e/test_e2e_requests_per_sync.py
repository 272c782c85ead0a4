"""A whole run costs Airbyte at most 3 requests per sync (issue 10), counted from the
sandbox's request journal: the token, the connection listing, the probes, the run's one
look at the workspace's recent jobs, each sync's POST and details, and every poll or
watcher listing. A brand-new claim takes its connection's recent jobs from the run's
shared listing instead of listing them before its POST (``luigi_airbyte.app.seen_jobs``).
With Airbyte pushing each end to the run's webhook receiver too: each push is confirmed
with one request, the job's details, which the task then reads its counts from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from e2e.e2e_helpers import Project, configure_webhooks, jobs_for
from e2e.test_e2e_scale import SCALE_AIRBYTE, many_world
from luigi_airbyte.sandbox import Sandbox

N = 20
pytestmark = pytest.mark.timeout(300)


def _steps(n: int) -> list[dict[str, Any]]:
    return [{"sync": f"s{i:04d}", "connection": f"conn-{i:04d}"} for i in range(n)]


def _kinds(entries: list[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(f"{r['method']} {r['path']}" for r in entries))


@pytest.fixture
def project(tmp_path: Path, airbyte_sandbox_factory: Callable[..., Sandbox]) -> Project:
    sandbox = airbyte_sandbox_factory(many_world(N, job_seconds=1.0))
    project = Project(tmp_path / "project", sandbox)
    project.write(_steps(N), warehouse=False, airbyte=SCALE_AIRBYTE)
    return project


def _run(project: Project, date: str, **env: str) -> list[dict[str, Any]]:
    project.sandbox.clear_requests()
    result = project.run("--workers", "8", "--json", date=date, timeout=240, **env)
    assert result.returncode == 0, result
    assert {s["status"] for s in result.doc["steps"]} == {"succeeded"}, result
    return project.sandbox.requests()


def test_a_run_of_20_syncs_on_8_workers_costs_at_most_3_requests_per_sync(
    project: Project,
) -> None:
    first = _run(project, "2026-01-15")  # no job history yet
    assert len(project.sandbox.requests("/jobs", method="POST")) == N
    assert len(first) <= 3 * N, (len(first), _kinds(first))

    # Another date: every connection now has a job in its history, read from the run's
    # one listing of the workspace's recent jobs, not one listing per connection.
    second = _run(project, "2026-01-16")
    assert len(project.sandbox.requests("/jobs", method="POST")) == N
    assert len(second) <= 3 * N, (len(second), _kinds(second))
    per_connection = [
        r
        for r in project.sandbox.requests("/jobs")
        if r["method"] == "GET" and "connectionId" in str(r.get("query", ""))
    ]
    assert not per_connection, _kinds(per_connection)


def test_one_airbyte_job_per_connection_and_date(project: Project) -> None:
    _run(project, "2026-01-15")
    again = project.run("--workers", "8", "--json", date="2026-01-15", timeout=240)
    assert again.returncode == 0, again
    for i in range(N):
        jobs = jobs_for(project.sandbox, f"conn-{i:04d}")
        assert len(jobs) == 1, (i, jobs)


def test_with_webhooks_a_run_of_20_syncs_still_costs_at_most_3_requests_per_sync(
    project: Project,
) -> None:
    hooks = configure_webhooks(project)
    requests = _run(project, "2026-01-15", **hooks)
    assert len(project.sandbox.requests("/jobs", method="POST")) == N
    journal = project.sandbox.engine.webhooks.journal()
    assert len([d for d in journal if d["outcome"] == "sent"]) == N, journal  # every end
    kinds = _kinds(requests)
    assert len(requests) <= 3 * N, (len(requests), kinds)
    # Each push is confirmed by the job's details (which the task then uses), not a GET.
    assert not [r for r in requests if r["endpoint"] == "GET /jobs/{jobId}"], kinds
