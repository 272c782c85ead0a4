"""Tokens, bearer/basic auth, expiry, and the applications API."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import httpx
import pytest
from sandbox_http_helpers import CLIENT_ID, CLIENT_SECRET, HTTP, token_for

from luigi_airbyte.sandbox import Sandbox

INVALID_API_KEY = {
    "status": 401,
    "type": "https://reference.airbyte.com/reference/errors#invalid-api-key",
    "title": "invalid-api-key",
    "detail": "The API key in the Authorization header is invalid.",
}


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        # what the Speakeasy SDK sends: a form with grant_type (underscore)
        ("form", {"grant_type": "client_credentials"}),
        # what Airbyte's docs show and the spec defines: JSON with "grant-type" (hyphen)
        ("json", {"grant-type": "client_credentials"}),
        ("json", {"grant_type": "client_credentials"}),
        ("json", {}),
        ("form", {}),
    ],
    ids=["form-underscore", "json-hyphen", "json-underscore", "json-no-grant", "form-no-grant"],
)
def test_token_endpoint_accepts_every_real_world_spelling(
    sb: Sandbox, validated: Callable[..., httpx.Client], kind: str, body: dict[str, str]
) -> None:
    # The spec's ApplicationTokenRequestWithGrant requires `grant_type` but only defines
    # `grant-type`; the server ignores the field, so the sandbox must too.
    creds = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **body}
    with validated() as c:
        for mount in (sb.url, f"{sb.base_url}/v1"):
            if kind == "form":
                r = c.post(f"{mount}/applications/token", data=creds)
            else:
                r = c.post(f"{mount}/applications/token", json=creds)
            assert r.status_code == 200
            assert r.headers["content-type"] == "application/json"
            token = r.json()
            assert set(token) == {"access_token", "token_type", "expires_in"}
            assert token["token_type"] == "Bearer"
            assert token["expires_in"] == 900
            assert c.get(f"{mount}/workspaces", headers=_bearer(token["access_token"])).is_success


def test_token_errors(sb: Sandbox, validated: Callable[..., httpx.Client]) -> None:
    with validated(base_url=sb.url) as c:
        r = c.post("/applications/token", json={"client_id": CLIENT_ID, "client_secret": "nope"})
        assert r.status_code == 401
        assert r.json() == INVALID_API_KEY
        r = c.post("/applications/token", json={"client_id": CLIENT_ID})
        assert r.status_code == 400
        assert r.json()["title"] == "bad-request"
        r = c.post(
            "/applications/token",
            data={"client_id": CLIENT_ID, "client_secret": "x", "grant_type": "password"},
        )
        assert r.status_code == 400


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_every_airbyte_endpoint_but_token_and_health_needs_auth(
    sb: Sandbox, validated: Callable[..., httpx.Client]
) -> None:
    with validated(base_url=sb.base_url) as c:
        for path in ("/api/public/v1/workspaces", "/v1/jobs", "/v1/connections"):
            for headers in ({}, _bearer("garbage"), _bearer("a.b.c"), {"Authorization": "Bearer"}):
                r = c.get(path, headers=headers)
                assert r.status_code == 401, (path, headers)
                assert r.json() == INVALID_API_KEY
        r = c.post("/api/v1/jobs/list", json={"configTypes": ["sync"]})
        assert r.status_code == 401
        # unauthenticated by design
        health = c.get("/api/public/v1/health")
        assert (health.status_code, health.text) == (200, "Successful operation")
        assert health.headers["content-type"].startswith("text/plain")
        assert c.get("/v1/health").status_code == 200
        assert c.get("/api/v1/health").json() == {"available": True}


def test_basic_auth_with_application_credentials(
    sb: Sandbox, validated: Callable[..., httpx.Client]
) -> None:
    with validated(base_url=sb.url) as c:
        assert c.get("/workspaces", auth=(CLIENT_ID, CLIENT_SECRET)).status_code == 200
        assert c.get("/workspaces", auth=(CLIENT_ID, "wrong")).status_code == 401
        bad = {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}
        assert c.get("/workspaces", headers=bad).status_code == 401


def test_token_expires_after_its_ttl(sb: Sandbox, validated: Callable[..., httpx.Client]) -> None:
    with validated(base_url=sb.url) as c:
        assert HTTP.put(f"{sb.base_url}/_sandbox/token-ttl", json={"seconds": 1}).json() == {
            "seconds": 1
        }
        r = c.post(
            "/applications/token", data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        )
        assert r.json()["expires_in"] == 1
        token = r.json()["access_token"]
        assert c.get("/workspaces", headers=_bearer(token)).status_code == 200
        time.sleep(1.05)
        r = c.get("/workspaces", headers=_bearer(token))
        assert r.status_code == 401
        assert r.json() == INVALID_API_KEY
        # a fresh token works again
        assert c.get("/workspaces", headers=_bearer(token_for(sb))).status_code == 200
    for bad in ({"seconds": 0}, {"seconds": "5"}, {}):
        assert HTTP.put(f"{sb.base_url}/_sandbox/token-ttl", json=bad).status_code == 400


def test_config_api_token_has_only_the_access_token(sb: Sandbox) -> None:
    r = HTTP.post(
        f"{sb.config_api_root}/v1/applications/token",
        json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    assert r.status_code == 200
    assert set(r.json()) == {"access_token"}
    headers = _bearer(r.json()["access_token"])
    assert HTTP.get(f"{sb.url}/workspaces", headers=headers).status_code == 200


def test_application_rotation(sb: Sandbox, client: httpx.Client) -> None:
    apps = client.get("/applications").json()["applications"]
    assert [a["clientId"] for a in apps] == [CLIENT_ID]
    created = client.post("/applications", json={"name": "rotated"}).json()
    assert set(created) == {"id", "name", "clientId", "clientSecret", "createdAt"}
    assert created["name"] == "rotated"
    assert client.get(f"/applications/{created['id']}").json() == created
    new_token = token_for(sb, created["clientId"], created["clientSecret"])
    assert client.get("/workspaces", headers=_bearer(new_token)).status_code == 200
    # delete answers 200 with the deleted application, then it is gone
    deleted = client.delete(f"/applications/{created['id']}")
    assert deleted.status_code == 200
    assert deleted.json()["id"] == created["id"]
    missing = client.get(f"/applications/{created['id']}")
    assert missing.status_code == 404
    assert missing.json()["title"] == "resource-not-found"
    assert client.delete(f"/applications/{created['id']}").status_code == 404
    r = HTTP.post(
        f"{sb.url}/applications/token",
        data={"client_id": created["clientId"], "client_secret": created["clientSecret"]},
    )
    assert r.status_code == 401
    assert client.post("/applications", json={}).status_code == 400
