"""Every endpoint and every error shape, validated against Airbyte's specs in one tour.

The tour asserts which (method, path, status) triples the validator actually checked, so an
endpoint silently dropping out of validation fails here. The validator itself is tested on
wrong bodies first: a checker that accepts anything would make every other test meaningless.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sandbox_http_helpers import (
    FAST_CONNECTION,
    PAUSED_CONNECTION,
    SLOW_CONNECTION,
    SpecValidator,
    connection_id,
    token_for,
    wait_for_job,
)
from test_http_config_api import wait_config_job

from luigi_airbyte.sandbox import Sandbox


def fake(
    method: str, url: str, status: int, body: Any, ctype: str = "application/json"
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(
        status, content=content, headers={"content-type": ctype}, request=httpx.Request(method, url)
    )


GOOD_JOB = {
    "jobId": 1,
    "status": "running",
    "jobType": "sync",
    "startTime": "2024-01-01T00:00:00Z",
    "connectionId": "c",
}


@pytest.mark.parametrize(
    ("response", "why"),
    [
        (fake("GET", "http://h/v1/jobs/1", 200, {**GOOD_JOB, "jobId": "1"}), "jobId"),
        (
            fake(
                "GET",
                "http://h/v1/jobs/1",
                200,
                {k: v for k, v in GOOD_JOB.items() if k != "jobType"},
            ),
            "jobType",
        ),
        (fake("GET", "http://h/v1/jobs/1", 200, {**GOOD_JOB, "status": "done"}), "status"),
        (fake("GET", "http://h/v1/jobs/1", 200, {**GOOD_JOB, "lastUpdatedAt": None}), "None"),
        (
            fake("GET", "http://h/v1/jobs/1", 200, GOOD_JOB, "application/problem+json"),
            "content-type",
        ),
        (fake("GET", "http://h/v1/jobs", 200, {"next": ""}), "data"),
        (fake("GET", "http://h/v1/streams", 200, {"data": []}), "array"),
        (
            fake(
                "GET",
                "http://h/v1/jobs/9",
                404,
                {
                    "status": 404,
                    "type": "x",
                    "title": "resource-not-found",
                    "detail": "d",
                    "data": {"resourceId": "9"},
                },
            ),
            "type",
        ),
        (
            fake(
                "GET",
                "http://h/v1/jobs/9",
                404,
                {
                    "status": 404,
                    "title": "resource-not-found",
                    "type": "https://reference.airbyte.com/reference/errors#resource-not-found",
                    "detail": "The requested resource could not be found.",
                    "data": {},
                },
            ),
            "resourceId",
        ),
        (
            fake("GET", "http://h/v1/jobs/9", 418, {"status": 418, "title": "teapot", "type": "t"}),
            "title",
        ),
        (fake("POST", "http://h/api/v1/jobs/get", 404, {"message": 5}), "message"),
        (fake("POST", "http://h/api/v1/jobs/get", 422, {"message": "m"}), "validationErrors"),
        (fake("POST", "http://h/api/v1/health", 200, {}), "declare"),
    ],
)
def test_the_validator_rejects_wrong_bodies(
    spec: SpecValidator, response: httpx.Response, why: str
) -> None:
    with pytest.raises(AssertionError):
        spec.check(response)
    del why  # the case's name in the test id


def test_the_validator_accepts_the_documented_examples(spec: SpecValidator) -> None:
    spec.check(fake("GET", "http://h/api/public/v1/jobs/1", 200, GOOD_JOB))
    spec.check(fake("GET", "http://h/v1/health", 200, b"Successful operation", "text/plain"))
    spec.check(fake("GET", "http://h/v1/jobs/1", 502, b"<html></html>", "text/html"))


# The tour: (method, "public|config <spec path>", status) the validator must have checked.
EXPECTED = {
    ("POST", "public /applications/token", 200),
    ("POST", "public /applications/token", 401),
    ("POST", "public /applications/token", 400),
    ("GET", "public /applications", 200),
    ("POST", "public /applications", 200),
    ("GET", "public /applications/{applicationId}", 200),
    ("DELETE", "public /applications/{applicationId}", 200),
    ("GET", "public /applications/{applicationId}", 404),
    ("GET", "public /health", 200),
    ("GET", "public /workspaces", 200),
    ("GET", "public /workspaces/{workspaceId}", 200),
    ("GET", "public /workspaces/{workspaceId}", 404),
    ("GET", "public /sources/{sourceId}", 200),
    ("GET", "public /sources/{sourceId}", 404),
    ("GET", "public /destinations/{destinationId}", 200),
    ("GET", "public /destinations/{destinationId}", 404),
    ("GET", "public /connections", 200),
    ("GET", "public /connections", 401),
    ("GET", "public /connections/{connectionId}", 200),
    ("GET", "public /connections/{connectionId}", 404),
    ("PATCH", "public /connections/{connectionId}", 200),
    ("PATCH", "public /connections/{connectionId}", 400),
    ("GET", "public /streams", 200),
    ("GET", "public /streams", 400),
    ("POST", "public /jobs", 200),
    ("POST", "public /jobs", 409),
    ("POST", "public /jobs", 422),
    ("POST", "public /jobs", 404),
    ("POST", "public /jobs", 400),
    ("GET", "public /jobs", 200),
    ("GET", "public /jobs", 400),
    ("GET", "public /jobs/{jobId}", 200),
    ("GET", "public /jobs/{jobId}", 404),
    ("DELETE", "public /jobs/{jobId}", 200),
    ("DELETE", "public /jobs/{jobId}", 409),
    ("GET", "public /workspaces", 500),
    ("GET", "public /workspaces", 503),
    ("GET", "public /workspaces", 429),
    ("GET", "public /workspaces", 502),
    ("GET", "public None", 404),
    ("POST", "config /v1/connections/get", 200),
    ("POST", "config /v1/connections/get", 404),
    ("POST", "config /v1/connections/get", 422),
    ("POST", "config /v1/connections/sync", 200),
    ("POST", "config /v1/connections/sync", 409),
    ("POST", "config /v1/connections/refresh", 200),
    ("POST", "config /v1/connections/refresh", 409),
    ("POST", "config /v1/connections/refresh", 422),
    ("POST", "config /v1/connections/refresh", 404),
    ("POST", "config /v1/jobs/get", 200),
    ("POST", "config /v1/jobs/get_without_logs", 200),
    ("POST", "config /v1/jobs/get_debug_info", 200),
    ("POST", "config /v1/jobs/list", 200),
    ("POST", "config /v1/jobs/list", 401),
    ("POST", "config /v1/jobs/list_for_workspaces", 200),
    ("POST", "config /v1/jobs/list_for_workspaces", 422),
    ("POST", "config /v1/jobs/cancel", 200),
    ("POST", "config /v1/sources/check_connection", 200),
    ("POST", "config /v1/destinations/check_connection", 200),
    ("POST", "config /v1/sources/discover_schema", 200),
    ("GET", "config /v1/health", 200),
    ("POST", "config None", 404),
}


def test_tour_of_every_endpoint(
    sb: Sandbox, spec: SpecValidator, validated: Callable[..., httpx.Client]
) -> None:
    spec.covered.clear()
    auth = {"Authorization": f"Bearer {token_for(sb)}"}
    fast = connection_id(sb, FAST_CONNECTION)
    missing = str(uuid.uuid4())
    with validated(base_url=sb.url, headers=auth) as c, validated(base_url=sb.url) as anon:
        anon.post(
            "/applications/token",
            data={"client_id": sb.client_id, "client_secret": sb.client_secret},
        )
        anon.post("/applications/token", data={"client_id": sb.client_id, "client_secret": "x"})
        anon.post("/applications/token", data={"client_id": sb.client_id})
        anon.get("/health")
        anon.get("/connections")
        app = c.post("/applications", json={"name": "tour"}).json()
        c.get("/applications")
        c.get(f"/applications/{app['id']}")
        c.delete(f"/applications/{app['id']}")
        c.get(f"/applications/{app['id']}")
        c.get("/workspaces")
        c.get(f"/workspaces/{sb.workspace_id}")
        c.get(f"/workspaces/{missing}")
        conn = c.get(f"/connections/{fast}").json()
        c.get(f"/connections/{missing}")
        c.get("/connections")
        c.patch(f"/connections/{fast}", json={"name": "Toured"})
        c.patch(f"/connections/{fast}", json={"status": "bogus"})
        c.get(f"/sources/{conn['sourceId']}")
        c.get(f"/sources/{missing}")
        c.get(f"/destinations/{conn['destinationId']}")
        c.get(f"/destinations/{missing}")
        c.get(
            "/streams",
            params={"sourceId": conn["sourceId"], "destinationId": conn["destinationId"]},
        )
        c.get("/streams")
        job = c.post("/jobs", json={"connectionId": fast, "jobType": "sync"}).json()
        c.post("/jobs", json={"connectionId": fast, "jobType": "sync"})
        c.post("/jobs", json={"connectionId": fast, "jobType": "refresh"})
        c.post("/jobs", json={"connectionId": missing, "jobType": "sync"})
        c.post("/jobs", json={"connectionId": fast})
        wait_for_job(c, job["jobId"])
        c.get("/jobs", params={"connectionId": fast, "orderBy": "updatedAt|DESC"})
        c.get("/jobs", params={"orderBy": "nope"})
        c.get("/jobs/999999")
        c.delete(f"/jobs/{job['jobId']}")
        slow = c.post(
            "/jobs", json={"connectionId": connection_id(sb, SLOW_CONNECTION), "jobType": "sync"}
        ).json()
        c.delete(f"/jobs/{slow['jobId']}")
        c.post(
            "/jobs", json={"connectionId": connection_id(sb, PAUSED_CONNECTION), "jobType": "sync"}
        )
        c.get("/nothing/here")
        for status in (500, 503, 429, 502):
            sb.set_faults(http=[{"endpoint": "GET /workspaces", "status": status}])
            c.get("/workspaces")
        sb.set_faults(http=[])

    with (
        validated(base_url=f"{sb.config_api_root}/v1", headers=auth) as cfg,
        validated(base_url=f"{sb.config_api_root}/v1") as cfg_anon,
    ):
        cfg.post("/connections/get", json={"connectionId": fast})
        cfg.post("/connections/get", json={"connectionId": missing})
        cfg.post("/connections/get", json={})
        info = cfg.post("/connections/sync", json={"connectionId": fast}).json()
        cfg.post("/connections/sync", json={"connectionId": fast})
        cfg.post("/jobs/get", json={"id": info["job"]["id"]})
        cfg.post("/jobs/get_without_logs", json={"id": info["job"]["id"]})
        cfg.post("/jobs/get_debug_info", json={"id": info["job"]["id"]})
        cfg.post("/jobs/list", json={"configTypes": ["sync"], "configId": fast})
        cfg_anon.post("/jobs/list", json={"configTypes": ["sync"]})
        cfg.post(
            "/jobs/list_for_workspaces",
            json={"configTypes": ["sync"], "workspaceIds": [conn["workspaceId"]]},
        )
        cfg.post("/jobs/list_for_workspaces", json={"workspaceIds": [conn["workspaceId"]]})
        cfg.post("/jobs/cancel", json={"id": info["job"]["id"]})
        wait_config_job(cfg, info["job"]["id"])
        refresh = {"connectionId": fast, "refreshMode": "Truncate", "streams": []}
        refreshed = cfg.post("/connections/refresh", json=refresh).json()
        cfg.post("/connections/refresh", json=refresh)
        cfg.post("/connections/refresh", json={"connectionId": fast})
        cfg.post("/connections/refresh", json={**refresh, "connectionId": missing})
        cfg.post("/jobs/cancel", json={"id": refreshed["job"]["id"]})
        cfg.post("/sources/check_connection", json={"sourceId": conn["sourceId"]})
        cfg.post("/destinations/check_connection", json={"destinationId": conn["destinationId"]})
        cfg.post("/sources/discover_schema", json={"sourceId": conn["sourceId"]})
        cfg_anon.get("/health")
        cfg.post("/not/an/endpoint", json={})

    missing_cover = EXPECTED - spec.covered
    assert not missing_cover, f"not validated: {sorted(missing_cover)}"
