"""The real client through the fault proxy: every fault below HTTP is a transport error,
reads are retried through it, and ``POST /jobs`` is never sent twice.

The sandbox's admin API, reached directly (not through the proxy), counts what arrived.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from faultproxy import POINTS, FaultProxy
from luigi_airbyte.airbyte import AirbyteClient, AirbyteClientCredentials, RetryPolicy
from luigi_airbyte.errors import AirbyteAPIError, AirbyteTransportError, JobCreateUncertainError
from luigi_airbyte.sandbox import Sandbox, demo_world

TIMEOUT = 0.5
CASES = [(kind, point) for kind, points in POINTS.items() for point in points]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(demo_world()) as sb:
        yield sb


@pytest.fixture
def proxy(sandbox: Sandbox) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", sandbox.port), stall_seconds=TIMEOUT + 0.4) as p:
        yield p


def _client(sb: Sandbox, proxy: FaultProxy, attempts: int = 3) -> AirbyteClient:
    auth = AirbyteClientCredentials(sb.client_id, sb.client_secret)
    return AirbyteClient(
        url=proxy.base_url + "/api/public/v1",
        auth=auth,
        config_api_url=None,
        timeout=TIMEOUT,
        retry=RetryPolicy(max_attempts=attempts, base_delay=0.01, max_delay=0.02),
    )


def _arrived(sb: Sandbox, endpoint: str) -> int:
    """Requests that reached the sandbox, from its admin API (not through the proxy)."""
    answer = httpx.get(f"{sb.base_url}/_sandbox/requests", params={"endpoint": endpoint})
    answer.raise_for_status()
    return len(answer.json()["requests"])


def _connection_id(sb: Sandbox) -> str:
    return sb.world.connection_id(sb.world.connections[0])


def _cancel_running(sb: Sandbox) -> None:
    """Cancel what the test started, directly (a running job would make the next POST 409)."""
    auth = AirbyteClientCredentials(sb.client_id, sb.client_secret)
    with AirbyteClient(url=sb.url, auth=auth, config_api_url=None) as direct:
        for job in direct.list_jobs(_connection_id(sb)):
            if not job.status.is_terminal:
                direct.cancel_job(job.job_id)


@pytest.mark.parametrize(("kind", "point"), CASES)
def test_a_read_meets_each_fault_as_a_transport_error_and_retries(
    sandbox: Sandbox, proxy: FaultProxy, kind: str, point: str
) -> None:
    with _client(sandbox, proxy) as client:
        client.list_workspaces()  # token and a pooled connection, before any fault
        proxy.configure(seed=1, only=("GET", "/workspaces"), points={kind: (point,)}, **{kind: 1.0})
        if kind == "slow_close":
            # The answer is whole; the next request on the dying connection is swallowed,
            # and the retry on a fresh connection gets through.
            assert client.list_workspaces()
            assert client.list_workspaces()
            assert proxy.stats()["swallowed"] >= 1
        else:
            with pytest.raises(AirbyteTransportError) as caught:
                client.list_workspaces()
            assert "gave up after 3 attempts" in str(caught.value)
            assert proxy.stats()["requests"] == 3  # every attempt met the fault
        assert proxy.stats()["by_kind"] == {kind: proxy.stats()["injected"]}


@pytest.mark.parametrize(("kind", "point"), CASES)
def test_post_jobs_is_never_sent_twice_whatever_breaks(
    sandbox: Sandbox, proxy: FaultProxy, kind: str, point: str
) -> None:
    with _client(sandbox, proxy, attempts=5) as client:
        client.list_workspaces()
        before = _arrived(sandbox, "POST /jobs")
        proxy.configure(seed=1, only=("POST", "/jobs"), points={kind: (point,)}, **{kind: 1.0})
        if kind == "slow_close":
            assert client.create_job(_connection_id(sandbox)).job_id > 0
        else:
            with pytest.raises(JobCreateUncertainError):
                client.create_job(_connection_id(sandbox))
        posted = _arrived(sandbox, "POST /jobs") - before
        assert proxy.stats()["requests"] == 1  # the client did not send it again
        assert posted == (0 if point == "before_upstream" else 1)
    _cancel_running(sandbox)


def test_an_answer_cut_short_without_a_length_is_retried_not_misread(
    sandbox: Sandbox, proxy: FaultProxy
) -> None:
    """An HTTP/1.0-style answer (no Content-Length, closed to end it) cut mid-JSON looks whole
    to httpx. Before the fix the client called it "not JSON" (an API error, not retried)."""
    with _client(sandbox, proxy) as client:
        client.list_workspaces()
        proxy.configure(seed=2, truncate=1.0, points={"truncate": ("unframed",)})
        with pytest.raises(AirbyteTransportError):
            client.list_workspaces()
        proxy.configure(truncate=0.0)
        assert client.list_workspaces()


def test_a_post_jobs_answer_cut_short_without_a_length_is_uncertain(
    sandbox: Sandbox, proxy: FaultProxy
) -> None:
    """Before the fix: AirbyteAPIError ("not JSON"), so the runner failed the step without
    looking for the job the server had created, and the re-run created a second one."""
    with _client(sandbox, proxy) as client:
        client.list_workspaces()
        before = _arrived(sandbox, "POST /jobs")
        proxy.configure(
            seed=3, only=("POST", "/jobs"), truncate=1.0, points={"truncate": ("unframed",)}
        )
        with pytest.raises(JobCreateUncertainError):
            client.create_job(_connection_id(sandbox))
        assert _arrived(sandbox, "POST /jobs") - before == 1
    _cancel_running(sandbox)


def test_an_unreadable_yes_to_post_jobs_is_uncertain_not_a_hard_error() -> None:
    """A 2xx to POST /jobs means a job exists, even when its body cannot be read."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"jobId": ', headers={"content-type": "text/plain"})

    client = AirbyteClient(
        url="http://airbyte.test/api/public/v1",
        config_api_url=None,
        transport=httpx.MockTransport(answer),
    )
    with client, pytest.raises(JobCreateUncertainError) as caught:
        client.create_job("c0ffee00-0000-4000-8000-000000000000")
    assert isinstance(caught.value.__cause__, AirbyteAPIError)


def test_a_token_answer_cut_short_without_a_length_is_retried_not_a_bad_credential(
    sandbox: Sandbox, proxy: FaultProxy
) -> None:
    """Before the fix the auth flow called the cut answer "no access_token" (an
    AuthenticationError: wrong token URL), and preflight failed the run with exit 4."""
    proxy.configure(
        seed=4,
        only=("POST", "/applications/token"),
        truncate=1.0,
        points={"truncate": ("unframed",)},
    )
    with _client(sandbox, proxy) as client:
        with pytest.raises(AirbyteTransportError):
            client.list_workspaces()
        assert proxy.stats()["by_point"] == {"truncate@unframed": 3}
        proxy.configure(truncate=0.0)
        assert client.list_workspaces()


def test_the_same_seed_breaks_the_same_requests(sandbox: Sandbox, proxy: FaultProxy) -> None:
    proxy.configure(seed=9, reset=0.2, truncate=0.2, slow_close=0.1)
    with _client(sandbox, proxy, attempts=8) as client:
        for _ in range(15):
            client.list_workspaces()
    stats = proxy.stats()
    planned = proxy.planned(stats["requests"])
    hit = [i for i, fault in enumerate(planned) if fault.kind]
    assert [i.index for i in proxy.injected] == hit
    assert [(i.kind, i.point) for i in proxy.injected] == [
        (planned[i].kind, planned[i].point) for i in hit
    ]
    assert stats["injected"] >= 5  # about half of 15+ requests
