"""Public API behaviour on the wire: jobs, connections, streams, errors, pagination links.

Every response here goes through the spec validator (see sandbox_http_helpers.py).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sandbox_http_helpers import (
    FAST_CONNECTION,
    HTTP,
    PAUSED_CONNECTION,
    SLOW_CONNECTION,
    connection_id,
    wait_for_job,
)

from luigi_airbyte.sandbox import Sandbox

ERRORS = "https://reference.airbyte.com/reference/errors"


def problem(title: str, status: int, type_: str, detail: str, data: Any) -> dict[str, Any]:
    return {"status": status, "type": type_, "title": title, "detail": detail, "data": data}


def run_jobs(client: httpx.Client, conn: str, count: int) -> list[int]:
    """Run ``count`` sync jobs one after another; returns their ids."""
    ids = []
    for _ in range(count):
        job = client.post("/jobs", json={"connectionId": conn, "jobType": "sync"}).json()
        assert wait_for_job(client, job["jobId"])["status"] == "succeeded"
        ids.append(job["jobId"])
    return ids


# --- jobs -------------------------------------------------------------------------------------


def test_sync_job_lifecycle(sb: Sandbox, client: httpx.Client) -> None:
    conn = connection_id(sb, FAST_CONNECTION)
    r = client.post("/jobs", json={"connectionId": conn, "jobType": "sync"})
    assert r.status_code == 200
    job = r.json()
    assert isinstance(job["jobId"], int)
    assert job["connectionId"] == conn
    assert job["jobType"] == "sync"
    assert job["status"] in ("pending", "queued", "running")
    assert "lastUpdatedAt" not in job  # only terminal jobs have it
    done = wait_for_job(client, job["jobId"])
    assert done["status"] == "succeeded"
    assert done["lastUpdatedAt"].endswith("Z")
    assert done["duration"].startswith("PT")
    assert done["rowsSynced"] > 0
    assert done["bytesSynced"] > 0
    assert sb.terminal_times()[job["jobId"]] > 0


def test_sync_already_running_is_409_try_again_later(sb: Sandbox, client: httpx.Client) -> None:
    conn = connection_id(sb, SLOW_CONNECTION)
    first = client.post("/jobs", json={"connectionId": conn, "jobType": "sync"})
    assert first.status_code == 200
    second = client.post("/jobs", json={"connectionId": conn, "jobType": "sync"})
    assert second.status_code == 409
    assert second.headers["content-type"] == "application/json"
    assert second.json() == {
        "status": 409,
        "type": "https://reference.airbyte.com/reference/errors#try-again-later",
        "title": "try-again-later",
        "detail": "Please try again later.",
        "data": {"message": f"A sync is already running for: {conn}"},
    }
    # cancel: 200 with the job, then it ends cancelled
    cancelled = client.delete(f"/jobs/{first.json()['jobId']}")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] in ("cancelled", "running", "incomplete")
    assert wait_for_job(client, first.json()["jobId"])["status"] == "cancelled"


def test_state_conflicts(sb: Sandbox, client: httpx.Client) -> None:
    paused = connection_id(sb, PAUSED_CONNECTION)
    r = client.post("/jobs", json={"connectionId": paused, "jobType": "sync"})
    assert r.status_code == 409
    assert r.json() == problem(
        "state-conflict",
        409,
        f"{ERRORS}#409-state-conflict",
        "State conflict",
        {"message": "Could not fulfill request"},
    )
    job_id = run_jobs(client, connection_id(sb, FAST_CONNECTION), 1)[0]
    r = client.delete(f"/jobs/{job_id}")
    assert r.status_code == 409
    assert r.json() == problem(
        "state-conflict",
        409,
        f"{ERRORS}#409-state-conflict",
        "State conflict",
        {"message": "Job is not currently running"},
    )


def test_refresh_is_422_and_unknown_connection_404(sb: Sandbox, client: httpx.Client) -> None:
    conn = connection_id(sb, FAST_CONNECTION)
    r = client.post("/jobs", json={"connectionId": conn, "jobType": "refresh"})
    assert r.status_code == 422
    assert r.json() == problem(
        "unprocessable-entity",
        422,
        f"{ERRORS}#unprocessable-entity",
        "The body of the request was not understood",
        {"message": "Refreshes are not supported in the public API"},
    )
    unknown = str(uuid.uuid4())
    for job_type in ("sync", "refresh"):
        r = client.post("/jobs", json={"connectionId": unknown, "jobType": job_type})
        assert r.status_code == 404
        assert r.json()["data"]["resourceId"] == unknown


def test_not_found_shapes(client: httpx.Client) -> None:
    missing = str(uuid.uuid4())
    for path in (
        f"/connections/{missing}",
        f"/sources/{missing}",
        f"/destinations/{missing}",
        f"/workspaces/{missing}",
        "/jobs/987654",
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        body = r.json()
        assert body["type"] == f"{ERRORS}#resource-not-found"
        assert body["title"] == "resource-not-found"
        assert body["detail"] == "The requested resource could not be found."
        assert body["data"]["resourceId"] == path.rsplit("/", 1)[1]
        assert body["data"]["resourceType"]
    assert client.delete("/jobs/987654").status_code == 404
    # an unknown path is a 404 problem too
    assert client.get("/no/such/thing").json()["title"] == "resource-not-found"


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/jobs", {"json": {"jobType": "sync"}}),
        ("POST", "/jobs", {"json": {"connectionId": "x", "jobType": "nope"}}),
        (
            "POST",
            "/jobs",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
        ),
        ("GET", "/jobs/abc", {}),
        ("GET", "/jobs?limit=0", {}),
        ("GET", "/jobs?limit=101", {}),
        ("GET", "/jobs?offset=-1", {}),
        ("GET", "/jobs?status=done", {}),
        ("GET", "/jobs?jobType=replicate", {}),
        ("GET", "/jobs?createdAtStart=1687450500000", {}),
        ("GET", "/connections?limit=abc", {}),
        ("GET", "/connections?includeDeleted=maybe", {}),
        ("GET", "/streams", {}),
    ],
)
def test_malformed_requests_are_400_bad_request(
    client: httpx.Client, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    r = client.request(method, path, **kwargs)
    assert r.status_code == 400
    body = r.json()
    assert body["title"] == "bad-request"
    assert body["data"]["message"]


def test_wrong_method_is_a_micronaut_405(sb: Sandbox) -> None:
    r = HTTP.put(f"{sb.url}/jobs")
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, HEAD, POST"
    assert r.json()["_embedded"]["errors"][0]["message"] == (
        "Method [PUT] not allowed for URI [/api/public/v1/jobs]. Allowed methods: [GET, HEAD, POST]"
    )
    r = HTTP.get(f"{sb.config_api_root}/v1/jobs/get")
    assert (r.status_code, r.headers["Allow"]) == (405, "POST")
    assert r.json()["message"] == "Method [GET] not allowed for URI [/api/v1/jobs/get]"


# --- listJobs: order, filters, pagination ------------------------------------------------------


def test_list_jobs_order_and_pagination_links(sb: Sandbox, client: httpx.Client) -> None:
    conn = connection_id(sb, FAST_CONNECTION)
    ids = run_jobs(client, conn, 3)
    host = f"{sb.base_url}/api/public"

    default = client.get("/jobs", params={"connectionId": conn}).json()
    assert [j["jobId"] for j in default["data"]] == ids  # createdAt ASC by default
    assert default["next"] == f"{host}/v1/jobs?&connectionId={conn}&limit=20&offset=20"
    assert default["previous"] == ""
    desc = client.get("/jobs", params={"connectionId": conn, "orderBy": "createdAt|DESC"}).json()
    assert [j["jobId"] for j in desc["data"]] == ids[::-1]
    upd = client.get("/jobs", params={"connectionId": conn, "orderBy": "updatedAt|ASC"}).json()
    assert sorted(j["jobId"] for j in upd["data"]) == sorted(ids)

    base = f"{host}/v1/jobs?jobType=sync&connectionId={conn}"
    page1 = client.get("/jobs", params={"connectionId": conn, "jobType": "sync", "limit": 2}).json()
    assert [j["jobId"] for j in page1["data"]] == ids[:2]
    assert page1["next"] == f"{base}&limit=2&offset=2"
    assert page1["previous"] == ""
    page2 = client.get(page1["next"]).json()  # the link is followable as is
    assert [j["jobId"] for j in page2["data"]] == ids[2:]
    assert page2["next"] == f"{base}&limit=2&offset=4"  # a short page still has next
    assert page2["previous"] == f"{base}&limit=2&limit=2&offset=0"
    page3 = client.get(page2["next"]).json()
    assert page3 == {"previous": f"{base}&limit=2&offset=2", "next": "", "data": []}

    # the /v1 mount writes links for itself (apiHost without /api/public)
    short = client.get(f"{sb.base_url}/v1/jobs", params={"connectionId": conn, "limit": 1}).json()
    assert short["next"] == f"{sb.base_url}/v1/jobs?&connectionId={conn}&limit=1&offset=1"


def test_list_jobs_bad_order_by(client: httpx.Client) -> None:
    r = client.get("/jobs", params={"orderBy": "createdAt"})
    assert r.status_code == 400
    assert r.json() == problem(
        "bad-request",
        400,
        f"{ERRORS}#bad-request",
        "The request could not be understood by the server due to malformed syntax.",
        {"message": "Invalid order by clause provided: createdAt"},
    )
    assert client.get("/jobs", params={"orderBy": "name|ASC"}).status_code == 400


def test_list_jobs_filters(sb: Sandbox, client: httpx.Client) -> None:
    conn = connection_id(sb, FAST_CONNECTION)
    ids = run_jobs(client, conn, 2)
    ws = sb.workspace_id
    assert [
        j["jobId"] for j in client.get("/jobs", params={"status": "succeeded"}).json()["data"]
    ] == ids
    assert client.get("/jobs", params={"status": "running"}).json()["data"] == []
    assert client.get("/jobs", params={"jobType": "reset"}).json()["data"] == []
    repeated = client.get(
        "/jobs", params=[("workspaceIds", ws), ("workspaceIds", str(uuid.uuid4()))]
    )
    assert [j["jobId"] for j in repeated.json()["data"]] == ids
    comma = client.get("/jobs", params={"workspaceIds": f"{ws},{uuid.uuid4()}"}).json()
    assert [j["jobId"] for j in comma["data"]] == ids
    assert comma["next"].startswith(f"{sb.base_url}/api/public/v1/jobs?&workspaceIds={ws}%2C")
    other = client.get("/jobs", params={"workspaceIds": str(uuid.uuid4())}).json()
    assert other == {"previous": "", "next": "", "data": []}
    future = client.get("/jobs", params={"createdAtStart": "2999-01-01T00:00:00Z"}).json()
    assert future["data"] == []
    past = client.get(
        "/jobs",
        params={
            "createdAtStart": "2020-01-01T00:00:00Z",
            "updatedAtEnd": "2999-01-01T00:00:00+02:00",
        },
    ).json()
    assert [j["jobId"] for j in past["data"]] == ids


# --- connections, workspaces, sources, destinations, streams ----------------------------------


def test_connections_listing_and_links(sb: Sandbox, client: httpx.Client) -> None:
    host = f"{sb.base_url}/api/public"
    everything = client.get("/connections").json()
    names = {c["name"] for c in everything["data"]}
    assert names == {FAST_CONNECTION, SLOW_CONNECTION, PAUSED_CONNECTION}
    assert everything["next"] == f"{host}/v1/connections?includeDeleted=false&limit=20&offset=20"
    page = client.get("/connections", params={"limit": 2, "offset": 2}).json()
    assert len(page["data"]) == 1
    assert page["next"] == f"{host}/v1/connections?includeDeleted=false&limit=2&offset=4"
    assert page["previous"] == (
        f"{host}/v1/connections?includeDeleted=false&limit=2&limit=2&offset=0"
    )
    ws = sb.workspace_id
    for params in ([("workspaceIds", ws)], {"workspaceIds": f"{ws},{uuid.uuid4()}"}):
        assert len(client.get("/connections", params=params).json()["data"]) == 3
    none = client.get("/connections", params={"workspaceIds": str(uuid.uuid4())}).json()
    assert none["data"] == []
    conn = client.get(f"/connections/{connection_id(sb, FAST_CONNECTION)}").json()
    assert conn["workspaceId"] == ws
    assert {s["name"] for s in conn["configurations"]["streams"]} == {"users", "orders"}


def test_patch_connection_then_sync_conflicts(sb: Sandbox, client: httpx.Client) -> None:
    conn = connection_id(sb, FAST_CONNECTION)
    r = client.patch(f"/connections/{conn}", json={"name": "Renamed", "status": "inactive"})
    assert r.status_code == 200
    assert (r.json()["name"], r.json()["status"]) == ("Renamed", "inactive")
    assert client.get(f"/connections/{conn}").json()["name"] == "Renamed"
    r = client.post("/jobs", json={"connectionId": conn, "jobType": "sync"})
    assert (r.status_code, r.json()["title"]) == (409, "state-conflict")
    assert client.patch(f"/connections/{conn}", json={"status": "bogus"}).status_code == 400
    assert client.patch(f"/connections/{uuid.uuid4()}", json={"name": "x"}).status_code == 404


def test_workspaces_sources_destinations_streams(sb: Sandbox, client: httpx.Client) -> None:
    workspaces = client.get("/workspaces").json()
    assert [w["workspaceId"] for w in workspaces["data"]] == [sb.workspace_id]
    assert workspaces["next"] == (
        f"{sb.base_url}/api/public/v1/workspaces?includeDeleted=false&limit=20&offset=20"
    )
    assert client.get(f"/workspaces/{sb.workspace_id}").json()["name"] == "Tests"
    conn = client.get(f"/connections/{connection_id(sb, FAST_CONNECTION)}").json()
    source = client.get(f"/sources/{conn['sourceId']}").json()
    assert source["configuration"]["password"] == "**********"
    destination = client.get(f"/destinations/{conn['destinationId']}").json()
    assert destination["destinationId"] == conn["destinationId"]
    streams = client.get("/streams", params={"sourceId": conn["sourceId"]})
    assert isinstance(streams.json(), list)  # a bare array, not {data: [...]}
    assert {s["streamName"] for s in streams.json()} == {"users", "orders"}
    with_dest = client.get(
        "/streams",
        params={
            "sourceId": conn["sourceId"],
            "destinationId": conn["destinationId"],
            "ignoreCache": "false",
        },
    ).json()
    assert all("streamnamespace" in s or "syncModes" in s for s in with_dest)
    assert client.get("/streams", params={"sourceId": str(uuid.uuid4())}).status_code == 404
