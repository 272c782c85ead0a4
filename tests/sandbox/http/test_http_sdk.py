"""Conformance with the official Python SDK (``airbyte-api`` 1.0.1, generated from the spec).

The SDK validates every response against its own models, so a shape the sandbox gets wrong
raises ``ResponseValidationError``; its HTTP client is also our validating client, so every
response is checked against the OpenAPI documents as well.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from airbyte_api import AirbyteAPI, api, errors, models
from sandbox_http_helpers import FAST_CONNECTION, HTTP, SLOW_CONNECTION, connection_id, token_for

from luigi_airbyte.sandbox import Sandbox

TERMINAL = (
    models.JobStatusEnum.SUCCEEDED,
    models.JobStatusEnum.FAILED,
    models.JobStatusEnum.CANCELLED,
)


def make_sdk(sb: Sandbox, http: httpx.Client, token_url: str) -> AirbyteAPI:
    creds = models.SchemeClientCredentials(
        client_id=sb.client_id, client_secret=sb.client_secret, token_url=token_url
    )
    return AirbyteAPI(
        server_url=sb.url, security=models.Security(client_credentials=creds), client=http
    )


@pytest.fixture
def sdk(sb: Sandbox, validated: Callable[..., httpx.Client]) -> Iterator[AirbyteAPI]:
    # token_url must be relative without a leading slash (or absolute): the SDK urljoins it
    # onto server_url, and "/applications/token" would drop the /api/public/v1 prefix.
    with validated() as http:
        yield make_sdk(sb, http, "v1/applications/token")


def poll(sdk: AirbyteAPI, job_id: int, timeout: float = 20) -> models.JobResponse:
    deadline = time.monotonic() + timeout
    while True:
        job = sdk.jobs.get_job(request=api.GetJobRequest(job_id=job_id)).job_response
        assert job is not None
        if job.status in TERMINAL:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job.status}"
        time.sleep(0.05)


def test_sync_with_the_sdk(sb: Sandbox, sdk: AirbyteAPI) -> None:
    listed = sdk.connections.list_connections(request=api.ListConnectionsRequest())
    assert listed.connections_response is not None
    names = {c.name for c in listed.connections_response.data}
    assert FAST_CONNECTION in names
    conn = connection_id(sb, FAST_CONNECTION)
    got = sdk.connections.get_connection(request=api.GetConnectionRequest(connection_id=conn))
    assert got.connection_response is not None
    assert got.connection_response.workspace_id == sb.workspace_id

    created = sdk.jobs.create_job(
        request=models.JobCreateRequest(connection_id=conn, job_type=models.JobTypeEnum.SYNC)
    ).job_response
    assert created is not None
    done = poll(sdk, created.job_id)
    assert done.status == models.JobStatusEnum.SUCCEEDED
    assert done.rows_synced is not None and done.rows_synced > 0
    assert done.last_updated_at is not None

    jobs = sdk.jobs.list_jobs(
        request=api.ListJobsRequest(
            connection_id=conn, order_by="createdAt|DESC", job_type=models.JobTypeEnum.SYNC
        )
    ).jobs_response
    assert jobs is not None
    assert [j.job_id for j in jobs.data] == [created.job_id]
    assert jobs.next  # non-empty page -> a next link

    # a second create while nothing runs is fine; while running it is a 409
    again = sdk.jobs.create_job(
        request=models.JobCreateRequest(connection_id=conn, job_type=models.JobTypeEnum.SYNC)
    ).job_response
    assert again is not None
    with pytest.raises(errors.SDKError) as info:
        sdk.jobs.create_job(
            request=models.JobCreateRequest(connection_id=conn, job_type=models.JobTypeEnum.SYNC)
        )
    assert info.value.status_code == 409
    poll(sdk, again.job_id)


def test_cancel_with_the_sdk(sb: Sandbox, sdk: AirbyteAPI) -> None:
    conn = connection_id(sb, SLOW_CONNECTION)
    created = sdk.jobs.create_job(
        request=models.JobCreateRequest(connection_id=conn, job_type=models.JobTypeEnum.SYNC)
    ).job_response
    assert created is not None
    cancelled = sdk.jobs.cancel_job(request=api.CancelJobRequest(job_id=created.job_id))
    assert cancelled.job_response is not None
    assert poll(sdk, created.job_id).status == models.JobStatusEnum.CANCELLED


def test_every_read_endpoint_parses(sb: Sandbox, sdk: AirbyteAPI) -> None:
    health = sdk.health.get_health_check()
    assert health.status_code == 200
    workspaces = sdk.workspaces.list_workspaces(request=api.ListWorkspacesRequest())
    assert workspaces.workspaces_response is not None
    assert [w.workspace_id for w in workspaces.workspaces_response.data] == [sb.workspace_id]
    ws = sdk.workspaces.get_workspace(request=api.GetWorkspaceRequest(workspace_id=sb.workspace_id))
    assert ws.workspace_response is not None
    conn = sdk.connections.get_connection(
        request=api.GetConnectionRequest(connection_id=connection_id(sb, FAST_CONNECTION))
    ).connection_response
    assert conn is not None
    source = sdk.sources.get_source(request=api.GetSourceRequest(source_id=conn.source_id))
    # the SDK squeezes configuration into one of ~600 typed unions; read it raw (notes §7.5)
    assert source.raw_response.json()["configuration"]["password"] == "**********"
    destination = sdk.destinations.get_destination(
        request=api.GetDestinationRequest(destination_id=conn.destination_id)
    )
    assert destination.destination_response is not None
    assert destination.destination_response.destination_type == "duckdb"
    streams = sdk.streams.get_stream_properties(
        request=api.GetStreamPropertiesRequest(
            source_id=conn.source_id, destination_id=conn.destination_id
        )
    ).stream_properties_response
    assert streams is not None
    assert {s.stream_name for s in streams} == {"users", "orders"}


def test_token_url_forms(sb: Sandbox, validated: Callable[..., httpx.Client]) -> None:
    with validated() as http:
        absolute = make_sdk(sb, http, f"{sb.url}/applications/token")
        assert (
            absolute.workspaces.list_workspaces(request=api.ListWorkspacesRequest()).status_code
            == 200
        )
    # the trap: the default "/applications/token" resolves to <host>/applications/token,
    # which is not an Airbyte path (404) -- the same failure users hit against real Airbyte.
    # Fresh credentials, because the SDK caches tokens per client id at class level.
    app = HTTP.post(
        f"{sb.url}/applications",
        json={"name": "trap"},
        headers={"Authorization": f"Bearer {token_for(sb)}"},
    ).json()
    creds = models.SchemeClientCredentials(
        client_id=app["clientId"],
        client_secret=app["clientSecret"],
        token_url="/applications/token",
    )
    with httpx.Client(verify=False) as http:
        trapped = AirbyteAPI(
            server_url=sb.url, security=models.Security(client_credentials=creds), client=http
        )
        with pytest.raises(Exception, match=r"404|token"):
            trapped.workspaces.list_workspaces(request=api.ListWorkspacesRequest())
    assert sb.requests("/applications/token", method="POST")[-1]["path"] == "/applications/token"
