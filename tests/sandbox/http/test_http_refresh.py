"""``POST /api/v1/connections/refresh``: Airbyte's refresh of chosen streams, in the sandbox.

The request is ``ConnectionStreamRefreshRequestBody`` and the answer ``JobReadResponse``
(both checked against config-api.yaml); a ``Truncate`` refresh removes the stream's rows
and reads it again from the start; the job shows in ``GET /jobs`` as ``refresh`` and in
``/v1/jobs/list`` as ``refresh``; a running job of the connection makes it a 409.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from sandbox_http_helpers import (
    FAST_CONNECTION,
    SLOW_CONNECTION,
    SpecValidator,
    connection_id,
    wait_for_job,
)
from test_http_config_api import wait_config_job

from luigi_airbyte.sandbox import Sandbox


def _refresh(
    c: httpx.Client, spec: SpecValidator, conn: str, streams: list[str], mode: str = "Truncate"
) -> httpx.Response:
    body: dict[str, Any] = {
        "connectionId": conn,
        "refreshMode": mode,
        "streams": [{"streamName": s} for s in streams],
    }
    spec.validate(
        "urn:config", "/components/schemas/ConnectionStreamRefreshRequestBody", body
    )  # the request we send is the documented one
    return c.post("/connections/refresh", json=body)


def _sync_ids(rows: list[dict[str, Any]]) -> set[int]:
    return {json.loads(r["_airbyte_meta"])["sync_id"] for r in rows}


def test_truncate_refresh_removes_the_bad_rows_and_reads_again(
    sb: Sandbox,
    spec: SpecValidator,
    client: httpx.Client,
    config_client: httpx.Client,
) -> None:
    conn = connection_id(sb, FAST_CONNECTION)
    # a retried attempt re-sends the append stream's records: duplicates in the warehouse
    sb.set_faults(
        engine={"jobs": {FAST_CONNECTION: {"fail_attempts": 1, "duplicate_on_retry": True}}}
    )
    bad = client.post("/jobs", json={"connectionId": conn, "jobType": "sync"}).json()
    assert wait_for_job(client, bad["jobId"])["status"] == "succeeded"
    orders = sb.engine.destination_rows(conn, "orders")
    assert len(orders) > len({r["id"] for r in orders})  # the bad rows are there
    users_before = sb.engine.destination_rows(conn, "users")
    sb.set_faults(engine={"jobs": {}})

    answer = _refresh(config_client, spec, conn, ["orders"])

    assert answer.status_code == 200
    job = answer.json()["job"]
    assert job["configType"] == "refresh"
    assert job["configId"] == conn
    assert job["enabledStreams"] == [{"name": "orders"}]
    assert job["refreshConfig"] == {"streamsToRefresh": [{"name": "orders"}]}
    done = wait_config_job(config_client, job["id"])
    assert done["job"]["status"] == "succeeded"
    orders = sb.engine.destination_rows(conn, "orders")
    assert len(orders) == len({r["id"] for r in orders}) > 0  # no duplicate left
    assert _sync_ids(orders) == {job["id"]}  # every row is the refresh's
    assert sb.engine.destination_rows(conn, "users") == users_before  # not refreshed
    stats = {s["streamName"] for s in done["job"]["streamAggregatedStats"]}
    assert stats == {"orders"}
    # listed as a refresh by both APIs
    public = client.get("/jobs", params={"connectionId": conn, "jobType": "refresh"}).json()
    assert [j["jobId"] for j in public["data"]] == [job["id"]]
    assert public["data"][0]["jobType"] == "refresh"
    listed = config_client.post(
        "/jobs/list", json={"configTypes": ["refresh"], "configId": conn}
    ).json()
    assert [j["job"]["id"] for j in listed["jobs"]] == [job["id"]]


def test_refresh_resets_an_incremental_cursor(
    sb: Sandbox, spec: SpecValidator, client: httpx.Client, config_client: httpx.Client
) -> None:
    conn = connection_id(sb, FAST_CONNECTION)
    first = client.post("/jobs", json={"connectionId": conn, "jobType": "sync"}).json()
    wait_for_job(client, first["jobId"])
    second = client.post("/jobs", json={"connectionId": conn, "jobType": "sync"}).json()
    wait_for_job(client, second["jobId"])
    synced = config_client.post("/jobs/get", json={"id": second["jobId"]}).json()
    by_stream = {s["streamName"]: s for s in synced["job"]["streamAggregatedStats"]}
    assert by_stream["users"]["recordsCommitted"] < 20  # incremental: only what changed

    job = _refresh(config_client, spec, conn, ["users"]).json()["job"]
    done = wait_config_job(config_client, job["id"])

    (users,) = done["job"]["streamAggregatedStats"]
    users_rows = sb.engine.destination_rows(conn, "users")
    assert users["recordsCommitted"] >= 20  # read again from the start
    assert len(users_rows) == users["recordsCommitted"]
    assert _sync_ids(users_rows) == {job["id"]}


def test_refresh_conflicts_and_bad_bodies(
    sb: Sandbox, spec: SpecValidator, config_client: httpx.Client
) -> None:
    slow = connection_id(sb, SLOW_CONNECTION)
    running = config_client.post("/connections/sync", json={"connectionId": slow}).json()
    busy = _refresh(config_client, spec, slow, [])
    assert busy.status_code == 409
    assert busy.json()["message"] == f"A sync is already running for: {slow}"
    config_client.post("/jobs/cancel", json={"id": running["job"]["id"]})
    wait_config_job(config_client, running["job"]["id"])
    everything = _refresh(config_client, spec, slow, [])  # no streams: all of them
    assert {s["name"] for s in everything.json()["job"]["enabledStreams"]} == {"users", "orders"}
    again = _refresh(config_client, spec, slow, ["users"])  # the refresh itself blocks
    assert again.status_code == 409
    config_client.post("/jobs/cancel", json={"id": everything.json()["job"]["id"]})

    fast = connection_id(sb, FAST_CONNECTION)
    for body, field in (
        ({"connectionId": fast}, "refreshMode"),
        ({"connectionId": fast, "refreshMode": "Wipe"}, "refreshMode"),
        ({"connectionId": fast, "refreshMode": "Truncate", "streams": [{}]}, "streams[0]"),
    ):
        r = config_client.post("/connections/refresh", json=body)
        assert r.status_code == 422, body
        assert r.json()["validationErrors"][0]["propertyPath"].startswith(field)
    unknown = _refresh(config_client, spec, fast, ["nope"])
    assert unknown.status_code == 422
    assert "nope" in unknown.json()["message"]


def test_engine_faults_apply_to_a_refresh(
    sb: Sandbox, spec: SpecValidator, config_client: httpx.Client
) -> None:
    conn = connection_id(sb, FAST_CONNECTION)
    sb.set_faults(engine={"jobs": {FAST_CONNECTION: {"fail_attempts": 1}}})

    job = _refresh(config_client, spec, conn, ["orders"]).json()["job"]
    done = wait_config_job(config_client, job["id"])

    assert [a["attempt"]["status"] for a in done["attempts"]] == ["failed", "succeeded"]
    assert done["job"]["status"] == "succeeded"
    orders = sb.engine.destination_rows(conn, "orders")
    assert len(orders) == len({r["id"] for r in orders}) > 0  # the retry started over
