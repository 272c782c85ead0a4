"""Config API (``/api/v1``) on the wire: POST-JSON calls, its own error shapes."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from sandbox_http_helpers import FAST_CONNECTION, SLOW_CONNECTION, connection_id

from luigi_airbyte.sandbox import Sandbox


def wait_config_job(c: httpx.Client, job_id: int, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        info: dict[str, Any] = c.post("/jobs/get", json={"id": job_id}).json()
        if info["job"]["status"] in ("succeeded", "failed", "cancelled"):
            return info
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_sync_get_list_debug(sb: Sandbox, config_client: httpx.Client) -> None:
    c = config_client
    conn = connection_id(sb, FAST_CONNECTION)
    read = c.post("/connections/get", json={"connectionId": conn}).json()
    assert read["connectionId"] == conn
    assert {s["stream"]["name"] for s in read["syncCatalog"]["streams"]} == {"users", "orders"}
    started = c.post("/connections/sync", json={"connectionId": conn})
    assert started.status_code == 200
    job_id = started.json()["job"]["id"]
    assert started.json()["job"]["configType"] == "sync"
    done = wait_config_job(c, job_id)
    assert done["job"]["status"] == "succeeded"
    assert done["attempts"][0]["attempt"]["status"] == "succeeded"
    assert c.post("/jobs/get_without_logs", json={"id": job_id}).json()["job"]["id"] == job_id
    debug = c.post("/jobs/get_debug_info", json={"id": job_id}).json()
    assert debug["job"]["id"] == job_id
    listed = c.post("/jobs/list", json={"configTypes": ["sync"], "configId": conn}).json()
    assert [j["job"]["id"] for j in listed["jobs"]] == [job_id]
    assert listed["totalJobCount"] == 1
    paged = c.post(
        "/jobs/list",
        json={
            "configTypes": ["sync"],
            "orderByMethod": "ASC",
            "pagination": {"pageSize": 1, "rowOffset": 0},
        },
    ).json()
    assert len(paged["jobs"]) == 1
    assert c.post("/jobs/list", json={"configTypes": ["reset_connection"]}).json()["jobs"] == []


def test_sync_conflict_and_cancel(sb: Sandbox, config_client: httpx.Client) -> None:
    c = config_client
    conn = connection_id(sb, SLOW_CONNECTION)
    job_id = c.post("/connections/sync", json={"connectionId": conn}).json()["job"]["id"]
    again = c.post("/connections/sync", json={"connectionId": conn})
    assert again.status_code == 409
    body = again.json()
    assert body["message"] == f"A sync is already running for: {conn}"
    assert body["exceptionClassName"] == (
        "io.airbyte.commons.server.errors.ValueConflictKnownException"
    )
    cancelled = c.post("/jobs/cancel", json={"id": job_id})
    assert cancelled.status_code == 200
    assert wait_config_job(c, job_id)["job"]["status"] == "cancelled"
    assert c.post("/jobs/cancel", json={"id": job_id}).status_code == 409


def test_checks_and_discover(sb: Sandbox, config_client: httpx.Client) -> None:
    c = config_client
    conn = c.post("/connections/get", json={"connectionId": connection_id(sb, FAST_CONNECTION)})
    source_id, destination_id = conn.json()["sourceId"], conn.json()["destinationId"]
    check = c.post("/sources/check_connection", json={"sourceId": source_id}).json()
    assert check["status"] == "succeeded"
    dest = c.post("/destinations/check_connection", json={"destinationId": destination_id})
    assert dest.json()["status"] == "succeeded"
    discovered = c.post("/sources/discover_schema", json={"sourceId": source_id}).json()
    assert {s["stream"]["name"] for s in discovered["catalog"]["streams"]} == {"users", "orders"}


def test_config_errors(config_client: httpx.Client) -> None:
    c = config_client
    missing = str(uuid.uuid4())
    for path, body in (
        ("/connections/get", {"connectionId": missing}),
        ("/connections/sync", {"connectionId": missing}),
        ("/jobs/get", {"id": 424242}),
        ("/jobs/get_debug_info", {"id": 424242}),
        ("/jobs/cancel", {"id": 424242}),
        ("/sources/check_connection", {"sourceId": missing}),
        ("/destinations/check_connection", {"destinationId": missing}),
        ("/sources/discover_schema", {"sourceId": missing}),
    ):
        r = c.post(path, json=body)
        assert r.status_code == 404, path
        assert r.json()["exceptionClassName"].endswith("IdNotFoundKnownException")
        assert r.json()["id"] in (missing, "424242")
    for path, body in (
        ("/connections/get", {}),
        ("/jobs/get", {"id": "seven"}),
        ("/jobs/list", {}),
        ("/jobs/list", {"configTypes": ["bogus"]}),
        ("/jobs/list", {"configTypes": ["sync"], "pagination": {"pageSize": -1}}),
    ):
        r = c.post(path, json=body)
        assert r.status_code == 422, (path, body)
        assert r.json()["validationErrors"][0]["propertyPath"]
    r = c.post("/jobs/get", content=b"nope", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert c.post("/no/such/endpoint", json={}).status_code == 404
