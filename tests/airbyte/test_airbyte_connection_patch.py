"""PATCH /connections/{id} and the stored catalog (config API /v1/connections/get)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from airbyte_fakes import CONFIG, CONN_ID, PUBLIC, FakeAirbyte, body_of, connection_body, reply

from luigi_airbyte.airbyte import AirbyteClient
from luigi_airbyte.errors import AirbyteAPIError

PATH = f"{PUBLIC}/connections/{CONN_ID}"


def test_patch_sends_the_body_and_parses_the_connection(
    fake: FakeAirbyte, client: AirbyteClient
) -> None:
    answer = {**connection_body(), "status": "inactive"}
    fake.on("PATCH", PATH, reply(200, answer))
    body = {"status": "inactive", "configurations": {"streams": [{"name": "users"}]}}

    conn = client.patch_connection(CONN_ID, body)

    assert conn.status.value == "inactive"
    assert [body_of(r) for r in fake.calls("PATCH", PATH)] == [body]


def test_patch_is_resent_after_a_5xx_its_values_are_absolute(
    fake: FakeAirbyte, client: AirbyteClient
) -> None:
    fake.on(
        "PATCH", PATH, reply(503, {"title": "service-unavailable"}), reply(200, connection_body())
    )

    client.patch_connection(CONN_ID, {"prefix": "crm_"})

    assert fake.count("PATCH", PATH) == 2


def test_a_refused_value_carries_airbytes_message(fake: FakeAirbyte, client: AirbyteClient) -> None:
    problem = {
        "status": 422,
        "title": "unprocessable-entity",
        "detail": "The body of the request was not understood",
        "data": {"message": "Invalid cron expression: '0 0 25 * * ?'"},
    }
    fake.on("PATCH", PATH, reply(422, problem))

    with pytest.raises(AirbyteAPIError) as info:
        client.patch_connection(CONN_ID, {"schedule": {"scheduleType": "cron"}})

    assert info.value.status_code == 422
    assert "Invalid cron expression" in str(info.value)
    assert fake.count("PATCH", PATH) == 1  # a 4xx is not retried


def test_stored_catalog_needs_the_config_api(
    fake: FakeAirbyte, make_client: Callable[..., AirbyteClient]
) -> None:
    assert make_client().get_stored_catalog(CONN_ID) is None
    catalog = {
        "connectionId": CONN_ID,
        "syncCatalog": {
            "streams": [
                {
                    "stream": {
                        "name": "users",
                        "jsonSchema": {"properties": {"id": {}, "email": {}}},
                    },
                    "config": {"selected": True, "primaryKey": [["id"]]},
                },
                {"stream": {"name": "logs", "jsonSchema": {"properties": {}}}, "config": {}},
            ]
        },
    }
    fake.on("POST", f"{CONFIG}/v1/connections/get", reply(200, catalog))
    client = make_client(config_api_url="http://airbyte.test:8000/api")

    stored = client.get_stored_catalog(CONN_ID)

    assert stored is not None
    assert [(s.name, s.columns, s.selected, s.primary_key) for s in stored] == [
        ("users", ("id", "email"), True, (("id",),)),
        ("logs", (), False, ()),
    ]
