"""``/v1/jobs/list_for_workspaces``: Airbyte's own listing behind the public ``GET /jobs``.

What a caller relies on: the workspace and ``updatedAt`` filters, the order, and the
listing's hydration (attempt stats without ``bytesCommitted``; the job's aggregated stats
only while ``HydrateAggregatedStats`` is on), which differs from ``jobs/get_without_logs``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from sandbox_http_helpers import FAST_CONNECTION, connection_id
from test_http_config_api import wait_config_job

from luigi_airbyte.sandbox import Sandbox


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def _listing(c: httpx.Client, **body: Any) -> dict[str, Any]:
    response = c.post("/jobs/list_for_workspaces", json={"configTypes": ["sync"], **body})
    assert response.status_code == 200, response.text
    out: dict[str, Any] = response.json()
    return out


def test_a_listing_filters_by_workspace_and_update_time_newest_update_first(
    sb: Sandbox, config_client: httpx.Client
) -> None:
    c = config_client
    conn = connection_id(sb, FAST_CONNECTION)
    workspace = c.post("/connections/get", json={"connectionId": conn}).json()["workspaceId"]
    first = c.post("/connections/sync", json={"connectionId": conn}).json()["job"]["id"]
    done = wait_config_job(c, first)
    second = c.post("/connections/sync", json={"connectionId": conn}).json()["job"]["id"]
    wait_config_job(c, second)

    both = _listing(c, workspaceIds=[workspace], orderByField="updatedAt", orderByMethod="DESC")
    assert [j["job"]["id"] for j in both["jobs"]][:2] == [second, first]
    assert both["totalJobCount"] == len(both["jobs"])  # the page's length, as Airbyte's

    later = done["job"]["updatedAt"] + 1
    recent = _listing(c, workspaceIds=[workspace], updatedAtStart=_iso(later))
    assert first not in [j["job"]["id"] for j in recent["jobs"]]
    elsewhere = _listing(c, workspaceIds=["00000000-0000-0000-0000-000000000000"])
    assert elsewhere["jobs"] == []
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    assert _listing(c, updatedAtStart=future.isoformat())["jobs"] == []
    page = _listing(c, workspaceIds=[workspace], pagination={"pageSize": 1, "rowOffset": 1})
    assert [j["job"]["id"] for j in page["jobs"]] == [first]  # createdAt DESC by default


def test_a_listing_hydrates_as_airbyte_does(sb: Sandbox, config_client: httpx.Client) -> None:
    c = config_client
    conn = connection_id(sb, FAST_CONNECTION)
    job_id = c.post("/connections/sync", json={"connectionId": conn}).json()["job"]["id"]
    full = wait_config_job(c, job_id)
    listed = next(
        j for j in _listing(c, orderByField="updatedAt")["jobs"] if j["job"]["id"] == job_id
    )
    attempt = listed["attempts"][0]
    assert "attempt" not in attempt  # AttemptRead, not AttemptInfoRead
    assert "bytesCommitted" not in attempt["totalStats"]
    assert all("bytesCommitted" not in s["stats"] for s in attempt["streamStats"])
    assert "recordsSynced" not in attempt and "bytesSynced" not in attempt
    expected = full["attempts"][0]["attempt"]["totalStats"]["recordsCommitted"]
    assert attempt["totalStats"]["recordsCommitted"] == expected > 0
    assert listed["job"]["aggregatedStats"] == full["job"]["aggregatedStats"]

    sb.engine.hydrate_aggregated_stats = False
    try:
        bare = next(j for j in _listing(c)["jobs"] if j["job"]["id"] == job_id)
    finally:
        sb.engine.hydrate_aggregated_stats = True
    assert "aggregatedStats" not in bare["job"] and "streamAggregatedStats" not in bare["job"]


def test_bad_listing_filters_are_422(config_client: httpx.Client) -> None:
    c = config_client
    for body in (
        {},
        {"configTypes": ["sync"], "workspaceIds": "not-a-list"},
        {"configTypes": ["sync"], "orderByField": "jobId"},
        {"configTypes": ["sync"], "updatedAtStart": "yesterday"},
    ):
        assert c.post("/jobs/list_for_workspaces", json=body).status_code == 422, body
