"""One watcher for many in-flight syncs: Airbyte sees list calls per tick, not a GET per job.

The real client, the real ``SyncRunner`` in one thread per sync, and the host's
``JobWatcher`` served on its Unix socket, as a run wires them (``app/watcher.py``); every
count comes from the sandbox's request journal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from integration.integration_helpers import FAST_SETTINGS, wait_for
from luigi_airbyte.airbyte import AirbyteClient, AirbyteClientCredentials
from luigi_airbyte.sandbox import Sandbox
from luigi_airbyte.store.ledger import InMemoryLedger
from luigi_airbyte.sync import AdaptivePolling, FixedInterval, SyncResult, SyncRunner, SyncSettings
from luigi_airbyte.sync.watch_channel import WatchFeed, WatchServer, socket_path
from luigi_airbyte.sync.watcher import CAPACITY, END_CREDIT, RATE, JobWatcher

N = 20
pytestmark = pytest.mark.timeout(180)


def many(tmp: Path, n: int, job_seconds: float, rows: int = 0) -> dict[str, Any]:
    streams = [{"name": "users", "size": rows, "growth_per_sync": 0, "seed": 1}] if rows else []
    return {
        "workspaces": [{"name": "Watched"}],
        "sources": [{"name": "gen", "type": "generator", "streams": streams}],
        "destinations": [{"name": "wh", "type": "sqlite", "path": str(tmp / "wh.sqlite")}],
        "connections": [
            {
                "name": f"conn-{i:02d}",
                "source": "gen",
                "destination": "wh",
                "job_duration_seconds": job_seconds,
            }
            for i in range(n)
        ],
        "applications": [{"name": "t", "client_id": "watch-client", "client_secret": "watch-s"}],
        "settings": {"max_concurrent_jobs": 64, "attempt_backoff_seconds": 0},
    }


def by_id(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in requests if r["endpoint"] == "GET /jobs/{jobId}"]


def listings(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The watcher's listings: the config API's where there is one, else ``GET /jobs``."""
    return [
        r
        for r in requests
        if (r["endpoint"] == "GET /jobs" and "updatedAtStart" in str(r.get("query", "")))
        or r["path"].endswith("/jobs/list_for_workspaces")
    ]


def run_all(runners: list[SyncRunner], ids: list[str]) -> list[SyncResult | BaseException]:
    results: list[SyncResult | BaseException] = [RuntimeError("not run")] * len(ids)

    def one(i: int) -> None:
        try:
            results[i] = runners[i].run(ids[i], f"{ids[i]}:2026-01-15")
        except BaseException as exc:  # reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(ids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=150)
    return results


@pytest.fixture
def watched(
    tmp_path: Path,
    start_sandbox: Callable[..., Sandbox],
    make_client: Callable[..., AirbyteClient],
) -> Any:
    def make(
        n: int, job_seconds: float, rows: int = 0, config_api: bool = True
    ) -> tuple[Sandbox, AirbyteClient, list[str]]:
        sb = start_sandbox(many(tmp_path, n, job_seconds, rows))
        client = make_client(sb)
        if not config_api:  # as Airbyte Cloud: the public API only
            client.close()
            auth = AirbyteClientCredentials(sb.client_id, sb.client_secret)
            client = AirbyteClient(url=sb.url, auth=auth, config_api_url=None, timeout=10.0)
        conns = sorted(client.list_connections(), key=lambda c: c.name)
        client.remember_connections(conns)  # as the run's one listing does
        return sb, client, [c.connection_id for c in conns]

    return make


@pytest.mark.parametrize("config_api", [True, False], ids=["config-api", "public-api-only"])
def test_twenty_in_flight_syncs_cost_one_listing_per_tick_and_no_job_polls(
    watched: Any, tmp_path: Path, config_api: bool
) -> None:
    sb, client, ids = watched(N, 4.0, config_api=config_api)
    watcher = JobWatcher(client).start()
    server = WatchServer(watcher, socket_path(tmp_path, "run-twenty"))
    feed = WatchFeed(server.path)
    settings = SyncSettings(**{**FAST_SETTINGS, "poll_strategy": AdaptivePolling()})
    runners = [SyncRunner(client, InMemoryLedger(), settings=settings, feed=feed) for _ in ids]
    sb.clear_requests()
    try:
        started = time.monotonic()
        results = run_all(runners, ids)
        wall = time.monotonic() - started
    finally:
        server.close()
        watcher.stop()

    assert all(isinstance(r, SyncResult) and r.status.value == "succeeded" for r in results), (
        results
    )
    requests = sb.requests()
    assert by_id(requests) == [], "a task polled its own job"
    listed = listings(requests)
    # One workspace, 20 jobs on one page: each tick is exactly one request, whatever N.
    assert watcher.ticks >= 2
    assert len(listed) == watcher.ticks == watcher.listings
    if config_api:
        assert all(r.get("workspaceIds") for r in listed)  # the config API's listing
    else:
        assert all("workspaceIds" in str(r["query"]) for r in listed)  # GET /jobs
    # With a config API each listing brought the ended jobs' counts: no task fetched its
    # job's details (without one there are none to fetch).
    assert details_reads(requests) == [], "a task fetched the details a listing had"
    # The watcher's budget: RATE listings a second, CAPACITY at once, END_CREDIT per end.
    assert len(listed) <= CAPACITY + RATE * wall + END_CREDIT * N + 1
    assert len(sb.requests(endpoint="POST /jobs")) == N  # one job per sync


def details_reads(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in requests if r["path"].endswith(("/jobs/get_without_logs", "/jobs/get"))]


@pytest.mark.parametrize("config_api", [True, False], ids=["config-api", "public-api-only"])
def test_a_hint_is_confirmed_with_one_request_and_wakes_the_task_at_once(
    watched: Any, tmp_path: Path, config_api: bool
) -> None:
    sb, client, ids = watched(1, 1.0, rows=7, config_api=config_api)
    watcher = JobWatcher(client).start()
    server = WatchServer(watcher, socket_path(tmp_path, "run-hint"))
    # The task would next ask about its job 60 s from now; only the hint can wake it sooner.
    settings = SyncSettings(**{**FAST_SETTINGS, "poll_strategy": FixedInterval(60.0)})
    runner = SyncRunner(client, InMemoryLedger(), settings=settings, feed=WatchFeed(server.path))
    sb.clear_requests()
    try:
        done: list[SyncResult] = []
        thread = threading.Thread(target=lambda: done.append(runner.run(ids[0], "k:1")))
        thread.start()
        job_id = wait_for("the job to be watched", watcher.watched)[0]
        wait_for("the job to end", lambda: sb.engine.get_job(job_id)["status"] == "succeeded")
        hinted = time.monotonic()
        assert WatchFeed(server.path).hint(job_id)  # as a webhook receiver in another process
        thread.join(timeout=10)
        woke = time.monotonic() - hinted
    finally:
        server.close()
        watcher.stop()

    assert done and done[0].status.value == "succeeded"
    assert done[0].rows_committed == 7
    assert woke < 5.0, f"the task woke {woke:.1f}s after the hint"
    requests = sb.requests()
    if config_api:
        # The confirmation is the config API's job details, and the task reads its
        # counts from that answer: one request in all, not a GET and the details.
        assert len(details_reads(requests)) == 1, requests
        assert by_id(requests) == [], requests
        assert done[0].streams and done[0].streams[0].records_committed == 7
    else:
        assert len(by_id(requests)) == 1, requests  # the one confirming GET
        assert details_reads(requests) == [], requests


def test_a_hint_for_a_job_nobody_watches_sends_nothing(watched: Any) -> None:
    sb, client, _ = watched(1, 1.0)
    watcher = JobWatcher(client)
    sb.clear_requests()
    watcher.hint(424242)
    assert sb.requests() == []
