"""HTTP faults against a running sandbox: configured in the world or at runtime."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_http_helpers import FAST_CONNECTION, HTTP, connection_id, fast_world, token_for

from luigi_airbyte.sandbox import Sandbox
from luigi_airbyte.sandbox.http_faults import HttpFaultInjector

Factory = Callable[..., Sandbox]


def with_faults(tmp_path: Path, *faults: dict[str, Any]) -> dict[str, Any]:
    world = fast_world(tmp_path)
    world["faults"] = {"http": list(faults)}
    return world


def authed(sb: Sandbox, validated: Callable[..., httpx.Client]) -> httpx.Client:
    return validated(base_url=sb.url, headers={"Authorization": f"Bearer {token_for(sb)}"})


def test_nth_calls_fail_with_a_gateway_error(
    airbyte_sandbox_factory: Factory, tmp_path: Path, validated: Callable[..., httpx.Client]
) -> None:
    sb = airbyte_sandbox_factory(
        with_faults(
            tmp_path, {"endpoint": "GET /workspaces/{workspaceId}", "status": 502, "nth": [2, 3]}
        )
    )
    with authed(sb, validated) as c:
        codes = [c.get(f"/workspaces/{sb.workspace_id}").status_code for _ in range(5)]
        assert codes == [200, 502, 502, 200, 200]
        r = c.get(f"/workspaces/{sb.workspace_id}", params={"again": 1})
        assert r.status_code == 200
        assert c.get("/workspaces").status_code == 200  # another endpoint: untouched
    faults = HTTP.get(f"{sb.base_url}/_sandbox/faults").json()
    assert (faults["http"][0]["calls"], faults["http"][0]["fired"]) == (6, 2)


def test_rate_is_seeded(
    airbyte_sandbox_factory: Factory, tmp_path: Path, validated: Callable[..., httpx.Client]
) -> None:
    fault = {"endpoint": "GET /workspaces", "status": 503, "rate": 0.4, "seed": 11}
    sb = airbyte_sandbox_factory(with_faults(tmp_path, fault))
    with authed(sb, validated) as c:
        seen = [c.get("/workspaces").status_code == 503 for _ in range(30)]
    expected = HttpFaultInjector([fault])
    assert seen == [
        expected.decide("GET", "/workspaces", "/workspaces") is not None for _ in range(30)
    ]
    assert 0 < sum(seen) < 30


def test_429_with_and_without_retry_after(
    sb: Sandbox, validated: Callable[..., httpx.Client]
) -> None:
    sb.set_faults(
        http=[
            {"endpoint": "GET /jobs/{jobId}", "status": 429, "retry_after": 2, "nth": [1]},
            {"endpoint": "GET /jobs", "status": 429},
        ]
    )
    with authed(sb, validated) as c:
        r = c.get("/jobs/1")
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "2"
        assert r.json()["status"] == 429
        assert c.get("/jobs/1").status_code == 404  # only the first call was throttled
        r = c.get("/jobs")
        assert r.status_code == 429
        assert "Retry-After" not in r.headers


def test_500_and_503_are_airbyte_problems(
    sb: Sandbox, validated: Callable[..., httpx.Client]
) -> None:
    sb.set_faults(
        http=[
            {"endpoint": "GET /connections", "status": 500},
            {"endpoint": "POST /api/v1/jobs/list", "status": 503},
        ]
    )
    with authed(sb, validated) as c:
        r = c.get("/connections")
        assert (r.status_code, r.json()["title"]) == (500, "unexpected-problem")
    r = HTTP.post(f"{sb.config_api_root}/v1/jobs/list", json={"configTypes": ["sync"]})
    assert (r.status_code, r.json()["title"]) == (503, "service-unavailable")


def test_latency(sb: Sandbox, validated: Callable[..., httpx.Client]) -> None:
    with authed(sb, validated) as c:
        sb.set_faults(http=[{"endpoint": "GET /workspaces", "latency_ms": 300}])
        started = time.monotonic()
        assert c.get("/workspaces").status_code == 200  # slow, not failed
        assert time.monotonic() - started >= 0.3


def test_drop_connection_after_the_job_is_created(
    airbyte_sandbox_factory: Factory, tmp_path: Path, validated: Callable[..., httpx.Client]
) -> None:
    sb = airbyte_sandbox_factory(
        with_faults(tmp_path, {"endpoint": "POST /jobs", "drop_connection": True, "nth": [1]})
    )
    conn = connection_id(sb, FAST_CONNECTION)
    with authed(sb, validated) as c:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            c.post("/jobs", json={"connectionId": conn, "jobType": "sync"})
        # the request took effect: the job exists though the client never heard of it
        jobs = c.get("/jobs", params={"connectionId": conn}).json()["data"]
        assert len(jobs) == 1
        # the client is still usable, and the next create is not dropped
        assert c.get(f"/jobs/{jobs[0]['jobId']}").status_code == 200
    [entry] = sb.requests("/jobs", method="POST")
    assert entry["dropped"] is True
    assert entry["status"] == 200
    assert entry["endpoint"] == "POST /jobs"


def test_faults_never_touch_the_admin_api_and_can_be_changed_at_runtime(sb: Sandbox) -> None:
    admin = f"{sb.base_url}/_sandbox"
    put = HTTP.put(f"{admin}/faults", json={"http": [{"endpoint": "*", "status": 503}]})
    assert put.status_code == 200
    assert put.json()["http"][0]["status"] == 503
    assert HTTP.get(f"{sb.url}/health").status_code == 503
    assert HTTP.get(f"{admin}/info").status_code == 200
    assert HTTP.get(f"{admin}/requests").status_code == 200
    bad = HTTP.put(f"{admin}/faults", json={"http": [{"endpoint": "*", "status": 200}]})
    assert bad.status_code == 400
    assert "400..599" in bad.json()["error"]
    assert HTTP.put(f"{admin}/faults", json={"oops": []}).status_code == 400
    assert HTTP.put(f"{admin}/faults", content=b"{").status_code == 400
    assert HTTP.put(f"{admin}/faults", json={"http": []}).json()["http"] == []
    assert HTTP.get(f"{sb.url}/health").status_code == 200
    engine = HTTP.put(f"{admin}/faults", json={"engine": {"jobs": {"*": {"zero_records": True}}}})
    assert engine.status_code == 200
    assert engine.json()["engine"]["jobs"]["*"]["zero_records"] is True
    assert HTTP.put(f"{admin}/faults", json={"engine": {"jobs": 5}}).status_code == 400
