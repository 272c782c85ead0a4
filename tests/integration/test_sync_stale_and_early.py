"""Against the sandbox, with the SQL ledger: a stale ledger row never blocks the day, and a
create that fails with "Timed out waiting for a sync job to be created" is reconciled.

Jobs are counted on the server (the sandbox's engine), never trusted from the client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.integration_helpers import CONNECTION_ID, job_posts, jobs_of, runner_for
from luigi_airbyte.airbyte import AirbyteClient, JobStatus
from luigi_airbyte.sandbox import Sandbox
from luigi_airbyte.store import LedgerEntry, Store

RUN_KEY = "crm/2026-01-15"
STALE_JOB = 9_999


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'metadata.db'}").open()
    try:
        yield s
    finally:
        s.close()


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(None, id="404"),
        pytest.param(
            {
                "endpoint": f"GET /jobs/{STALE_JOB}",
                "status": 409,
                "message": "Job is not currently running",
            },
            id="409-not-currently-running",
        ),
    ],
)
def test_a_stale_ledger_row_is_settled_lost_and_one_job_runs(
    start_sandbox: Callable[..., Sandbox],
    make_client: Callable[..., AirbyteClient],
    store: Store,
    fault: dict[str, Any] | None,
) -> None:
    sb = start_sandbox()
    if fault is not None:
        sb.set_faults(http=[fault])
    store.ledger.record_job(
        LedgerEntry(run_key=RUN_KEY, connection_id=CONNECTION_ID, job_id=STALE_JOB)
    )

    result = runner_for(make_client(sb), store.ledger).run(CONNECTION_ID, RUN_KEY)

    assert result.status is JobStatus.SUCCEEDED and result.attached_how == "created"
    assert len(jobs_of(sb)) == 1 and len(job_posts(sb)) == 1
    gets = sb.requests(endpoint="GET /jobs/{jobId}")
    stale_gets = [r for r in gets if r["path"].endswith(f"/jobs/{STALE_JOB}")]
    assert stale_gets and stale_gets[0]["status"] in (None, 404, 409)
    rows = {e.job_id: e for e in store.ledger.entries()}
    assert rows[STALE_JOB].status == "lost" and rows[STALE_JOB].finished
    assert rows[STALE_JOB].reason and str(STALE_JOB) in rows[STALE_JOB].reason
    assert rows[result.job_id].status == "succeeded"
    # And the next run of the day is complete: nothing more is posted.
    again = runner_for(make_client(sb), store.ledger).run(CONNECTION_ID, RUN_KEY)
    assert again.job_id == result.job_id and len(jobs_of(sb)) == 1


def test_a_create_timeout_500_is_reconciled_not_reposted(
    start_sandbox: Callable[..., Sandbox],
    make_client: Callable[..., AirbyteClient],
    store: Store,
) -> None:
    sb = start_sandbox()
    sb.set_faults(
        http=[
            {
                "endpoint": "POST /jobs",
                "status": 500,
                "nth": [1],
                "after_apply": True,
                "message": "Timed out waiting for a sync job to be created",
            }
        ]
    )
    result = runner_for(make_client(sb), store.ledger).run(CONNECTION_ID, RUN_KEY)
    assert result.status is JobStatus.SUCCEEDED
    assert result.attached_how == "reconciled"
    assert len(job_posts(sb)) == 1 and len(jobs_of(sb)) == 1
    assert [e.job_id for e in store.ledger.entries()] == [result.job_id]
