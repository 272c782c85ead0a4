"""Exactly one Airbyte job per logical sync, over real HTTP, whatever goes wrong.

The sync engine's unit tests use an in-memory fake; these run the real ``AirbyteClient`` and
``SyncRunner`` against the sandbox server on loopback, with the sandbox's faults doing the
damage. Jobs are counted by the sandbox's engine and requests by its journal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from integration.integration_helpers import (
    CONNECTION,
    CONNECTION_ID,
    job_posts,
    jobs_of,
    runner_for,
    wait_for,
)
from luigi_airbyte.airbyte import AirbyteClient, JobStatus, RetryPolicy
from luigi_airbyte.errors import (
    JobCreateUncertainError,
    RateLimitedError,
    SyncCancelledError,
    SyncFailedError,
)
from luigi_airbyte.observe.events import ListEmitter
from luigi_airbyte.sandbox import Sandbox
from luigi_airbyte.sync import FixedInterval

StartSandbox = Callable[..., Sandbox]
MakeClient = Callable[..., AirbyteClient]

RUN_KEY = "crm/2026-01-15"


# --- 409: a sync someone else started ------------------------------------------------------


def test_attaches_to_a_sync_the_scheduler_started(
    start_sandbox: StartSandbox, make_client: MakeClient
) -> None:
    sb = start_sandbox(job_seconds=2.0)
    scheduled = sb.engine.create_job(CONNECTION_ID, "sync")  # as Airbyte's scheduler would

    result = runner_for(make_client(sb)).run(CONNECTION_ID, RUN_KEY)

    assert result.attached_how in ("conflict", "running")
    assert result.job.job_id == scheduled["jobId"]
    assert result.status is JobStatus.SUCCEEDED
    assert [j["jobId"] for j in jobs_of(sb)] == [scheduled["jobId"]]
    # Seen while listing, so nothing was posted; a 409 path would have posted exactly once.
    assert len(job_posts(sb)) <= 1


def test_a_409_from_a_sync_started_between_listing_and_posting_attaches_to_it(
    start_sandbox: StartSandbox, make_client: MakeClient
) -> None:
    """The real race: the listing shows nothing, then the scheduler starts a job, then our
    POST /jobs meets it (409). The POST is slowed down so the scheduler surely wins."""
    sb = start_sandbox(job_seconds=3.0)
    sb.set_faults(http=[{"endpoint": "POST /jobs", "latency_ms": 1000, "nth": [1]}])
    scheduled: list[dict[str, Any]] = []
    failures: list[BaseException] = []

    def scheduler() -> None:
        try:
            wait_for("the runner's first listing", lambda: sb.requests(endpoint="GET /jobs"))
            scheduled.append(sb.engine.create_job(CONNECTION_ID, "sync"))
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=scheduler)
    thread.start()
    try:
        result = runner_for(make_client(sb)).run(CONNECTION_ID, RUN_KEY)
    finally:
        thread.join()
    assert not failures

    [post] = job_posts(sb)
    assert post["status"] == 409
    assert result.attached_how == "conflict"
    assert result.job.job_id == scheduled[0]["jobId"]
    assert result.status is JobStatus.SUCCEEDED
    assert len(jobs_of(sb)) == 1


# --- 5xx storms on the reads ------------------------------------------------------------


def test_storms_of_5xx_on_reads_still_give_one_job(
    start_sandbox: StartSandbox, make_client: MakeClient
) -> None:
    sb = start_sandbox(job_seconds=4.0)
    # Three faults on the same endpoint, each firing with p = 0.2632: a call fails with
    # 1 - (1 - 0.2632)^3 = 0.6 probability, as a 500, 502 or 503.
    storm = [
        {"endpoint": "GET /jobs/{jobId}", "status": status, "rate": 0.2632, "seed": seed}
        for status, seed in ((500, 11), (502, 12), (503, 13))
    ]
    # Listings fail at rate 0.3; seed 4 draws 0.236, 0.103, 0.396, ... so the runner's first
    # listing fails twice in a row before one gets through (the client retries it).
    listings = {"endpoint": "GET /jobs", "status": 503, "rate": 0.3, "seed": 4}
    sb.set_faults(http=[*storm, listings])

    result = runner_for(make_client(sb)).run(CONNECTION_ID, RUN_KEY)

    assert result.status is JobStatus.SUCCEEDED
    assert result.attached_how == "created"
    assert len(jobs_of(sb)) == 1
    assert len(job_posts(sb)) == 1
    polls = [e["status"] for e in sb.requests(endpoint="GET /jobs/{jobId}")]
    assert {500, 502, 503} <= set(polls), "the storm did not happen"
    assert sum(s != 200 for s in polls) >= len(polls) // 3
    assert [e["status"] for e in sb.requests(endpoint="GET /jobs")][:3] == [503, 503, 200]


# --- the lost answer to POST /jobs ------------------------------------------------------


def test_a_lost_create_answer_is_reconciled_to_the_job_it_created(
    start_sandbox: StartSandbox, make_client: MakeClient
) -> None:
    sb = start_sandbox(job_seconds=0.5)
    sb.set_faults(http=[{"endpoint": "POST /jobs", "drop_connection": True, "nth": [1]}])

    result = runner_for(make_client(sb)).run(CONNECTION_ID, RUN_KEY)

    [post] = job_posts(sb)
    assert post["dropped"] is True
    assert post["status"] == 200  # the job was created; only the answer was lost
    [job] = jobs_of(sb)
    assert result.attached_how == "reconciled"
    assert result.job.job_id == job["jobId"]
    assert result.status is JobStatus.SUCCEEDED


# --- POST /jobs is never re-sent by the client ------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_a_failed_create_is_posted_again_once_by_the_runner_never_by_the_client(
    start_sandbox: StartSandbox, make_client: MakeClient, status: int
) -> None:
    """A status fault answers before the engine sees the request: no job exists. The client
    must not resend (even with retries to spare); the runner lists, finds nothing within
    ``confirm_window``, and posts exactly once more."""
    sb = start_sandbox(job_seconds=0.3)
    sb.set_faults(http=[{"endpoint": "POST /jobs", "status": status, "nth": [1], "retry_after": 0}])
    generous = RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.05)
    window = 0.5

    result = runner_for(make_client(sb, retry=generous), confirm_window=window).run(
        CONNECTION_ID, RUN_KEY
    )

    posts = job_posts(sb)
    assert [p["status"] for p in posts] == [status, 200]
    assert posts[1]["time"] - posts[0]["time"] >= window  # it looked before posting again
    [job] = jobs_of(sb)
    assert result.attached_how == "created"
    assert result.job.job_id == job["jobId"]
    assert result.status is JobStatus.SUCCEEDED


def test_two_failed_creates_give_up_without_a_third_post(
    start_sandbox: StartSandbox, make_client: MakeClient
) -> None:
    sb = start_sandbox(job_seconds=0.3)
    sb.set_faults(http=[{"endpoint": "POST /jobs", "status": 503, "nth": [1, 2]}])
    runner = runner_for(
        make_client(sb, retry=RetryPolicy(max_attempts=10, base_delay=0.01)), confirm_window=0.3
    )

    with pytest.raises(JobCreateUncertainError):
        runner.run(CONNECTION_ID, RUN_KEY)

    assert [p["status"] for p in job_posts(sb)] == [503, 503]
    assert jobs_of(sb) == []


def test_a_throttled_create_is_not_retried_by_the_client(
    start_sandbox: StartSandbox, make_client: MakeClient
) -> None:
    """Direct client check: a 429 on POST /jobs surfaces at once, Retry-After or not."""
    sb = start_sandbox(job_seconds=0.3)
    sb.set_faults(http=[{"endpoint": "POST /jobs", "status": 429, "retry_after": 0, "nth": [1]}])
    client = make_client(sb, retry=RetryPolicy(max_attempts=10, base_delay=0.01))

    with pytest.raises(RateLimitedError):
        client.create_job(CONNECTION_ID)

    assert len(job_posts(sb)) == 1
    assert jobs_of(sb) == []


# --- the token expires while we wait -----------------------------------------------------


def test_the_token_is_refreshed_while_waiting_for_a_long_job(
    start_sandbox: StartSandbox, make_client: MakeClient
) -> None:
    sb = start_sandbox(job_seconds=20.0, token_ttl_seconds=5)

    result = runner_for(make_client(sb), poll_strategy=FixedInterval(0.5)).run(
        CONNECTION_ID, RUN_KEY
    )

    assert result.status is JobStatus.SUCCEEDED
    assert len(jobs_of(sb)) == 1
    assert len(job_posts(sb)) == 1
    journal = sb.requests()
    tokens = [e for e in journal if e["endpoint"] == "POST /applications/token"]
    assert len(tokens) >= 3
    # Refreshed during the wait, not only up front: fetches span most of the 20 s job.
    assert tokens[-1]["time"] - tokens[0]["time"] >= 10.0
    # No request was refused; a 401 would be tolerated only if resent once with a new token.
    for i, entry in enumerate(journal):
        if entry["status"] != 401:
            continue
        token, resent = journal[i + 1 : i + 3]
        assert token["endpoint"] == "POST /applications/token", entry
        assert (resent["method"], resent["path"]) == (entry["method"], entry["path"]), entry
        assert resent["status"] != 401, entry


# --- 429 with Retry-After ---------------------------------------------------------------


def test_a_429_retry_after_is_honoured_while_polling(
    start_sandbox: StartSandbox, make_client: MakeClient
) -> None:
    sb = start_sandbox(job_seconds=3.0)
    sb.set_faults(
        http=[{"endpoint": "GET /jobs/{jobId}", "status": 429, "retry_after": 1, "nth": [2, 3]}]
    )
    # max_delay caps every wait, Retry-After included: it must not undercut the header.
    client = make_client(sb, retry=RetryPolicy(base_delay=0.05, max_delay=5.0))

    result = runner_for(client, poll_strategy=FixedInterval(0.2)).run(CONNECTION_ID, RUN_KEY)

    assert result.status is JobStatus.SUCCEEDED
    assert len(jobs_of(sb)) == 1
    polls = sb.requests(endpoint="GET /jobs/{jobId}")
    assert [p["status"] for p in polls[:4]] == [200, 429, 429, 200]
    # The journal stamps a request when it arrives; the client waited >= Retry-After between.
    assert polls[2]["time"] - polls[1]["time"] >= 1.0
    assert polls[3]["time"] - polls[2]["time"] >= 1.0


# --- statuses over the wire -----------------------------------------------------------------


def test_a_failed_attempt_is_retried_by_airbyte_and_the_job_succeeds(
    start_sandbox: StartSandbox, make_client: MakeClient
) -> None:
    sb = start_sandbox(job_seconds=1.0, attempt_backoff_seconds=1.0)
    sb.set_faults(engine={"jobs": {CONNECTION: {"fail_attempts": 1}}})
    emitter = ListEmitter()

    result = runner_for(make_client(sb), emitter=emitter).run(CONNECTION_ID, RUN_KEY)

    assert result.status is JobStatus.SUCCEEDED
    assert result.attempts == 2
    seen = [e.fields["status"] for e in emitter.events if e.name == "sync.status"]
    assert "incomplete" in seen  # polled between the attempts, and kept waiting
    assert len(jobs_of(sb)) == 1
    assert len(job_posts(sb)) == 1


def test_a_job_that_fails_every_attempt_raises_with_airbytes_reason(
    start_sandbox: StartSandbox, make_client: MakeClient
) -> None:
    sb = start_sandbox(job_seconds=0.4, max_attempts=2)
    reason = "CRM source: connection refused by crm.internal:5432"
    sb.set_faults(engine={"jobs": {CONNECTION: {"fail_attempts": 5, "failure_message": reason}}})

    with pytest.raises(SyncFailedError) as failed:
        runner_for(make_client(sb)).run(CONNECTION_ID, RUN_KEY)

    assert reason in str(failed.value)
    [job] = jobs_of(sb)
    assert job["status"] == "failed"
    assert failed.value.job_id == job["jobId"]
    assert len(sb.engine.job_info(job["jobId"])["attempts"]) == 2
    assert len(job_posts(sb)) == 1


def test_a_job_cancelled_through_the_api_mid_run_raises_cancelled(
    start_sandbox: StartSandbox, make_client: MakeClient
) -> None:
    sb = start_sandbox(job_seconds=30.0)
    someone_else = make_client(sb)  # a user in the UI, or another tool
    failures: list[BaseException] = []

    def cancel_when_running() -> None:
        try:
            [job] = wait_for(
                "the job to run",
                lambda: [j for j in jobs_of(sb) if j["status"] == "running"],
            )
            wait_for("the runner to poll", lambda: sb.requests(endpoint="GET /jobs/{jobId}"))
            someone_else.cancel_job(job["jobId"])
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=cancel_when_running)
    thread.start()
    try:
        with pytest.raises(SyncCancelledError) as cancelled:
            runner_for(make_client(sb)).run(CONNECTION_ID, RUN_KEY)
    finally:
        thread.join()
    assert not failures

    [job] = jobs_of(sb)
    assert job["status"] == "cancelled"
    assert cancelled.value.job_id == job["jobId"]
    assert len(sb.requests(endpoint="DELETE /jobs/{jobId}")) == 1  # ours, not the runner's
    assert len(job_posts(sb)) == 1
