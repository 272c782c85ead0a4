"""Per-run costs are paid once per process tree; freshness comes from one listing; one
``sync_each`` step expands into a sync task per connection.

Request counts are deterministic, so they are asserted here (timings live in
benchmarks/scale.py and benchmarks/freshness.py). Every count comes from the sandbox's
request journal (``/_sandbox/requests``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from e2e.e2e_helpers import Project, finish
from e2e.luigid_helpers import FAST, running_luigid
from luigi_airbyte.sandbox import Sandbox

N = 200
pytestmark = pytest.mark.timeout(600)


def many_world(n: int, *, job_seconds: float = 0.0) -> dict[str, Any]:
    """``n`` connections whose jobs select no streams: cheap jobs, real API traffic."""
    return {
        "workspaces": [{"name": "scale"}],
        "sources": [
            {
                "name": "gen",
                "type": "generator",
                "streams": [{"name": "rows", "size": 1, "growth_per_sync": 0, "seed": 1}],
            }
        ],
        "destinations": [{"name": "wh", "type": "duckdb", "path": "wh.duckdb"}],
        "connections": [
            {
                "name": f"conn-{i:04d}",
                "source": "gen",
                "destination": "wh",
                "streams": [],
                "job_duration_seconds": job_seconds,
            }
            for i in range(n)
        ],
        "applications": [
            {"name": "scale", "client_id": "scale-client", "client_secret": "scale-secret"}
        ],
        "settings": {"max_concurrent_jobs": 64, "max_attempts": 1},
    }


SCALE_AIRBYTE = {"max_concurrent_syncs": 64}


def sync_each(freshness: str | None = None) -> list[dict[str, Any]]:
    """One expanding step: a sync task per connection."""
    extra = {"freshness": freshness} if freshness else {}
    return [{"sync_each": "all", "select": {"name": "conn-*"}, **extra}]


@pytest.fixture
def scale_project(
    tmp_path: Path, airbyte_sandbox_factory: Callable[..., Sandbox]
) -> Callable[[int], Project]:
    def make(n: int) -> Project:
        sandbox = airbyte_sandbox_factory(many_world(n))
        return Project(tmp_path / "project", sandbox)

    return make


def _calls(sandbox: Sandbox, path: str, method: str = "GET") -> list[dict[str, Any]]:
    return [r for r in sandbox.requests(path, method=method) if r["path"].endswith(path)]


def _walks(entries: list[dict[str, Any]]) -> int:
    """Listings started: pages asked at offset 0."""
    return sum(1 for r in entries if "offset=0" in str(r.get("query", "")))


@pytest.mark.parametrize("workers", [1, 4])
def test_one_token_and_one_connection_listing_per_run(
    scale_project: Callable[[int], Project], workers: int
) -> None:
    project = scale_project(N)
    project.write(sync_each(), warehouse=False, airbyte=SCALE_AIRBYTE)
    project.sandbox.clear_requests()

    result = project.run("--workers", str(workers), "--json", timeout=500)

    assert result.returncode == 0, result
    assert all(s["status"] == "succeeded" for s in result.doc["steps"]), result
    tokens = _calls(project.sandbox, "/applications/token", "POST")
    assert len(tokens) == 1, f"{len(tokens)} token calls"
    listings = _calls(project.sandbox, "/connections")
    assert _walks(listings) == 1, [r["query"] for r in listings]
    assert len(listings) <= N // 100 + 1
    assert len(_calls(project.sandbox, "/api/v1/health")) <= 1  # the config-API probe
    assert len(project.sandbox.requests("/jobs", method="POST")) == N
    # Outside waiting for its job, a sync costs 2 requests: the POST and the finished job's
    # details (a brand-new claim takes its connection's recent jobs from the run's one
    # listing of the workspace, app/seen_jobs.py). Polls of a job (GET /jobs/{id}) and
    # run-wide listings (workspaceIds=) are waiting or the run's, counted elsewhere; the
    # token, listings and probes are the run's, counted above.
    per_sync = [
        r
        for r in project.sandbox.requests()
        if not r["path"].endswith(("/applications/token", "/connections", "/workspaces", "/health"))
        and not (r["method"] == "GET" and r["path"].rstrip("/").split("/")[-1].isdigit())
        and "workspaceIds" not in str(r.get("query", ""))
    ]
    assert len(per_sync) <= 2 * N, _kinds(per_sync)


def _kinds(entries: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in entries:
        key = f"{r['method']} {r['path']}"
        out[key] = out.get(key, 0) + 1
    return out


def test_fully_fresh_run_lists_recent_jobs_once(
    scale_project: Callable[[int], Project],
) -> None:
    project = scale_project(N)
    project.write(sync_each(), warehouse=False, airbyte=SCALE_AIRBYTE)
    first = project.run("--workers", "4", "--json", timeout=500)
    assert first.returncode == 0, first
    project.write(sync_each(freshness="6h"), warehouse=False, airbyte=SCALE_AIRBYTE)
    project.sandbox.clear_requests()

    # Another date: the ledger has no success for it, Airbyte's job history decides.
    result = project.run("--workers", "4", "--json", date="2026-01-16", timeout=300)

    assert result.returncode == 0, result
    statuses = {s["status"] for s in result.doc["steps"]}
    assert statuses == {"fresh"}, result
    list_jobs = _calls(project.sandbox, "/jobs")
    assert len(list_jobs) <= N // 100 + 1, [r["query"] for r in list_jobs]
    assert not project.sandbox.requests("/jobs", method="POST")
    # The whole fresh run: one token, one walk of the connections, the recent-jobs pages
    # and a few probes; nothing per sync.
    everything = project.sandbox.requests()
    assert len(_calls(project.sandbox, "/applications/token", "POST")) == 1
    assert _walks(_calls(project.sandbox, "/connections")) == 1
    probes = 3  # API health, config-API health, the workspace of the sync_each step
    assert len(everything) <= 1 + 2 * (N // 100 + 1) + probes, _kinds(everything)


def test_validate_online_and_dry_run_show_the_expansion(
    scale_project: Callable[[int], Project],
) -> None:
    project = scale_project(4)
    steps = [
        {"sync_each": "all", "select": {"name": ["conn-0001", "conn-000[23]"]}},
        {"command": {"argv": ["true"]}, "name": "after_all", "after": ["all"]},
    ]
    project.write(steps, warehouse=False, airbyte=SCALE_AIRBYTE)
    expected = ["all/conn-0001", "all/conn-0002", "all/conn-0003"]

    done = project.cli("validate", str(project.path), "--online", "--json")
    assert done.returncode == 0, done.stderr
    assert done.doc["expanded"] == {"nightly": {"all": expected}}

    dry = project.run("--dry-run", "--json")
    assert dry.returncode == 0, dry
    rows = {r["step"]: r for r in dry.doc["steps"]}
    assert [n for n in rows if n.startswith("all/")] == expected
    assert sorted(rows["after_all"]["after"]) == expected
    assert not project.sandbox.requests("/jobs", method="POST")


def test_an_override_for_an_unlisted_connection_is_a_config_error(
    scale_project: Callable[[int], Project],
) -> None:
    project = scale_project(2)
    project.write(
        [{"sync_each": "all", "overrides": {"conn-0009": {"retries": 1}}}],
        warehouse=False,
        airbyte=SCALE_AIRBYTE,
    )
    result = project.run("--json")
    assert result.returncode == 3, result
    (problem,) = result.doc["error"]["problems"]
    assert problem["field"] == "pipelines.nightly.steps[0].overrides"
    assert "conn-0009" in problem["message"] and problem["fix"] and problem["line"]
    assert not project.sandbox.requests("/jobs", method="POST")


@pytest.mark.luigid
@pytest.mark.slow
def test_on_luigid_each_run_process_pays_once(
    scale_project: Callable[[int], Project], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two ``luigi-airbyte run`` processes (two hosts) share luigid: each mints one token and
    lists the connections once for all of its forked workers; every sync runs once."""
    n = 20
    project = scale_project(n)
    project.write(sync_each(), warehouse=False, airbyte=SCALE_AIRBYTE)
    project.sandbox.clear_requests()
    with running_luigid(tmp_path_factory.mktemp("luigid"), FAST) as url:
        procs = [
            project.start("--scheduler-url", url, "--workers", "3", "--json") for _ in range(2)
        ]
        results = [finish(p, timeout=300) for p in procs]

    for result in results:
        assert result.returncode == 0, result
    assert len(_calls(project.sandbox, "/applications/token", "POST")) == 2
    assert _walks(_calls(project.sandbox, "/connections")) == 2
    assert len(project.sandbox.requests("/jobs", method="POST")) == n
