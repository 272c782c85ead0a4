"""Canary: a unique secret and token never reach logs, exceptions or reprs, on any path.

The fake Airbyte here is hostile: its error bodies echo the request's headers and body
back, as some proxies and frameworks do, so any leak through "Airbyte's own message"
would show.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from airbyte_fakes import BASE, CONFIG, PUBLIC, TOKEN_PATH, FakeAirbyte, job_body

from luigi_airbyte.airbyte import (
    AirbyteClient,
    AirbyteClientCredentials,
    BasicAuth,
    BearerToken,
    OIDCClientCredentials,
    RetryPolicy,
)

SECRET = f"CANARY-{uuid.uuid4()}"
TOKEN = f"CANARY-{uuid.uuid4()}"
CLIENT_ID = "canary-client"
BASIC_FORMS = [
    base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode(),
    base64.b64encode(f"user:{SECRET}".encode()).decode(),
]
JOB = PUBLIC + "/jobs/1"
OIDC_URL = "https://idp.test/oauth2/token"


def echo(status: int) -> Callable[[httpx.Request], httpx.Response]:
    """An error answer that repeats the request's headers and body in every message field."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen = f"headers={dict(request.headers)} body={request.content.decode()}"
        return httpx.Response(
            status,
            json={
                "status": status,
                "title": "echo",
                "detail": seen,
                "message": seen,
                "data": {"message": seen},
                "error_description": seen,
                "_embedded": {"errors": [{"message": seen}]},
            },
        )

    return handler


def token_ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"access_token": TOKEN, "expires_in": 900})


def raise_(exc: type[httpx.TransportError]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("transport failed", request=request)

    return handler


@dataclass
class Scenario:
    name: str
    routes: dict[tuple[str, str], list[Callable[[httpx.Request], httpx.Response]]]
    call: Callable[[AirbyteClient], object]
    auth: str = "client_credentials"


def get_job(c: AirbyteClient) -> object:
    return c.get_job(1)


def create_job(c: AirbyteClient) -> object:
    return c.create_job("conn")


SCENARIOS = [
    Scenario(
        "success",
        {
            ("POST", TOKEN_PATH): [token_ok],
            ("GET", JOB): [lambda r: httpx.Response(200, json=job_body())],
        },
        get_job,
    ),
    Scenario("401-twice", {("POST", TOKEN_PATH): [token_ok], ("GET", JOB): [echo(401)]}, get_job),
    Scenario("500s", {("POST", TOKEN_PATH): [token_ok], ("GET", JOB): [echo(500)]}, get_job),
    Scenario("403", {("POST", TOKEN_PATH): [token_ok], ("GET", JOB): [echo(403)]}, get_job),
    Scenario(
        "create-job-500",
        {("POST", TOKEN_PATH): [token_ok], ("POST", PUBLIC + "/jobs"): [echo(500)]},
        create_job,
    ),
    Scenario(
        "create-job-409",
        {("POST", TOKEN_PATH): [token_ok], ("POST", PUBLIC + "/jobs"): [echo(409)]},
        create_job,
    ),
    Scenario(
        "read-timeout",
        {("POST", TOKEN_PATH): [token_ok], ("GET", JOB): [raise_(httpx.ReadTimeout)]},
        get_job,
    ),
    Scenario(
        "create-job-dropped",
        {
            ("POST", TOKEN_PATH): [token_ok],
            ("POST", PUBLIC + "/jobs"): [raise_(httpx.RemoteProtocolError)],
        },
        create_job,
    ),
    Scenario("connect-error", {("GET", JOB): [raise_(httpx.ConnectError)]}, get_job),
    Scenario("token-400-echo", {("POST", TOKEN_PATH): [echo(400)]}, get_job),
    Scenario("token-401-echo", {("POST", TOKEN_PATH): [echo(401)]}, get_job),
    Scenario("token-500-echo", {("POST", TOKEN_PATH): [echo(500)]}, create_job),
    Scenario("token-timeout", {("POST", TOKEN_PATH): [raise_(httpx.ReadTimeout)]}, create_job),
    Scenario(
        "token-garbage",
        {
            ("POST", TOKEN_PATH): [
                lambda r: httpx.Response(200, json={"echo": r.content.decode(), "token": TOKEN})
            ]
        },
        get_job,
    ),
    Scenario(
        "config-api-500",
        {
            ("POST", TOKEN_PATH): [token_ok],
            ("GET", CONFIG + "/v1/health"): [lambda r: httpx.Response(200, json={})],
            ("POST", CONFIG + "/v1/jobs/get_without_logs"): [echo(500)],
        },
        lambda c: c.get_job_details(1),
    ),
    Scenario(
        "discover-failure-echo",
        {
            ("POST", TOKEN_PATH): [token_ok],
            ("GET", CONFIG + "/v1/health"): [lambda r: httpx.Response(200, json={})],
            ("POST", CONFIG + "/v1/sources/discover_schema"): [
                lambda r: httpx.Response(
                    200,
                    json={
                        "jobInfo": {
                            "succeeded": False,
                            "failureReason": {"externalMessage": str(dict(r.headers))},
                        }
                    },
                )
            ],
        },
        lambda c: c.discover_schema("s"),
    ),
    Scenario(
        "oidc-basic-401-echo",
        {("POST", "/oauth2/token"): [echo(401)]},
        get_job,
        auth="oidc_basic",
    ),
    Scenario("oidc-body-400-echo", {("POST", "/oauth2/token"): [echo(400)]}, get_job, auth="oidc"),
    Scenario(
        "oidc-then-401-echo",
        {("POST", "/oauth2/token"): [token_ok], ("GET", JOB): [echo(401)]},
        get_job,
        auth="oidc",
    ),
    Scenario("bearer-401-echo", {("GET", JOB): [echo(401)]}, get_job, auth="bearer"),
    Scenario("basic-401-echo", {("GET", JOB): [echo(401)]}, get_job, auth="basic"),
]


def make_auth(kind: str) -> httpx.Auth:
    if kind == "client_credentials":
        return AirbyteClientCredentials(CLIENT_ID, SECRET, source="env:CANARY")
    if kind == "oidc":
        return OIDCClientCredentials(OIDC_URL, CLIENT_ID, lambda: SECRET, scope="s")
    if kind == "oidc_basic":
        return OIDCClientCredentials(OIDC_URL, CLIENT_ID, SECRET, client_auth="basic")
    if kind == "bearer":
        return BearerToken(TOKEN)
    if kind == "basic":
        return BasicAuth("user", SECRET)
    raise AssertionError(kind)


def chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def assert_clean(text: str, where: str) -> None:
    for canary in (SECRET, TOKEN, *BASIC_FORMS):
        assert canary not in text, f"a secret leaked into {where}: {text[:300]}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_canaries_never_leak(scenario: Scenario, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeAirbyte()
    for (method, path), replies in scenario.routes.items():
        fake.on(method, path, *replies)
    auth = make_auth(scenario.auth)
    client = AirbyteClient(
        url=BASE,
        auth=auth,
        transport=fake.transport(),
        retry=RetryPolicy(max_attempts=2, sleep=lambda s: None),
    )
    caplog.set_level(logging.DEBUG)
    error: BaseException | None = None
    with client:
        try:
            scenario.call(client)
        except Exception as exc:
            error = exc
        assert_clean(repr(client), "repr(client)")
        assert_clean(repr(auth) + str(auth), "repr(auth)")
    if scenario.name != "success":
        assert error is not None, "the scenario should fail"
    for link in chain(error):
        assert_clean(str(link), f"str({type(link).__name__})")
        assert_clean(repr(link), f"repr({type(link).__name__})")
        assert_clean(json.dumps([str(a) for a in link.args]), f"{type(link).__name__}.args")
    for record in caplog.records:
        assert_clean(record.getMessage(), f"log record {record.name}")
        assert_clean(repr(record.args), f"log args {record.name}")
        assert_clean(record.exc_text or "", f"log exc_text {record.name}")
    # and the hostile server really did see (and echo) the secret or token
    if scenario.name.endswith("echo") or scenario.name in ("401-twice", "500s"):
        seen = " ".join(f"{dict(r.headers)} {r.content.decode()}" for r in fake.requests)
        assert any(c in seen for c in (SECRET, TOKEN, *BASIC_FORMS))
