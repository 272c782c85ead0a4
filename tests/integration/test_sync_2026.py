"""Airbyte as it is in 2026 (issue 9), over real HTTP against the sandbox.

Totals by Airbyte's counting rules after a retried attempt, a queued job that waits
longer than the sync timeout, a queued job replaced by a scheduled one, and both forms of
the Config API url. Jobs are counted by the sandbox's engine, never by the client.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from integration.integration_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    CONNECTION,
    CONNECTION_ID,
    jobs_of,
    runner_for,
)
from luigi_airbyte.airbyte import AirbyteClient, JobStatus, RetryPolicy
from luigi_airbyte.observe.events import ListEmitter
from luigi_airbyte.sandbox import Sandbox
from luigi_airbyte.store.ledger import InMemoryLedger

StartSandbox = Callable[..., Sandbox]
MakeClient = Callable[..., AirbyteClient]

RUN_KEY = "crm/2026-06-30"


def two_stream_world(tmp: Path, **settings: Any) -> dict[str, Any]:
    """``users`` synced full refresh, ``orders`` incremental: issue 9's retried job."""
    return {
        "workspaces": [{"name": "Integration"}],
        "sources": [
            {
                "name": "CRM",
                "type": "generator",
                "streams": [
                    {"name": "users", "size": 40, "growth_per_sync": 0, "seed": 1},
                    {"name": "orders", "size": 60, "growth_per_sync": 0, "seed": 2},
                ],
            }
        ],
        "destinations": [
            {"name": "Warehouse", "type": "sqlite", "path": str(tmp / "warehouse.sqlite")}
        ],
        "connections": [
            {
                "name": CONNECTION,
                "source": "CRM",
                "destination": "Warehouse",
                "prefix": "crm_",
                "job_duration_seconds": 0.5,
                "streams": [
                    {"name": "users", "sync_mode": "full_refresh_overwrite"},
                    {
                        "name": "orders",
                        "sync_mode": "incremental_append",
                        "cursor_field": ["updated_at"],
                        "primary_key": [["id"]],
                    },
                ],
            }
        ],
        "applications": [{"name": "tests", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}],
        "settings": {"attempt_backoff_seconds": 0, "chunk_size": 10, **settings},
    }


def test_a_retried_job_reports_airbytes_totals_and_no_lost_records(
    start_sandbox: StartSandbox, make_client: MakeClient, tmp_path: Path
) -> None:
    sb = start_sandbox(two_stream_world(tmp_path))
    sb.set_faults(engine={"jobs": {CONNECTION: {"fail_attempts": 1, "fail_after": 0.5}}})
    emitter = ListEmitter()

    result = runner_for(make_client(sb), emitter=emitter).run(CONNECTION_ID, RUN_KEY)

    assert result.status is JobStatus.SUCCEEDED and result.attempts == 2
    info = sb.engine.job_info(result.job_id)
    per_attempt = [
        {s["streamName"]: s["stats"] for s in a["attempt"]["streamStats"]} for a in info["attempts"]
    ]
    # The shape Airbyte's Config API gives: the retry read users again from the start,
    # resumed orders at its checkpoint, and attempt 0 emitted a batch it never committed.
    assert per_attempt[1]["users"]["recordsCommitted"] == 40
    assert per_attempt[0]["users"]["recordsCommitted"] > 0
    assert per_attempt[0]["orders"]["recordsEmitted"] > per_attempt[0]["orders"]["recordsCommitted"]
    orders = sum(a["orders"]["recordsCommitted"] for a in per_attempt)
    assert orders == 60
    by_name = {s.name: s.records_committed for s in result.streams}
    assert by_name == {"users": 40, "orders": 60}
    assert result.rows_committed == 100
    # Airbyte's own job-level count agrees, and nothing was called lost.
    assert sb.engine.get_job(result.job_id)["rowsSynced"] == 100
    assert result.warnings == ()
    assert not [e for e in emitter.events if e.name == "sync.outcome_warning"]
    assert sb.engine.destination_counts(CONNECTION_ID) == {"users": 40, "orders": 60}
    assert len(jobs_of(sb)) == 1


def test_both_config_api_url_forms_work_against_the_sandbox(
    start_sandbox: StartSandbox, tmp_path: Path
) -> None:
    sb = start_sandbox(two_stream_world(tmp_path))
    job = sb.engine.create_job(CONNECTION_ID, "sync")
    forms = {
        "documented …/api/v1": sb.config_api_url,
        "spec …/api": sb.config_api_root,
        "…/api/v1/ with a slash": sb.config_api_url + "/",
        "auto": "auto",
    }
    assert sb.config_api_url.endswith("/api/v1") and sb.config_api_root.endswith("/api")
    for what, form in forms.items():
        client = AirbyteClient(url=sb.url, auth=_auth(sb), config_api_url=form, timeout=10.0)
        with client:
            details = client.get_job_details(job["jobId"])
            assert details is not None, what
            assert details.job.job_id == job["jobId"], what
    calls = [r["path"] for r in sb.requests() if "/jobs/get" in r["path"]]
    assert calls and all(p.startswith("/api/v1/jobs/") for p in calls), calls


def _auth(sb: Sandbox) -> Any:
    from luigi_airbyte.airbyte import AirbyteClientCredentials

    return AirbyteClientCredentials(sb.client_id, sb.client_secret)


def test_polling_through_operator_throttling_is_reported_as_throttling(
    start_sandbox: StartSandbox, make_client: MakeClient, tmp_path: Path
) -> None:
    sb = start_sandbox(two_stream_world(tmp_path))
    # 429s without Retry-After on every poll for a while: more than max_attempts (5)
    sb.set_faults(
        http=[{"endpoint": "GET /jobs/{jobId}", "status": 429, "nth": list(range(1, 12))}]
    )
    policy = RetryPolicy(
        base_delay=0.01, max_delay=0.05, throttle_base_delay=0.02, throttle_max_delay=0.1
    )
    client = make_client(sb, retry=policy)
    emitter = ListEmitter()

    result = runner_for(client, emitter=emitter).run(CONNECTION_ID, RUN_KEY)

    assert result.status is JobStatus.SUCCEEDED
    throttled = [r for r in sb.requests(endpoint="GET /jobs/{jobId}") if r["status"] == 429]
    assert len(throttled) == 11
    assert client.throttled_count == 11
    assert len(jobs_of(sb)) == 1


# --- the sandbox's 2026 behaviours, each behind a world setting or fault --------------------

OTHER = "Billing to Warehouse"


def busy_world(tmp: Path, *, blocker_seconds: float = 3.0, **settings: Any) -> dict[str, Any]:
    """Two connections, one worker slot: a job on OTHER keeps CONNECTION's job queued."""
    data = two_stream_world(tmp, max_concurrent_jobs=1, **settings)
    data["sources"].append(
        {
            "name": "Billing",
            "type": "generator",
            "streams": [{"name": "invoices", "size": 5, "growth_per_sync": 0}],
        }
    )
    data["connections"].append(
        {
            "name": OTHER,
            "source": "Billing",
            "destination": "Warehouse",
            "prefix": "billing_",
            "job_duration_seconds": blocker_seconds,
        }
    )
    return data


def _occupy_the_only_slot(sb: Sandbox) -> int:
    other = next(c["connectionId"] for c in sb.engine.list_connections() if c["name"] == OTHER)
    job = sb.engine.create_job(other, "sync")
    wait_until(lambda: sb.engine.get_job(job["jobId"])["status"] == "running")
    return int(job["jobId"])


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_queued_dedupe_a_second_post_answers_with_the_queued_job(
    start_sandbox: StartSandbox, make_client: MakeClient, tmp_path: Path
) -> None:
    sb = start_sandbox(busy_world(tmp_path, queued_dedupe=True))
    _occupy_the_only_slot(sb)
    client = make_client(sb)
    first = client.create_job(CONNECTION_ID)
    wait_until(lambda: client.get_job(first.job_id).status is JobStatus.QUEUED)

    second = client.create_job(CONNECTION_ID)  # 200, not 409

    assert second.job_id == first.job_id and second.status is JobStatus.QUEUED
    assert len(jobs_of(sb)) == 1
    assert [r["status"] for r in sb.requests(endpoint="POST /jobs")] == [200, 200]


def test_without_queued_dedupe_a_second_post_is_a_409(
    start_sandbox: StartSandbox, make_client: MakeClient, tmp_path: Path
) -> None:
    from luigi_airbyte.errors import SyncAlreadyRunningError

    sb = start_sandbox(busy_world(tmp_path))
    _occupy_the_only_slot(sb)
    client = make_client(sb)
    client.create_job(CONNECTION_ID)
    try:
        client.create_job(CONNECTION_ID)
    except SyncAlreadyRunningError:
        pass
    else:  # pragma: no cover - the assertion below explains
        raise AssertionError("expected a 409")
    assert len(jobs_of(sb)) == 1


def test_a_queued_job_outlives_the_sync_timeout_and_is_not_cancelled(
    start_sandbox: StartSandbox, make_client: MakeClient, tmp_path: Path
) -> None:
    sb = start_sandbox(busy_world(tmp_path, blocker_seconds=3.0))
    _occupy_the_only_slot(sb)

    # timeout 1.5 s, stuck after 1 s: both shorter than the ~3 s spent queued
    result = runner_for(make_client(sb), timeout=1.5, stuck_after=1.0, on_stuck="cancel").run(
        CONNECTION_ID, RUN_KEY
    )

    assert result.status is JobStatus.SUCCEEDED
    assert result.queued_s >= 1.5
    assert not sb.requests(endpoint="DELETE /jobs/{jobId}")
    assert [j["status"] for j in jobs_of(sb)] == ["succeeded"]


def test_a_queued_job_replaced_by_a_scheduled_one_is_followed(
    start_sandbox: StartSandbox, make_client: MakeClient, tmp_path: Path
) -> None:
    sb = start_sandbox(busy_world(tmp_path, blocker_seconds=2.5))
    sb.set_faults(engine={"jobs": {CONNECTION: {"replace_queued_after": 0.5}}})
    _occupy_the_only_slot(sb)
    ledger = InMemoryLedger()
    emitter = ListEmitter()

    result = runner_for(make_client(sb), ledger, emitter=emitter).run(CONNECTION_ID, RUN_KEY)

    jobs = sorted(jobs_of(sb), key=lambda j: j["jobId"])
    assert [j["status"] for j in jobs] == ["cancelled", "succeeded"]
    ours, replacement = jobs[0]["jobId"], jobs[1]["jobId"]
    assert result.job_id == replacement and result.replaced_job_ids == (ours,)
    assert len(sb.requests(endpoint="POST /jobs")) == 1  # one job counted as ours
    rows = {e.job_id: e for e in ledger.entries()}
    assert rows[ours].status == "cancelled" and rows[replacement].status == "succeeded"
    assert "sync.replaced" in emitter.names()


def test_the_create_timeout_fault_answers_airbytes_500_and_still_creates_the_job(
    start_sandbox: StartSandbox, tmp_path: Path
) -> None:
    import httpx

    sb = start_sandbox(two_stream_world(tmp_path))
    sb.set_faults(engine={"jobs": {CONNECTION: {"create_timeouts": 1}}})
    token = httpx.post(
        f"{sb.url}/applications/token",
        json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    r = httpx.post(
        f"{sb.url}/jobs", json={"connectionId": CONNECTION_ID, "jobType": "sync"}, headers=headers
    )

    assert r.status_code == 500
    body = r.json()
    assert body["title"] == "unexpected-problem"
    assert body["data"]["message"] == "Timed out waiting for a sync job to be created"
    assert len(jobs_of(sb)) == 1  # the job exists: an ambiguous create
    # the fault is used up: the next create answers (409: the job is running)
    again = httpx.post(
        f"{sb.url}/jobs", json={"connectionId": CONNECTION_ID, "jobType": "sync"}, headers=headers
    )
    assert again.status_code in (200, 409)


def test_a_create_timeout_is_reconciled_to_the_one_job(
    start_sandbox: StartSandbox, make_client: MakeClient, tmp_path: Path
) -> None:
    sb = start_sandbox(two_stream_world(tmp_path))
    sb.set_faults(engine={"jobs": {CONNECTION: {"create_timeouts": 1}}})

    result = runner_for(make_client(sb)).run(CONNECTION_ID, RUN_KEY)

    assert result.status is JobStatus.SUCCEEDED
    assert len(jobs_of(sb)) == 1 and len(sb.requests(endpoint="POST /jobs")) == 1


def test_an_unknown_job_answers_409_not_currently_running_when_set(
    start_sandbox: StartSandbox, make_client: MakeClient, tmp_path: Path
) -> None:
    from luigi_airbyte.errors import NotFoundError, StateConflictError

    default = make_client(start_sandbox(two_stream_world(tmp_path / "a")))
    try:
        default.get_job(4242)
    except NotFoundError:
        pass
    else:  # pragma: no cover
        raise AssertionError("expected a 404")

    sb = start_sandbox(two_stream_world(tmp_path / "b", unknown_job_status=409))
    client = make_client(sb)
    try:
        client.get_job(4242)
    except StateConflictError as exc:
        assert "Job is not currently running" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected a 409")
    assert [r["status"] for r in sb.requests(endpoint="GET /jobs/{jobId}")] == [409]


def test_jobs_list_by_updated_at_desc(
    start_sandbox: StartSandbox, make_client: MakeClient, tmp_path: Path
) -> None:
    sb = start_sandbox(two_stream_world(tmp_path))
    client = make_client(sb)
    first = runner_for(client).run(CONNECTION_ID, "a").job_id
    second = runner_for(client).run(CONNECTION_ID, "b").job_id
    # touch the first job last: it is now the latest change
    with sb.engine._lock:
        sb.engine._jobs[first].updated_at = sb.engine._jobs[second].updated_at + 5

    by_update = [j.job_id for j in client.list_jobs(CONNECTION_ID, order_by="updatedAt|DESC")]
    by_create = [j.job_id for j in client.list_jobs(CONNECTION_ID, order_by="createdAt|DESC")]

    assert by_update == [first, second] and by_create == [second, first]
    assert any("orderBy=updatedAt%7CDESC" in r["query"] for r in sb.requests(endpoint="GET /jobs"))
