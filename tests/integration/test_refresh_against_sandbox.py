"""``SyncRunner.refresh`` with the real client against the sandbox: one refresh job per
run key, whatever happens to the create.

The refresh goes through the config API's ``/v1/connections/refresh`` (the public API
answers 422) but keeps the sync's guarantees: a lost answer is reconciled by listing the
connection's refresh jobs, a second runner on the same run key attaches, a finished run
key posts nothing, and a job already running makes it attach (409). Counted on the
server side.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from integration.integration_helpers import CONNECTION, CONNECTION_ID, jobs_of, runner_for
from luigi_airbyte.airbyte import AirbyteClient, JobStatus, JobType
from luigi_airbyte.errors import AirbyteError, SyncAlreadyRunningError
from luigi_airbyte.sandbox import Sandbox
from luigi_airbyte.store.ledger import InMemoryLedger

KEY = f"refresh:{CONNECTION_ID}:1"


def _refreshes(sb: Sandbox) -> list[int]:
    return [j["jobId"] for j in jobs_of(sb) if j["jobType"] == "refresh"]


def test_a_refresh_runs_once_and_a_finished_key_posts_nothing(
    start_sandbox: Callable[..., Sandbox], make_client: Callable[..., AirbyteClient]
) -> None:
    sb = start_sandbox()
    ledger = InMemoryLedger()
    runner = runner_for(make_client(sb), ledger)

    result = runner.wait(runner.refresh(CONNECTION_ID, KEY, ["users"]))

    assert result.job_type is JobType.REFRESH
    assert result.status is JobStatus.SUCCEEDED
    assert result.rows_committed == 5  # read again from the start
    again = runner_for(make_client(sb), ledger)
    assert again.wait(again.refresh(CONNECTION_ID, KEY, ["users"])).job_id == result.job_id
    assert _refreshes(sb) == [result.job_id]
    assert len(sb.requests("/connections/refresh", method="POST")) == 1


def test_a_lost_answer_is_reconciled_not_posted_again(
    start_sandbox: Callable[..., Sandbox], make_client: Callable[..., AirbyteClient]
) -> None:
    sb = start_sandbox()
    # the job is created, but the answer is a 500 (Airbyte's create timeout)
    sb.set_faults(engine={"jobs": {CONNECTION: {"create_timeouts": 1}}})
    runner = runner_for(make_client(sb))

    attachment = runner.refresh(CONNECTION_ID, KEY, ["users"])

    assert attachment.how == "reconciled"
    assert runner.wait(attachment).status is JobStatus.SUCCEEDED
    assert _refreshes(sb) == [attachment.job.job_id]


def test_two_runners_on_one_key_make_one_refresh(
    start_sandbox: Callable[..., Sandbox], make_client: Callable[..., AirbyteClient]
) -> None:
    sb = start_sandbox(job_seconds=1.0)
    ledger = InMemoryLedger()
    runners = [runner_for(make_client(sb), ledger) for _ in range(2)]
    results: list[int] = []

    def go(i: int) -> None:
        r = runners[i]
        results.append(r.wait(r.refresh(CONNECTION_ID, KEY, [])).job_id)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert len(results) == 2 and len(set(results)) == 1
    assert _refreshes(sb) == results[:1]


def test_a_running_sync_blocks_the_refresh_and_is_not_taken_for_it(
    start_sandbox: Callable[..., Sandbox], make_client: Callable[..., AirbyteClient]
) -> None:
    sb = start_sandbox(job_seconds=30.0)
    client = make_client(sb)
    sync = client.create_job(CONNECTION_ID)
    runner = runner_for(client)

    with pytest.raises(SyncAlreadyRunningError, match=f"busy with sync job {sync.job_id}"):
        runner.refresh(CONNECTION_ID, KEY, ["users"])

    assert _refreshes(sb) == []
    client.cancel_job(sync.job_id)


def test_without_a_config_api_a_refresh_says_so(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    sb = start_sandbox()
    client = AirbyteClient(url=sb.url, auth=None, config_api_url=None)
    with pytest.raises(AirbyteError, match="needs Airbyte's config API"):
        client.refresh_streams(CONNECTION_ID, ["users"])
    client.close()
    assert sb.requests("/connections/refresh") == []
