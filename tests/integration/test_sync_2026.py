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
