"""Error responses become the error tree, with method, path, status and Airbyte's words."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from airbyte_fakes import CONN_ID, PUBLIC, FakeAirbyte, fail, reply

from luigi_airbyte.airbyte import AirbyteClient, RetryPolicy
from luigi_airbyte.airbyte._errors import error_from_response
from luigi_airbyte.errors import (
    AirbyteAPIError,
    AirbyteError,
    AirbyteTransportError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    StateConflictError,
    SyncAlreadyRunningError,
)

JOBS = PUBLIC + "/jobs"
MakeClient = Callable[..., AirbyteClient]

# Exact bodies from airbyte-api-notes.md §2 and §6.
TRY_AGAIN_LATER = {
    "status": 409,
    "type": "https://reference.airbyte.com/reference/errors#try-again-later",
    "title": "try-again-later",
    "detail": "Please try again later.",
    "data": {"message": f"A sync is already running for: {CONN_ID}"},
}
STATE_CONFLICT_INACTIVE = {
    "status": 409,
    "type": "https://reference.airbyte.com/reference/errors#409-state-conflict",
    "title": "state-conflict",
    "detail": "State conflict",
    "data": {"message": "Could not fulfill request"},
}
CONFIG_API_ALREADY_RUNNING = {
    "message": f"A sync is already running for: {CONN_ID}",
    "exceptionClassName": "io.airbyte.commons.server.errors.ValueConflictKnownException",
    "exceptionStack": ["at io.airbyte..."],
}
NOT_FOUND = {
    "status": 404,
    "type": "https://reference.airbyte.com/reference/errors#resource-not-found",
    "title": "resource-not-found",
    "detail": "The requested resource could not be found.",
    "data": {"resourceType": "connection", "resourceId": CONN_ID},
}
UNPROCESSABLE = {
    "status": 422,
    "type": "https://reference.airbyte.com/reference/errors#unprocessable-entity",
    "title": "unprocessable-entity",
    "detail": "The body of the request was not understood",
    "data": {"message": "Refreshes are not supported in the public API"},
}
FORBIDDEN = {
    "status": 403,
    "type": "https://reference.airbyte.com/reference/errors#forbidden",
    "title": "forbidden",
    "detail": "The request is forbidden.",
    "data": {"message": "User does not have the required permissions"},
}
MICRONAUT = {
    "message": "Bad Request",
    "_links": {"self": {"href": "/api/public/v1/jobs", "templated": False}},
    "_embedded": {"errors": [{"message": "Failed to convert argument [jobId]"}]},
}


def test_409_try_again_later_is_sync_already_running(
    fake: FakeAirbyte, client: AirbyteClient
) -> None:
    fake.on("POST", JOBS, reply(409, TRY_AGAIN_LATER))
    with pytest.raises(SyncAlreadyRunningError) as info:
        client.create_job(CONN_ID)
    err = info.value
    assert isinstance(err, ConflictError)
    assert (err.status_code, err.method, err.path) == (409, "POST", JOBS)
    assert err.problem_type == "try-again-later"
    text = str(err)
    assert text.startswith("POST /api/public/v1/jobs returned 409 (try-again-later)")
    assert f"A sync is already running for: {CONN_ID}" in text
    assert "attach" in text
    assert fake.count("POST", JOBS) == 1


def test_409_state_conflict_on_create_hints_at_an_inactive_connection(
    fake: FakeAirbyte, client: AirbyteClient
) -> None:
    fake.on("POST", JOBS, reply(409, STATE_CONFLICT_INACTIVE))
    with pytest.raises(StateConflictError) as info:
        client.create_job(CONN_ID)
    assert info.value.problem_type == "state-conflict"
    assert "Could not fulfill request" in str(info.value)
    assert "active" in str(info.value)


def test_config_api_409_known_exception_is_sync_already_running(fake: FakeAirbyte) -> None:
    fake.on("POST", "/api/v1/connections/sync", reply(409, CONFIG_API_ALREADY_RUNNING))
    with httpx.Client(transport=fake.transport()) as raw:
        response = raw.post("http://airbyte.test:8000/api/v1/connections/sync", json={})
    err = error_from_response(
        response, method="POST", path="/api/v1/connections/sync", redact=lambda s: s
    )
    assert isinstance(err, SyncAlreadyRunningError)
    assert "A sync is already running" in str(err)


def test_unknown_409_is_a_conflict(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("DELETE", JOBS + "/5", reply(409, {"message": "something else"}))
    with pytest.raises(ConflictError) as info:
        client.cancel_job(5)
    assert type(info.value) is ConflictError


@pytest.mark.parametrize(
    ("status", "body", "cls", "words"),
    [
        (404, NOT_FOUND, NotFoundError, "The requested resource could not be found."),
        (422, UNPROCESSABLE, AirbyteAPIError, "Refreshes are not supported in the public API"),
        (403, FORBIDDEN, AuthenticationError, "User does not have the required permissions"),
        (400, MICRONAUT, AirbyteAPIError, "Failed to convert argument [jobId]"),
        (429, {"title": "too-many"}, RateLimitedError, "too-many"),
        (503, {"title": "service-unavailable"}, ServerError, "service-unavailable"),
    ],
    ids=["not-found", "unprocessable", "forbidden", "micronaut", "rate-limited", "unavailable"],
)
def test_status_maps_to_class_and_message(
    status: int,
    body: dict[str, object],
    cls: type[AirbyteAPIError],
    words: str,
    fake: FakeAirbyte,
    make_client: MakeClient,
) -> None:
    client = make_client(retry=RetryPolicy.disabled())
    fake.on("GET", JOBS + "/7", reply(status, body))
    with pytest.raises(cls) as info:
        client.get_job(7)
    err = info.value
    assert err.status_code == status
    text = str(err)
    assert f"GET {JOBS}/7 returned {status}" in text
    assert words in text
    assert err.hint and err.hint in text


def test_plain_text_error_body_is_used(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("GET", JOBS + "/7", reply(400, text="bad job id"))
    with pytest.raises(AirbyteAPIError, match="bad job id"):
        client.get_job(7)


def test_html_instead_of_json_hints_at_the_url(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("GET", JOBS + "/7", reply(200, text="<html>Airbyte</html>"))
    with pytest.raises(AirbyteAPIError, match="not the web UI"):
        client.get_job(7)


def test_missing_required_field_is_an_api_error(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("GET", JOBS + "/7", reply(200, {"status": "running"}))
    with pytest.raises(AirbyteAPIError, match="jobId"):
        client.get_job(7)


def test_long_server_messages_are_shortened(fake: FakeAirbyte, client: AirbyteClient) -> None:
    fake.on("GET", JOBS + "/7", reply(404, {"detail": "x" * 5000}))
    with pytest.raises(NotFoundError) as info:
        client.get_job(7)
    assert len(str(info.value)) < 800


def test_transport_errors_are_translated_from_httpx(
    fake: FakeAirbyte, make_client: MakeClient
) -> None:
    client = make_client(retry=RetryPolicy.disabled())
    fake.on("GET", JOBS + "/7", fail(httpx.ReadTimeout, "timed out"))
    with pytest.raises(AirbyteTransportError) as info:
        client.get_job(7)
    err = info.value
    assert isinstance(err, AirbyteError)
    assert isinstance(err.__cause__, httpx.ReadTimeout)
    assert (err.method, err.path) == ("GET", JOBS + "/7")
    assert "GET /api/public/v1/jobs/7 failed: ReadTimeout: timed out" in str(err)


def test_bad_url_is_not_retried_and_says_so(fake: FakeAirbyte, make_client: MakeClient) -> None:
    client = make_client()
    fake.on(
        "GET",
        JOBS + "/7",
        fail(httpx.UnsupportedProtocol, "Request URL has an unsupported protocol"),
    )
    with pytest.raises(AirbyteTransportError, match="http:// or https://"):
        client.get_job(7)
    assert fake.count("GET", JOBS + "/7") == 1
