"""The retry policy: retry what is safe, honour Retry-After, never re-post a job."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest
from airbyte_fakes import CONFIG, PUBLIC, FakeAirbyte, Sleeps, fail, job_body, reply
from hypothesis import given
from hypothesis import strategies as st

from luigi_airbyte.airbyte import AirbyteClient, RetryPolicy, parse_retry_after
from luigi_airbyte.errors import (
    AirbyteTransportError,
    JobCreateUncertainError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    StateConflictError,
)

JOB = PUBLIC + "/jobs/1"
JOBS = PUBLIC + "/jobs"
MakeClient = Callable[..., AirbyteClient]


def test_fail_fail_succeed_returns_the_success(
    fake: FakeAirbyte, client: AirbyteClient, sleeps: Sleeps
) -> None:
    # dagster#34031: a retry loop that raised inside the loop never really retried
    fake.on("GET", JOB, reply(503), reply(502), reply(200, job_body(status="succeeded")))
    job = client.get_job(1)
    assert job.status.value == "succeeded"
    assert fake.count("GET", JOB) == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_documented_statuses_are_retried(
    fake: FakeAirbyte, client: AirbyteClient, sleeps: Sleeps, status: int
) -> None:
    fake.on("GET", JOB, reply(status, headers={"Retry-After": "1"}), reply(200, job_body()))
    assert client.get_job(1).job_id == 1
    assert fake.count("GET", JOB) == 2


@pytest.mark.parametrize("status", [501, 505])
def test_other_5xx_are_not_retried(
    fake: FakeAirbyte, client: AirbyteClient, sleeps: Sleeps, status: int
) -> None:
    fake.on("GET", JOB, reply(status), reply(200, job_body()))
    with pytest.raises(ServerError):
        client.get_job(1)
    assert fake.count("GET", JOB) == 1 and sleeps == []


def test_read_timeout_on_get_is_retried(
    fake: FakeAirbyte, client: AirbyteClient, sleeps: Sleeps
) -> None:
    fake.on("GET", JOB, fail(httpx.ReadTimeout), reply(200, job_body()))
    assert client.get_job(1).job_id == 1
    assert fake.count("GET", JOB) == 2


def test_retry_after_seconds_is_honoured(
    fake: FakeAirbyte, client: AirbyteClient, sleeps: Sleeps
) -> None:
    fake.on("GET", JOB, reply(429, headers={"Retry-After": "7"}), reply(200, job_body()))
    client.get_job(1)
    assert sleeps == [7.0]


def test_retry_after_is_capped_at_max_delay(
    fake: FakeAirbyte, client: AirbyteClient, sleeps: Sleeps
) -> None:
    fake.on("GET", JOB, reply(503, headers={"Retry-After": "3600"}), reply(200, job_body()))
    client.get_job(1)
    assert sleeps == [8.0]  # the fixture policy's max_delay


def test_retry_after_http_date(fake: FakeAirbyte, client: AirbyteClient, sleeps: Sleeps) -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=5)
    fake.on(
        "GET",
        JOB,
        reply(429, headers={"Retry-After": format_datetime(when, usegmt=True)}),
        reply(200, job_body()),
    )
    client.get_job(1)
    assert len(sleeps) == 1 and 3.0 <= sleeps[0] <= 5.0


def test_429_without_retry_after_is_throttling_with_its_own_slower_backoff(
    fake: FakeAirbyte, client: AirbyteClient, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    # Operator throttling (2026): 429s without Retry-After, more than max_attempts of them.
    fake.on("GET", JOB, *[reply(429)] * 6, reply(200, job_body()))
    with caplog.at_level(logging.WARNING, logger="luigi_airbyte.airbyte"):
        client.get_job(1)
    assert len(sleeps) == 6  # not cut off at max_attempts=4: throttling has its own budget
    for n, delay in enumerate(sleeps, start=1):
        ceiling = min(16.0, 2.0 * 2 ** (n - 1))  # 4x base_delay, at most 2x max_delay
        assert ceiling / 2 <= delay <= ceiling  # equal jitter: never an instant retry
    assert len(set(sleeps)) == len(sleeps)  # jittered
    assert client.throttled_count == 6
    assert "throttled by Airbyte" in caplog.text and "without Retry-After" in caplog.text


def test_throttling_gives_up_at_its_ceiling_and_says_so(
    fake: FakeAirbyte, make_client: MakeClient
) -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    policy = RetryPolicy(
        max_attempts=3,
        base_delay=0.5,
        max_delay=8,
        sleep=sleep,
        clock=lambda: now[0],
        rng=random.Random(3),
        throttle_max_delay=10,
        throttle_max_elapsed=60,
    )
    fake.on("GET", JOB, reply(429))
    with pytest.raises(RateLimitedError) as info:
        make_client(retry=policy).get_job(1)
    assert info.value.throttled
    assert sum(sleeps) <= 60 and max(sleeps) <= 10
    assert sum(sleeps) + 10 > 60 - 10  # it used its budget, not max_attempts=3
    assert "throttling this credential" in str(info.value)


def test_throttle_backoff_is_documented_and_bounded() -> None:
    policy = RetryPolicy(rng=random.Random(1))
    assert (policy.throttle_base_delay, policy.throttle_max_delay) == (2.0, 60.0)
    assert policy.throttle_max_elapsed == 300.0
    for n in range(1, 30):
        assert 0 < policy.throttle_backoff(n) <= 60.0


def test_max_attempts_then_the_error(
    fake: FakeAirbyte, client: AirbyteClient, sleeps: Sleeps
) -> None:
    unexpected = {
        "status": 500,
        "type": "https://reference.airbyte.com/reference/errors",
        "title": "unexpected-problem",
        "detail": "An unexpected problem has occurred.",
        "data": {"message": "database is down"},
    }
    fake.on("GET", JOB, reply(500, unexpected))
    with pytest.raises(ServerError) as info:
        client.get_job(1)
    assert fake.count("GET", JOB) == 4
    assert len(sleeps) == 3
    assert "database is down" in str(info.value)
    assert "gave up after 4 attempts" in str(info.value)


def test_transport_errors_give_up_with_airbyte_transport_error(
    fake: FakeAirbyte, client: AirbyteClient
) -> None:
    fake.on("GET", JOB, fail(httpx.ConnectError, "[Errno 111] Connection refused"))
    with pytest.raises(AirbyteTransportError) as info:
        client.get_job(1)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert fake.count("GET", JOB) == 4
    text = str(info.value)
    assert "GET /api/public/v1/jobs/1" in text and "Connection refused" in text
    assert "http://airbyte.test:8000" in text


def test_max_elapsed_stops_retrying(fake: FakeAirbyte, make_client: MakeClient) -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    policy = RetryPolicy(
        max_attempts=100,
        base_delay=1,
        max_delay=4,
        max_elapsed=10,
        sleep=sleep,
        clock=lambda: now[0],
    )
    fake.on("GET", JOB, reply(503, headers={"Retry-After": "4"}))
    with pytest.raises(ServerError):
        make_client(retry=policy).get_job(1)
    assert sum(sleeps) <= 10
    assert fake.count("GET", JOB) == 3  # waits 4 + 4; a third wait would pass 10 s


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_client_errors_are_never_retried(
    status: int, fake: FakeAirbyte, client: AirbyteClient, sleeps: Sleeps
) -> None:
    fake.on("GET", JOB, reply(status, {"title": "x", "detail": "no"}))
    with pytest.raises(Exception):  # noqa: B017 - the class is tested elsewhere
        client.get_job(1)
    assert fake.count("GET", JOB) == 1
    assert sleeps == []


def test_retries_are_logged_with_attempt_method_and_path(
    fake: FakeAirbyte, client: AirbyteClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake.on("GET", JOB, reply(503), reply(200, job_body()))
    with caplog.at_level(logging.DEBUG, logger="luigi_airbyte.airbyte"):
        client.get_job(1)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "GET /api/public/v1/jobs/1" in message
    assert "attempt 1 of 4" in message and "HTTP 503" in message
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("HTTP ")]
    assert lines[0].startswith("HTTP GET /api/public/v1/jobs/1 -> 503 (")
    assert lines[1].startswith("HTTP GET /api/public/v1/jobs/1 -> 200 (")


# -- POST /jobs is never re-sent once it may have reached Airbyte --------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_create_job_is_not_resent_on_5xx(
    status: int, fake: FakeAirbyte, client: AirbyteClient, sleeps: Sleeps
) -> None:
    fake.on("POST", JOBS, reply(status, {"title": "unexpected-problem"}))
    with pytest.raises(JobCreateUncertainError) as info:
        client.create_job("conn-1")
    assert fake.count("POST", JOBS) == 1
    assert sleeps == []
    text = str(info.value)
    assert "POST /api/public/v1/jobs" in text and "conn-1" in text and f"HTTP {status}" in text
    assert "Do not post again" in text
    assert isinstance(info.value.__cause__, ServerError)


@pytest.mark.parametrize(
    "error",
    [httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError],
    ids=["read-timeout", "read-error", "connection-dropped", "write-error"],
)
def test_create_job_is_not_resent_when_the_answer_is_lost(
    error: type[httpx.TransportError], fake: FakeAirbyte, client: AirbyteClient
) -> None:
    fake.on("POST", JOBS, fail(error, "Server disconnected without sending a response."))
    with pytest.raises(JobCreateUncertainError) as info:
        client.create_job("conn-1")
    assert fake.count("POST", JOBS) == 1
    assert isinstance(info.value.__cause__, error)
    assert info.value.method == "POST" and info.value.path == JOBS


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_create_job_is_retried_when_nothing_was_sent(
    error: type[httpx.TransportError], fake: FakeAirbyte, client: AirbyteClient
) -> None:
    fake.on("POST", JOBS, fail(error), reply(200, job_body(status="pending")))
    assert client.create_job("conn-1").status.value == "pending"
    assert fake.count("POST", JOBS) == 2


def test_create_job_connect_errors_exhausted_is_not_uncertain(
    fake: FakeAirbyte, client: AirbyteClient
) -> None:
    fake.on("POST", JOBS, fail(httpx.ConnectError))
    with pytest.raises(AirbyteTransportError) as info:
        client.create_job("conn-1")
    assert not isinstance(info.value, JobCreateUncertainError)  # nothing was sent


def test_create_job_429_is_rate_limited_not_resent(
    fake: FakeAirbyte, client: AirbyteClient
) -> None:
    fake.on("POST", JOBS, reply(429, headers={"Retry-After": "1"}))
    with pytest.raises(RateLimitedError):
        client.create_job("conn-1")
    assert fake.count("POST", JOBS) == 1


def test_cancel_is_not_resent_on_5xx(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("DELETE", JOB, reply(503))
    with pytest.raises(ServerError):
        client.cancel_job(1)
    assert fake.count("DELETE", JOB) == 1


def test_cancel_state_conflict(fake: FakeAirbyte, client: AirbyteClient) -> None:
    body = {
        "status": 409,
        "type": "https://reference.airbyte.com/reference/errors#409-state-conflict",
        "title": "state-conflict",
        "detail": "State conflict",
        "data": {"message": "Job is not currently running"},
    }
    fake.on("DELETE", JOB, reply(409, body))
    with pytest.raises(StateConflictError, match="Job is not currently running"):
        client.cancel_job(1)


def test_config_api_read_posts_are_retried(
    fake: FakeAirbyte, make_client: MakeClient, sleeps: Sleeps
) -> None:
    path = CONFIG + "/v1/jobs/get_without_logs"
    job = {
        "id": 1,
        "configType": "sync",
        "configId": "c",
        "createdAt": 1,
        "updatedAt": 2,
        "status": "running",
    }
    fake.on("POST", path, reply(503), reply(200, {"job": job, "attempts": []}))
    client = make_client(config_api_url="http://airbyte.test:8000/api")
    details = client.get_job_details(1)
    assert details is not None and details.job.job_id == 1
    assert fake.count("POST", path) == 2


def test_disabled_policy_never_retries(fake: FakeAirbyte, make_client: MakeClient) -> None:
    fake.on("GET", JOB, reply(503))
    with pytest.raises(ServerError):
        make_client(retry=RetryPolicy.disabled()).get_job(1)
    assert fake.count("GET", JOB) == 1


def test_not_found_is_not_retried(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("GET", JOB, reply(404, {"title": "resource-not-found"}))
    with pytest.raises(NotFoundError):
        client.get_job(1)
    assert fake.count("GET", JOB) == 1


# -- backoff bounds (property tests) ---------------------------------------------------------

policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 20),
    base_delay=st.floats(0, 10, allow_nan=False),
    max_delay=st.floats(0, 120, allow_nan=False),
    jitter=st.sampled_from(["full", "none"]),
    rng=st.integers(0, 2**32).map(random.Random),
)


@given(policy=policies, attempt=st.integers(1, 200))
def test_backoff_is_within_bounds(policy: RetryPolicy, attempt: int) -> None:
    delay = policy.backoff(attempt)
    ceiling = min(policy.max_delay, policy.base_delay * 2 ** min(attempt - 1, 62))
    assert 0.0 <= delay <= policy.max_delay
    assert delay <= ceiling + 1e-9


@given(policy=policies, attempt=st.integers(1, 50), retry_after=st.floats(-100, 1e6))
def test_retry_after_is_respected_and_capped(
    policy: RetryPolicy, attempt: int, retry_after: float
) -> None:
    delay = policy.backoff(attempt, retry_after)
    assert 0.0 <= delay <= policy.max_delay
    assert delay == min(max(retry_after, 0.0), policy.max_delay)


@given(seconds=st.integers(0, 10**6))
def test_parse_retry_after_seconds(seconds: int) -> None:
    assert parse_retry_after(str(seconds)) == float(seconds)


@given(offset=st.integers(-(10**6), 10**6))
def test_parse_retry_after_http_date(offset: int) -> None:
    now = 1_700_000_000
    when = datetime.fromtimestamp(now + offset, tz=timezone.utc)
    assert parse_retry_after(format_datetime(when, usegmt=True), now=now) == max(0, offset)


@pytest.mark.parametrize("value", [None, "", "soon", "Mon, 99 Foo 2024"])
def test_unreadable_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value) is None
