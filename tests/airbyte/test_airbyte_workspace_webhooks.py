"""Workspace sync webhooks: PATCH /workspaces/{id} per the spec, and Airbyte's payload."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from airbyte_fakes import PUBLIC, WS_ID, FakeAirbyte, body_of, reply

from luigi_airbyte.airbyte import AirbyteClient, WebhookPayload, WebhookPayloadError
from luigi_airbyte.errors import AirbyteAPIError

PATH = f"{PUBLIC}/workspaces/{WS_ID}"
CONN = "9f3c1c5e-1111-4a5b-9c2d-000000000001"
SPECS = Path(
    os.environ.get(
        "AIRBYTE_SPECS_DIR", Path(__file__).resolve().parents[2].parent / "shared" / "airbyte-api"
    )
)
KINDS = (
    "failure",
    "success",
    "connectionUpdate",
    "connectionUpdateActionRequired",
    "syncDisabled",
    "syncDisabledWarning",
)


def _closed_schema(name: str) -> dict[str, Any]:
    """The spec's schema ``name`` with every ``$ref`` inlined and every object closed
    (``additionalProperties: false``), so a key the spec does not define fails."""
    if not (SPECS / "public-api.yaml").exists():
        pytest.skip(f"Airbyte specs not found at {SPECS}")
    schemas = yaml.safe_load((SPECS / "public-api.yaml").read_text())["components"]["schemas"]

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(schemas[node["$ref"].rsplit("/", 1)[-1]])
            out = {k: inline(v) for k, v in node.items() if not k.startswith("x-")}
            if out.get("type") == "object":
                out["additionalProperties"] = False
            return out
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    schema: dict[str, Any] = inline(schemas[name])
    return schema


def _workspace(**notes: Any) -> dict[str, Any]:
    off = {"email": {"enabled": False}, "webhook": {"enabled": False}}
    return {
        "workspaceId": WS_ID,
        "name": "Tests",
        "dataResidency": "auto",
        "notifications": {k: notes.get(k, off) for k in KINDS},
    }


def test_set_sync_webhook_patches_success_and_failure_per_the_spec(
    fake: FakeAirbyte, client: AirbyteClient
) -> None:
    url = "https://hooks.example.com/airbyte/abc"
    kept = {"email": {"enabled": True}, "webhook": {"enabled": True, "url": "https://slack/x"}}
    fake.on("GET", PATH, reply(200, _workspace(syncDisabled=kept)))
    hook = {"email": {"enabled": False}, "webhook": {"enabled": True, "url": url}}
    fake.on("PATCH", PATH, reply(200, _workspace(success=hook, failure=hook, syncDisabled=kept)))

    result = client.set_sync_webhook(WS_ID, url)

    [sent] = [body_of(r) for r in fake.calls("PATCH", PATH)]
    jsonschema.Draft202012Validator(_closed_schema("WorkspaceUpdateRequest")).validate(sent)
    notes = sent["notifications"]
    assert notes["success"]["webhook"] == {"enabled": True, "url": url}
    assert notes["failure"]["webhook"] == {"enabled": True, "url": url}
    assert notes["syncDisabled"] == kept  # every other notification is sent back unchanged
    assert (result.success.url, result.failure.url) == (url, url)
    assert result.success.enabled and result.failure.enabled


def test_the_closed_schema_rejects_a_body_off_the_spec() -> None:
    """The check above can fail: a misspelt key or a wrong type is refused."""
    validator = jsonschema.Draft202012Validator(_closed_schema("WorkspaceUpdateRequest"))
    assert not validator.is_valid({"notifications": {"success": {"webhookUrl": "https://x"}}})
    assert not validator.is_valid({"notifications": {"success": {"webhook": {"enabled": "y"}}}})
    assert validator.is_valid({"notifications": {"success": {"webhook": {"enabled": False}}}})


def test_switching_off_sends_enabled_false(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("GET", PATH, reply(200, _workspace()))
    fake.on("PATCH", PATH, reply(200, _workspace()))

    result = client.set_sync_webhook(WS_ID, None)

    [sent] = [body_of(r) for r in fake.calls("PATCH", PATH)]
    assert sent["notifications"]["success"]["webhook"] == {"enabled": False}
    assert not result.success.enabled and result.success.url is None


def test_read_back_through_get(fake: FakeAirbyte, client: AirbyteClient) -> None:
    hook = {"webhook": {"enabled": True, "url": "http://127.0.0.1:9/t"}}
    fake.on("GET", PATH, reply(200, _workspace(failure=hook)))

    got = client.get_sync_notifications(WS_ID)

    assert got.failure.url == "http://127.0.0.1:9/t" and got.failure.enabled
    assert got.success.url is None and not got.success.enabled


def test_a_refused_patch_is_an_api_error(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("GET", PATH, reply(200, _workspace()))
    fake.on("PATCH", PATH, reply(403, {"status": 403, "title": "forbidden", "detail": "no"}))

    with pytest.raises(AirbyteAPIError) as info:
        client.set_sync_webhook(WS_ID, "https://x.example/h")

    assert info.value.status_code == 403
    assert "editor rights" in str(info.value)


# --- the payload --------------------------------------------------------------------------


def airbyte_payload(**data: Any) -> dict[str, Any]:
    """A sync notification as Airbyte sends it (SyncSummary in ``data``)."""
    summary: dict[str, Any] = {
        "workspace": {"id": WS_ID, "name": "Tests", "url": "http://ui/workspaces/w"},
        "connection": {"id": CONN, "name": "crm", "url": "http://ui/c"},
        "source": {"id": "5c1c1c5e-1111-4a5b-9c2d-000000000003", "name": "CRM", "url": "u"},
        "destination": {"id": "6c1c1c5e-1111-4a5b-9c2d-000000000004", "name": "W", "url": "u"},
        "jobId": 42,
        "startedAt": "2026-12-05T10:00:00Z",
        "finishedAt": "2026-12-05T10:00:03Z",
        "success": True,
        "durationInSeconds": 3,
        "bytesEmitted": 10,
        "bytesCommitted": 10,
        "recordsEmitted": 2,
        "recordsCommitted": 2,
        "recordsFilteredOut": 0,
        "bytesFilteredOut": 0,
        "errorMessage": None,
        "errorType": None,
        "errorOrigin": None,
    }
    summary.update(data)
    return {"text": "Sync completed", "blocks": [{"type": "section"}], "data": summary}


def test_payload_yields_the_hint_and_tolerates_extra_fields() -> None:
    body = airbyte_payload(newField={"x": 1}, jobId=7, success=False, errorMessage="boom")
    body["extra"] = True

    payload = WebhookPayload.parse(json.dumps(body).encode())

    assert (payload.hint.connection_id, payload.hint.job_id, payload.hint.success) == (
        CONN,
        7,
        False,
    )
    assert payload.error_message == "boom" and payload.records_committed == 2


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "not a JSON object"),
        (json.dumps({"text": "hi"}).encode(), "no 'data'"),
        (json.dumps(airbyte_payload(connection={"name": "crm"})).encode(), "connection.id"),
        (json.dumps(airbyte_payload(connection={"id": "x"})).encode(), "connection.id"),
        (json.dumps(airbyte_payload(jobId="42")).encode(), "jobId"),
        (json.dumps(airbyte_payload(jobId=True)).encode(), "jobId"),
        (json.dumps(airbyte_payload(jobId=0)).encode(), "jobId"),
        (json.dumps(airbyte_payload(success="true")).encode(), "success"),
    ],
)
def test_payload_is_strict_on_what_it_needs(body: bytes, why: str) -> None:
    with pytest.raises(WebhookPayloadError, match=why):
        WebhookPayload.parse(body)
