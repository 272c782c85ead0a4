"""AirbyteClient methods: pagination, lookups, the config API and its graceful absence."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
from airbyte_fakes import (
    BASE,
    CONFIG,
    CONN_ID,
    PUBLIC,
    WS_ID,
    FakeAirbyte,
    body_of,
    connection_body,
    fail,
    job_body,
    reply,
)

import luigi_airbyte.airbyte as airbyte_pkg
from luigi_airbyte.airbyte import AirbyteClient, Job, JobStatus, JobType, RetryPolicy
from luigi_airbyte.errors import AirbyteError, ConfigError, ConnectionLookupError, NotFoundError

JOBS = PUBLIC + "/jobs"
MakeClient = Callable[..., AirbyteClient]


def page(items: list[dict[str, Any]], *, next_url: str = "") -> Callable[..., httpx.Response]:
    return reply(200, {"data": items, "next": next_url, "previous": ""})


def jobs(*ids: int) -> list[dict[str, Any]]:
    return [job_body(i, status="succeeded") for i in ids]


# -- pagination ------------------------------------------------------------------------


def test_list_jobs_stops_on_a_short_page_even_with_a_next_link(
    fake: FakeAirbyte, client: AirbyteClient
) -> None:
    # Airbyte's next link is non-empty on the last, short page
    fake.on(
        "GET",
        JOBS,
        page(jobs(5, 4), next_url=BASE + "/jobs?limit=2&offset=2"),
        page(jobs(3), next_url=BASE + "/jobs?limit=2&offset=4"),
        page(jobs(99, 98)),  # never asked for
    )
    result = [j.job_id for j in client.list_jobs(CONN_ID, page_size=2)]
    assert result == [5, 4, 3]
    assert fake.count("GET", JOBS) == 2
    offsets = [r.url.params["offset"] for r in fake.calls("GET", JOBS)]
    assert offsets == ["0", "2"]


def test_list_jobs_stops_on_an_empty_page(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("GET", JOBS, page(jobs(4, 3), next_url="x"), page(jobs(2, 1), next_url="y"), page([]))
    assert [j.job_id for j in client.list_jobs(page_size=2)] == [4, 3, 2, 1]
    assert fake.count("GET", JOBS) == 3


def test_list_jobs_query_parameters(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("GET", JOBS, page([]))
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    end = datetime(2024, 1, 2, 12, 30)  # naive: taken as UTC
    list(
        client.list_jobs(
            CONN_ID,
            job_type=JobType.SYNC,
            status=JobStatus.RUNNING,
            created_at_start=start,
            created_at_end=end,
            page_size=50,
        )
    )
    params = fake.requests[0].url.params
    assert dict(params) == {
        "orderBy": "createdAt|DESC",
        "connectionId": CONN_ID,
        "jobType": "sync",
        "status": "running",
        "createdAtStart": "2024-01-01T00:00:00Z",
        "createdAtEnd": "2024-01-02T12:30:00Z",
        "limit": "50",
        "offset": "0",
    }


def test_list_jobs_max_items_and_duplicates(fake: FakeAirbyte, client: AirbyteClient) -> None:
    # a job created meanwhile shifts DESC offsets: job 3 appears on both pages
    fake.on("GET", JOBS, page(jobs(4, 3)), page(jobs(3, 2)), page(jobs(1)))
    assert [j.job_id for j in client.list_jobs(page_size=2)] == [4, 3, 2, 1]
    fake.requests.clear()
    fake.on("GET", JOBS, page(jobs(4, 3)), page(jobs(2, 1)))
    assert [j.job_id for j in client.list_jobs(page_size=2, max_items=3)] == [4, 3, 2]
    assert fake.count("GET", JOBS) == 2
    assert list(client.list_jobs(max_items=0)) == []


@pytest.mark.parametrize("kwargs", [{"order_by": "id|DESC"}, {"page_size": 0}, {"page_size": 101}])
def test_list_jobs_rejects_bad_arguments_before_any_request(
    kwargs: dict[str, Any], fake: FakeAirbyte, client: AirbyteClient
) -> None:
    with pytest.raises(ValueError):
        client.list_jobs(**kwargs)
    assert fake.requests == []


def test_list_connections_paginates_with_repeated_workspace_ids(
    fake: FakeAirbyte, client: AirbyteClient
) -> None:
    first = [connection_body(f"c-{i}", f"n{i}") for i in range(100)]
    fake.on("GET", PUBLIC + "/connections", page(first, next_url="x"), page([connection_body()]))
    found = list(client.list_connections(["w1", "w2"]))
    assert len(found) == 101
    request = fake.calls("GET", PUBLIC + "/connections")[0]
    assert request.url.params.get_list("workspaceIds") == ["w1", "w2"]
    assert request.url.params["limit"] == "100"


def test_list_workspaces(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("GET", PUBLIC + "/workspaces", page([{"workspaceId": WS_ID, "name": "Default"}]))
    (ws,) = client.list_workspaces()
    assert (ws.workspace_id, ws.name) == (WS_ID, "Default")


# -- lookups ---------------------------------------------------------------------------------


def test_resolve_connection_by_id(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("GET", f"{PUBLIC}/connections/{CONN_ID}", reply(200, connection_body()))
    assert client.resolve_connection(CONN_ID).name == "crm"
    assert fake.count("GET", PUBLIC + "/connections") == 0


def test_resolve_connection_by_unknown_id_is_not_found(
    fake: FakeAirbyte, client: AirbyteClient
) -> None:
    with pytest.raises(NotFoundError, match="connection id"):
        client.resolve_connection(CONN_ID)


def test_resolve_connection_by_name_within_a_workspace(
    fake: FakeAirbyte, client: AirbyteClient
) -> None:
    fake.on(
        "GET",
        PUBLIC + "/connections",
        page([connection_body("id-1", "crm"), connection_body("id-2", "Postgres CRM → Warehouse")]),
    )
    found = client.resolve_connection("Postgres CRM → Warehouse", workspace_id=WS_ID)
    assert found.connection_id == "id-2"
    assert fake.requests[0].url.params.get_list("workspaceIds") == [WS_ID]


def test_resolve_connection_ambiguous_lists_candidates(
    fake: FakeAirbyte, client: AirbyteClient
) -> None:
    fake.on(
        "GET",
        PUBLIC + "/connections",
        page([connection_body("id-1", "crm"), connection_body("id-2", "crm")]),
    )
    with pytest.raises(ConnectionLookupError) as info:
        client.resolve_connection("crm")
    assert info.value.candidates == ("crm (id-1)", "crm (id-2)")
    assert "ambiguous" in str(info.value)


def test_resolve_connection_none_matches(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("GET", PUBLIC + "/connections", page([connection_body("id-1", "CRM")]))
    with pytest.raises(ConnectionLookupError) as info:
        client.resolve_connection("crm")  # exact match only
    assert info.value.candidates == ()
    assert "no connection named 'crm'" in str(info.value)


def test_sources_destinations_and_stream_properties(
    fake: FakeAirbyte, client: AirbyteClient
) -> None:
    fake.on(
        "GET",
        PUBLIC + "/sources/s1",
        reply(
            200, {"sourceId": "s1", "name": "pg", "sourceType": "postgres", "workspaceId": WS_ID}
        ),
    )
    fake.on(
        "GET",
        PUBLIC + "/destinations/d1",
        reply(
            200,
            {
                "destinationId": "d1",
                "name": "dw",
                "destinationType": "duckdb",
                "workspaceId": WS_ID,
            },
        ),
    )
    fake.on(
        "GET",
        PUBLIC + "/streams",
        reply(
            200,
            [
                {
                    "streamName": "users",
                    "streamnamespace": "public",
                    "syncModes": ["incremental_append"],
                    "propertyFields": [["id"], ["email"]],
                }
            ],
        ),
    )
    assert client.get_source("s1").source_type == "postgres"
    assert client.get_destination("d1").destination_type == "duckdb"
    (props,) = client.get_stream_properties("s1", "d1")
    assert props.namespace == "public" and props.property_fields == (("id",), ("email",))
    params = fake.calls("GET", PUBLIC + "/streams")[0].url.params
    assert dict(params) == {"sourceId": "s1", "destinationId": "d1", "ignoreCache": "false"}


def test_create_get_cancel_job(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("POST", JOBS, reply(200, job_body(7, status="pending")))
    fake.on("GET", JOBS + "/7", reply(200, job_body(7, status="running")))
    fake.on("DELETE", JOBS + "/7", reply(200, job_body(7, status="cancelled")))
    assert client.create_job(CONN_ID, JobType.RESET).status is JobStatus.PENDING
    assert body_of(fake.calls("POST", JOBS)[0]) == {"connectionId": CONN_ID, "jobType": "reset"}
    assert client.get_job(7).status is JobStatus.RUNNING
    assert client.cancel_job(7).status is JobStatus.CANCELLED


def test_applications(fake: FakeAirbyte, client: AirbyteClient) -> None:
    app = {"id": "a1", "name": "rot", "clientId": "cid", "clientSecret": "shh", "createdAt": 1}
    fake.on("GET", PUBLIC + "/applications", reply(200, {"applications": [app]}))
    fake.on("POST", PUBLIC + "/applications", reply(200, app))
    fake.on("DELETE", PUBLIC + "/applications/a1", reply(200, app))
    (listed,) = client.list_applications()
    assert listed.client_secret == "shh" and "shh" not in repr(listed)
    assert client.create_application("rot").application_id == "a1"
    assert body_of(fake.calls("POST", PUBLIC + "/applications")[0]) == {"name": "rot"}
    assert client.delete_application("a1").name == "rot"


def test_create_application_is_not_retried(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("POST", PUBLIC + "/applications", reply(503))
    with pytest.raises(AirbyteError):
        client.create_application("rot")
    assert fake.count("POST", PUBLIC + "/applications") == 1


def test_health(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("GET", PUBLIC + "/health", reply(200, text="Successful operation"))
    assert client.health() is True
    fake.on("GET", PUBLIC + "/health", reply(503, {"title": "service-unavailable"}))
    assert client.health() is False
    fake.on("GET", PUBLIC + "/health", fail(httpx.ConnectError))
    assert client.health() is False


# -- config API --------------------------------------------------------------------------------

JOB_INFO = {
    "job": {
        "id": 7,
        "configType": "sync",
        "configId": CONN_ID,
        "createdAt": 1_700_000_000,
        "updatedAt": 1_700_000_100,
        "status": "failed",
    },
    "attempts": [
        {
            "attempt": {
                "id": 0,
                "status": "failed",
                "createdAt": 1,
                "updatedAt": 2,
                "streamStats": [{"streamName": "users", "stats": {"recordsCommitted": 4}}],
                "failureSummary": {"failures": [{"timestamp": 1, "externalMessage": "disk full"}]},
            }
        }
    ],
}


def test_config_api_is_derived_probed_once_and_used(
    fake: FakeAirbyte, make_client: MakeClient
) -> None:
    fake.on("GET", CONFIG + "/v1/health", reply(200, {"available": True}))
    fake.on("POST", CONFIG + "/v1/jobs/get_without_logs", reply(200, JOB_INFO))
    client = make_client(config_api_url="auto")
    assert fake.requests == []  # lazy
    details = client.get_job_details(7)
    assert details is not None
    assert details.stats.records_committed == 4
    assert details.failure_reason == "disk full"
    client.get_job_details(7)
    assert fake.count("GET", CONFIG + "/v1/health") == 1
    assert body_of(fake.calls("POST", CONFIG + "/v1/jobs/get_without_logs")[0]) == {"id": 7}


def test_get_job_details_falls_back_to_jobs_get(fake: FakeAirbyte, make_client: MakeClient) -> None:
    fake.on("POST", CONFIG + "/v1/jobs/get", reply(200, JOB_INFO))  # no get_without_logs route
    client = make_client(config_api_url="http://airbyte.test:8000/api")
    details = client.get_job_details(7)
    assert details is not None and details.job.job_id == 7


@pytest.mark.parametrize(
    "health",
    [reply(404, {"message": "Page Not Found"}), fail(httpx.ConnectError, "refused")],
    ids=["404", "connection-refused"],
)
def test_missing_config_api_degrades_with_one_info_log(
    health: Callable[..., httpx.Response],
    fake: FakeAirbyte,
    make_client: MakeClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.on("GET", CONFIG + "/v1/health", health)
    client = make_client(config_api_url="auto")
    with caplog.at_level(logging.INFO, logger="luigi_airbyte.airbyte"):
        assert client.get_job_details(7) is None
        assert client.check_source("s1") is None
        assert client.check_destination("d1") is None
        assert client.discover_schema("s1") is None
        assert client.has_config_api() is False
    notes = [r for r in caplog.records if "config API" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelno == logging.INFO
    assert fake.count("GET", CONFIG + "/v1/health") == 1


def test_cloud_has_no_config_api_and_no_probe(fake: FakeAirbyte, make_client: MakeClient) -> None:
    client = make_client(url="https://api.airbyte.com/v1", config_api_url="auto")
    assert client.is_cloud
    assert client.get_job_details(1) is None
    assert fake.requests == []


def test_config_api_can_be_disabled(fake: FakeAirbyte, make_client: MakeClient) -> None:
    client = make_client(config_api_url=None)
    assert client.get_job_details(1) is None
    assert fake.requests == []


def test_connector_checks(fake: FakeAirbyte, make_client: MakeClient) -> None:
    failed = {
        "status": "failed",
        "message": "password authentication failed",
        "jobInfo": {"id": "u", "configType": "check_connection_source", "succeeded": True},
    }
    fake.on("POST", CONFIG + "/v1/sources/check_connection", reply(200, failed))
    fake.on(
        "POST",
        CONFIG + "/v1/destinations/check_connection",
        reply(200, {"status": "succeeded", "jobInfo": {"succeeded": True}}),
    )
    client = make_client(config_api_url="http://airbyte.test:8000/api")
    check = client.check_source("s1")
    assert check is not None and not check.succeeded
    assert check.message == "password authentication failed"
    dest = client.check_destination("d1")
    assert dest is not None and dest.succeeded
    assert body_of(fake.calls("POST", CONFIG + "/v1/destinations/check_connection")[0]) == {
        "destinationId": "d1"
    }


def test_discover_schema(fake: FakeAirbyte, make_client: MakeClient) -> None:
    catalog = {
        "jobInfo": {"succeeded": True},
        "catalog": {
            "streams": [
                {
                    "stream": {
                        "name": "users",
                        "jsonSchema": {"properties": {"id": {}, "email": {}}},
                        "supportedSyncModes": ["full_refresh"],
                    },
                    "config": {"syncMode": "full_refresh", "destinationSyncMode": "overwrite"},
                }
            ]
        },
    }
    fake.on("POST", CONFIG + "/v1/sources/discover_schema", reply(200, catalog))
    client = make_client(config_api_url="http://airbyte.test:8000/api")
    streams = client.discover_schema("s1")
    assert streams is not None and streams[0].columns == ("id", "email")
    sent = body_of(fake.calls("POST", CONFIG + "/v1/sources/discover_schema")[0])
    assert sent == {"sourceId": "s1", "disable_cache": True}


def test_failed_discover_raises_with_airbytes_reason(
    fake: FakeAirbyte, make_client: MakeClient
) -> None:
    failed = {"jobInfo": {"succeeded": False, "failureReason": {"externalMessage": "bad creds"}}}
    fake.on("POST", CONFIG + "/v1/sources/discover_schema", reply(200, failed))
    client = make_client(config_api_url="http://airbyte.test:8000/api")
    with pytest.raises(AirbyteError, match="bad creds"):
        client.discover_schema("s1")


# -- URLs, lifecycle, exports ------------------------------------------------------------------


def test_job_url_self_hosted(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("GET", f"{PUBLIC}/connections/{CONN_ID}", reply(200, connection_body()))
    job = Job.from_api(job_body(42))
    expected = (
        f"http://airbyte.test:8000/workspaces/{WS_ID}/connections/{CONN_ID}/job-history#42::0"
    )
    assert client.job_url(job) == expected
    assert client.job_url(job) == expected
    assert fake.count("GET", f"{PUBLIC}/connections/{CONN_ID}") == 1  # cached


def test_job_url_cloud(make_client: MakeClient) -> None:
    client = make_client(url="https://api.airbyte.com/v1")
    from luigi_airbyte.airbyte import Connection

    conn = Connection.from_api(connection_body())
    url = client.job_url(Job.from_api(job_body(42)), conn)
    assert url == (
        f"https://cloud.airbyte.com/workspaces/{WS_ID}/connections/{CONN_ID}/job-history#42::0"
    )


def test_job_url_without_a_workspace_falls_back_to_the_ui(client: AirbyteClient) -> None:
    assert client.job_url(Job.from_api(job_body(42))) == "http://airbyte.test:8000/"


def test_url_must_be_http(make_client: MakeClient) -> None:
    with pytest.raises(ConfigError):
        make_client(url="airbyte.test:8000/api/public/v1")


def test_context_manager_closes(fake: FakeAirbyte) -> None:
    with AirbyteClient(url=BASE, transport=fake.transport()) as client:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        client.get_job(1)


def test_one_log_line_per_request_without_headers(
    fake: FakeAirbyte, client: AirbyteClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake.on("GET", JOBS + "/1", reply(200, job_body()))
    fake.on("POST", JOBS, reply(200, job_body()))
    with caplog.at_level(logging.DEBUG, logger="luigi_airbyte.airbyte"):
        client.get_job(1)
        client.create_job(CONN_ID)
    lines = [
        (r.levelno, r.getMessage()) for r in caplog.records if r.name == "luigi_airbyte.airbyte"
    ]
    assert len(lines) == 2
    assert lines[0][0] == logging.DEBUG and lines[0][1].startswith(
        "HTTP GET /api/public/v1/jobs/1 -> 200"
    )
    assert lines[1][0] == logging.INFO and lines[1][1].startswith(
        "HTTP POST /api/public/v1/jobs -> 200"
    )
    assert all(r.args for r in caplog.records if r.name == "luigi_airbyte.airbyte")  # %-style


def test_custom_retry_and_timeout_are_accepted(fake: FakeAirbyte) -> None:
    fake.on("GET", JOBS + "/1", reply(200, job_body()))
    with AirbyteClient(
        url=BASE + "/",
        transport=fake.transport(),
        timeout=httpx.Timeout(5.0, read=60.0),
        retry=RetryPolicy(max_attempts=2),
        user_agent="tests/1",
    ) as client:
        assert client.url == BASE
        client.get_job(1)
    assert fake.requests[0].headers["user-agent"] == "tests/1"


def test_all_public_names_are_exported() -> None:
    # "@py_*" names come from pytest's assertion rewriting of our plugin's distribution
    public = {name for name in dir(airbyte_pkg) if not name.startswith(("_", "@"))}
    modules = {"client", "job_stats", "models", "webhooks", "annotations"}
    assert set(airbyte_pkg.__all__) == public - modules
    assert airbyte_pkg.__all__ == sorted(airbyte_pkg.__all__)


def test_config_api_refusing_the_credential_degrades_with_a_warning(
    fake: FakeAirbyte, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake.on("POST", CONFIG + "/v1/jobs/get_without_logs", reply(403, {"message": "Forbidden"}))
    client = make_client(config_api_url="http://airbyte.test:8000/api")
    with caplog.at_level(logging.WARNING, logger="luigi_airbyte.airbyte"):
        assert client.get_job_details(7) is None
        assert client.get_job_details(7) is None
    assert fake.count("POST", CONFIG + "/v1/jobs/get_without_logs") == 1
    assert len(caplog.records) == 1 and "refused" in caplog.records[0].getMessage()


def test_ids_cannot_change_the_route(fake: FakeAirbyte, client: AirbyteClient) -> None:
    with pytest.raises(NotFoundError):
        client.get_connection("../jobs?x=1")
    assert fake.requests[0].url.raw_path == b"/api/public/v1/connections/..%2Fjobs%3Fx%3D1"
