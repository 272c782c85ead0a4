"""Configuration as code on the wire: PATCH validation (400/422 with Airbyte's words),
field selection, the catalog a connection was saved with, a source whose schema changes
between two discovers, and connector checks that fail."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_http_helpers import FAST_CONNECTION, connection_id, fast_world, token_for

from luigi_airbyte.sandbox import Sandbox


def _streams(client: httpx.Client, conn: str) -> list[dict[str, Any]]:
    streams: list[dict[str, Any]] = client.get(f"/connections/{conn}").json()["configurations"][
        "streams"
    ]
    return streams


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (
            {"schedule": {"scheduleType": "cron", "cronExpression": "0 0 25 * * ?"}},
            422,
            "25 is out of range",
        ),
        ({"schedule": {"scheduleType": "cron", "cronExpression": "0 0 * * *"}}, 422, "6 or 7"),
        (
            {"schedule": {"scheduleType": "cron", "cronExpression": "0 0 2 1 * MON"}},
            422,
            "day-of-week",
        ),
        ({"schedule": {"scheduleType": "basic"}}, 400, "manual or cron"),
        (
            {"nonBreakingSchemaUpdatesBehavior": "sometimes"},
            400,
            "nonBreakingSchemaUpdatesBehavior",
        ),
        ({"status": "paused"}, 400, "status"),
    ],
)
def test_patch_refuses_bad_values_and_changes_nothing(
    sb: Sandbox, client: httpx.Client, body: dict[str, Any], status: int, words: str
) -> None:
    conn = connection_id(sb, FAST_CONNECTION)
    before = client.get(f"/connections/{conn}").json()

    r = client.patch(f"/connections/{conn}", json={**body, "prefix": "changed_"})

    assert r.status_code == status, r.text
    assert words in r.json()["data"]["message"]
    assert client.get(f"/connections/{conn}").json() == before  # nothing half-applied


def test_field_selection_is_validated_and_returned(sb: Sandbox, client: httpx.Client) -> None:
    conn = connection_id(sb, FAST_CONNECTION)
    streams = _streams(client, conn)
    users = next(s for s in streams if s["name"] == "users")

    users["selectedFields"] = [{"fieldPath": ["id"]}, {"fieldPath": ["phone"]}]
    unknown = client.patch(f"/connections/{conn}", json={"configurations": {"streams": streams}})
    users["selectedFields"] = [{"fieldPath": ["id"]}, {"fieldPath": ["email"]}]
    no_cursor = client.patch(f"/connections/{conn}", json={"configurations": {"streams": streams}})
    users["selectedFields"].append({"fieldPath": ["updated_at"]})
    ok = client.patch(f"/connections/{conn}", json={"configurations": {"streams": streams}})

    assert (unknown.status_code, no_cursor.status_code, ok.status_code) == (422, 422, 200)
    assert "Invalid selected field" in unknown.json()["data"]["message"]
    assert "must be selected" in no_cursor.json()["data"]["message"]
    after = next(s for s in _streams(client, conn) if s["name"] == "users")
    assert after["selectedFields"] == [
        {"fieldPath": ["id"]},
        {"fieldPath": ["email"]},
        {"fieldPath": ["updated_at"]},
    ]


def test_schema_changes_between_two_discovers(
    airbyte_sandbox_factory: Callable[..., Sandbox], tmp_path: Path
) -> None:
    world = fast_world(tmp_path)
    world["faults"] = {
        "schema": {
            "CRM": {
                "after_discovers": 1,
                "add_columns": {"users": [{"name": "phone", "type": "string"}]},
                "add_streams": [{"name": "invoices", "size": 5}],
            }
        }
    }
    sb = airbyte_sandbox_factory(world)
    conn = connection_id(sb, FAST_CONNECTION)
    headers = {"Authorization": f"Bearer {token_for(sb)}"}
    with (
        httpx.Client(base_url=f"{sb.config_api_root}/v1", headers=headers) as c,
        httpx.Client(base_url=sb.url, headers=headers) as public,
    ):
        source = c.post("/connections/get", json={"connectionId": conn}).json()["sourceId"]

        def columns(catalog: dict[str, Any]) -> dict[str, list[str]]:
            return {
                s["stream"]["name"]: list(s["stream"]["jsonSchema"]["properties"])
                for s in catalog["streams"]
            }

        first = columns(
            c.post("/sources/discover_schema", json={"sourceId": source}).json()["catalog"]
        )
        second = columns(
            c.post("/sources/discover_schema", json={"sourceId": source}).json()["catalog"]
        )
        saved = columns(
            c.post("/connections/get", json={"connectionId": conn}).json()["syncCatalog"]
        )

        assert "phone" not in first["users"] and "invoices" not in first
        assert "phone" in second["users"] and "invoices" in second
        assert saved == first  # the connection keeps the catalog it was saved with

        streams = public.get(f"/connections/{conn}").json()["configurations"]["streams"]
        assert (
            public.patch(
                f"/connections/{conn}", json={"configurations": {"streams": streams}}
            ).status_code
            == 200
        )
        resaved = columns(
            c.post("/connections/get", json={"connectionId": conn}).json()["syncCatalog"]
        )
        assert resaved == second  # saving the streams takes the source's current schema


def test_connector_checks_report_failures(
    airbyte_sandbox_factory: Callable[..., Sandbox], tmp_path: Path
) -> None:
    world = fast_world(tmp_path)
    world["sources"][0]["check_error"] = "password authentication failed for user airbyte"
    (tmp_path / "dir.duckdb").mkdir()
    world["destinations"][0]["path"] = str(tmp_path / "dir.duckdb")
    sb = airbyte_sandbox_factory(world)
    headers = {"Authorization": f"Bearer {token_for(sb)}"}
    with httpx.Client(base_url=f"{sb.config_api_root}/v1", headers=headers) as c:
        conn = c.post(
            "/connections/get", json={"connectionId": connection_id(sb, FAST_CONNECTION)}
        ).json()
        src = c.post("/sources/check_connection", json={"sourceId": conn["sourceId"]}).json()
        dst = c.post(
            "/destinations/check_connection", json={"destinationId": conn["destinationId"]}
        ).json()

    assert src["status"] == "failed" and "password authentication failed" in src["message"]
    assert dst["status"] == "failed" and dst["message"]
