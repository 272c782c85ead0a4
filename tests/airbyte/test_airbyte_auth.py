"""Auth flows: lazy tokens, refresh before expiry, one refresh on 401, one refresh per herd."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest
from airbyte_fakes import (
    PUBLIC,
    TOKEN_PATH,
    FakeAirbyte,
    FakeClock,
    fail,
    job_body,
    reply,
)

from luigi_airbyte.airbyte import (
    AirbyteClient,
    AirbyteClientCredentials,
    BasicAuth,
    BearerToken,
    OIDCClientCredentials,
    RetryPolicy,
)
from luigi_airbyte.errors import (
    AirbyteTransportError,
    AuthenticationError,
    ConfigError,
    ServerError,
)

JOB = PUBLIC + "/jobs/1"
MakeClient = Callable[..., AirbyteClient]


def jwt(exp: float) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part({'exp': exp, 'sub': 'app'})}.c2lnbmF0dXJl"


def tokens_issued(fake: FakeAirbyte, token_path: str = TOKEN_PATH) -> Callable[..., None]:
    """A token endpoint that issues tok-1, tok-2, ...; returns a setter for expires_in."""
    state = {"n": 0, "expires_in": 900}

    def handler(request: httpx.Request) -> httpx.Response:
        state["n"] += 1
        return httpx.Response(
            200,
            json={
                "access_token": f"tok-{state['n']}",
                "token_type": "Bearer",
                "expires_in": state["expires_in"],
            },
        )

    fake.on("POST", token_path, handler)

    def set_expiry(seconds: int) -> None:
        state["expires_in"] = seconds

    return set_expiry


def bearer(request: httpx.Request) -> str:
    return str(request.headers.get("authorization", ""))


def test_token_is_fetched_lazily_once(fake: FakeAirbyte, make_client: MakeClient) -> None:
    tokens_issued(fake)
    fake.on("GET", JOB, reply(200, job_body()))
    client = make_client(auth=AirbyteClientCredentials("cid", "csecret"))
    assert fake.requests == []  # nothing until the first call
    client.get_job(1)
    client.get_job(1)
    assert fake.count("POST", TOKEN_PATH) == 1
    assert [bearer(r) for r in fake.calls("GET", JOB)] == ["Bearer tok-1", "Bearer tok-1"]
    token_request = fake.calls("POST", TOKEN_PATH)[0]
    assert json.loads(token_request.content) == {
        "client_id": "cid",
        "client_secret": "csecret",
        "grant-type": "client_credentials",
    }
    assert "authorization" not in token_request.headers


def test_refresh_happens_before_expires_in(fake: FakeAirbyte, make_client: MakeClient) -> None:
    tokens_issued(fake)  # expires_in 900 -> skew min(60, 180) = 60 -> refresh at 840
    fake.on("GET", JOB, reply(200, job_body()))
    clock = FakeClock()
    auth = AirbyteClientCredentials("cid", "csecret", clock=clock)
    client = make_client(auth=auth)
    client.get_job(1)
    assert auth.refresh_at == pytest.approx(clock.now + 840)
    clock.advance(839)
    client.get_job(1)
    assert fake.count("POST", TOKEN_PATH) == 1
    clock.advance(2)
    client.get_job(1)
    assert fake.count("POST", TOKEN_PATH) == 2
    assert bearer(fake.calls("GET", JOB)[-1]) == "Bearer tok-2"


def test_short_lifetime_uses_twenty_percent_skew(
    fake: FakeAirbyte, make_client: MakeClient
) -> None:
    set_expiry = tokens_issued(fake)
    set_expiry(100)  # skew = min(60, 20) = 20 -> refresh at 80
    fake.on("GET", JOB, reply(200, job_body()))
    clock = FakeClock()
    auth = AirbyteClientCredentials("cid", "csecret", clock=clock)
    client = make_client(auth=auth)
    client.get_job(1)
    assert auth.refresh_at == pytest.approx(clock.now + 80)
    clock.advance(79)
    client.get_job(1)
    assert fake.count("POST", TOKEN_PATH) == 1
    clock.advance(2)
    client.get_job(1)
    assert fake.count("POST", TOKEN_PATH) == 2


def test_jwt_exp_earlier_than_expires_in_wins(fake: FakeAirbyte, make_client: MakeClient) -> None:
    clock = FakeClock()
    token = jwt(clock.now + 300)
    fake.on(
        "POST",
        TOKEN_PATH,
        reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": 900}),
    )
    fake.on("GET", JOB, reply(200, job_body()))
    auth = AirbyteClientCredentials("cid", "csecret", clock=clock)
    client = make_client(auth=auth)
    client.get_job(1)
    assert auth.expires_at == pytest.approx(clock.now + 300)
    assert auth.refresh_at == pytest.approx(clock.now + 240)  # 300 - min(60, 60)
    clock.advance(241)
    client.get_job(1)
    assert fake.count("POST", TOKEN_PATH) == 2


def test_jwt_exp_is_used_when_expires_in_is_missing(
    fake: FakeAirbyte, make_client: MakeClient
) -> None:
    clock = FakeClock()
    fake.on("POST", TOKEN_PATH, reply(200, {"access_token": jwt(clock.now + 120)}))
    fake.on("GET", JOB, reply(200, job_body()))
    auth = AirbyteClientCredentials("cid", "csecret", clock=clock)
    make_client(auth=auth).get_job(1)
    assert auth.refresh_at == pytest.approx(clock.now + 96)  # 120 - 0.2 * 120


def test_opaque_token_without_expiry_is_kept_until_401(
    fake: FakeAirbyte, make_client: MakeClient
) -> None:
    clock = FakeClock()
    fake.on("POST", TOKEN_PATH, reply(200, {"access_token": "opaque"}))
    fake.on("GET", JOB, reply(200, job_body()))
    auth = AirbyteClientCredentials("cid", "csecret", clock=clock)
    client = make_client(auth=auth)
    client.get_job(1)
    clock.advance(10 * 86400)
    client.get_job(1)
    assert fake.count("POST", TOKEN_PATH) == 1


def test_401_refreshes_once_and_resends(fake: FakeAirbyte, make_client: MakeClient) -> None:
    tokens_issued(fake)
    fake.on("GET", JOB, reply(401, {"title": "invalid-api-key"}), reply(200, job_body()))
    client = make_client(auth=AirbyteClientCredentials("cid", "csecret"))
    assert client.get_job(1).job_id == 1
    assert fake.count("POST", TOKEN_PATH) == 2
    assert [bearer(r) for r in fake.calls("GET", JOB)] == ["Bearer tok-1", "Bearer tok-2"]


def test_second_401_is_an_authentication_error_naming_the_token_endpoint(
    fake: FakeAirbyte, make_client: MakeClient
) -> None:
    tokens_issued(fake)
    problem = {
        "status": 401,
        "type": "https://reference.airbyte.com/reference/errors#invalid-api-key",
        "title": "invalid-api-key",
        "detail": "The API key in the Authorization header is invalid.",
    }
    fake.on("GET", JOB, reply(401, problem))
    auth = AirbyteClientCredentials("cid", "csecret", source="env:AIRBYTE_CLIENT_SECRET")
    client = make_client(auth=auth)
    with pytest.raises(AuthenticationError) as info:
        client.get_job(1)
    err = info.value
    assert err.status_code == 401
    text = str(err)
    assert "GET /api/public/v1/jobs/1 returned 401" in text
    assert "The API key in the Authorization header is invalid." in text
    assert "http://airbyte.test:8000/api/public/v1/applications/token" in text
    assert "env:AIRBYTE_CLIENT_SECRET" in text
    assert fake.count("GET", JOB) == 2  # the resend, and no more
    assert fake.count("POST", TOKEN_PATH) == 2


def test_concurrent_threads_share_one_token_fetch(
    fake: FakeAirbyte, make_client: MakeClient
) -> None:
    def slow_token(request: httpx.Request) -> httpx.Response:
        time.sleep(0.05)
        return httpx.Response(200, json={"access_token": "tok", "expires_in": 900})

    fake.on("POST", TOKEN_PATH, slow_token)
    fake.on("GET", JOB, reply(200, job_body()))
    client = make_client(auth=AirbyteClientCredentials("cid", "csecret"))
    errors: list[BaseException] = []

    def work() -> None:
        try:
            client.get_job(1)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert fake.count("POST", TOKEN_PATH) == 1
    assert fake.count("GET", JOB) == 8


def test_concurrent_401s_trigger_one_refresh(fake: FakeAirbyte, make_client: MakeClient) -> None:
    tokens_issued(fake)
    gate = threading.Barrier(6, timeout=5)

    def api(request: httpx.Request) -> httpx.Response:
        if bearer(request) == "Bearer tok-1":
            try:
                gate.wait()  # every thread holds a stale token at the same time
            except threading.BrokenBarrierError:
                pass
            return httpx.Response(401, json={"title": "invalid-api-key"})
        return httpx.Response(200, json=job_body())

    fake.on("GET", JOB, api)
    auth = AirbyteClientCredentials("cid", "csecret")
    client = make_client(auth=auth)
    fake.on("GET", PUBLIC + "/health", reply(200, text="Successful operation"))
    assert client.health()  # fetches tok-1 before the herd starts
    results: list[int] = []

    def work() -> None:
        results.append(client.get_job(1).job_id)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1] * 6
    assert fake.count("POST", TOKEN_PATH) == 2  # tok-1, then a single shared refresh


@pytest.mark.parametrize("status", [400, 415])
def test_json_refused_falls_back_to_form_and_remembers(
    status: int, fake: FakeAirbyte, make_client: MakeClient
) -> None:
    def token(request: httpx.Request) -> httpx.Response:
        if request.headers["content-type"].startswith("application/json"):
            return httpx.Response(status, json={"message": "Unsupported Media Type"})
        return httpx.Response(200, json={"access_token": "tok", "expires_in": 900})

    fake.on("POST", TOKEN_PATH, token)
    fake.on("GET", JOB, reply(200, job_body()))
    auth = AirbyteClientCredentials("cid", "csecret")
    client = make_client(auth=auth)
    client.get_job(1)
    calls = fake.calls("POST", TOKEN_PATH)
    assert len(calls) == 2
    assert calls[1].headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(calls[1].content.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": ["cid"],
        "client_secret": ["csecret"],
    }
    auth.invalidate()
    client.get_job(1)
    assert len(fake.calls("POST", TOKEN_PATH)) == 3  # straight to form this time


def test_bad_client_credentials_are_an_authentication_error(
    fake: FakeAirbyte, make_client: MakeClient
) -> None:
    micronaut = {
        "message": "Bad Request",
        "_links": {"self": {"href": "/api/public/v1/applications/token", "templated": False}},
        "_embedded": {"errors": [{"message": "Invalid client id or token"}]},
    }
    fake.on("POST", TOKEN_PATH, reply(401, micronaut))
    client = make_client(auth=AirbyteClientCredentials("cid", "wrong", source="file:/run/x"))
    with pytest.raises(AuthenticationError) as info:
        client.get_job(1)
    text = str(info.value)
    assert "POST /api/public/v1/applications/token returned 401" in text
    assert "Invalid client id or token" in text
    assert "file:/run/x" in text
    assert fake.count("GET", JOB) == 0
    assert fake.count("POST", TOKEN_PATH) == 1  # 401 is not retried


def test_token_endpoint_5xx_is_retried_even_for_post_jobs(
    fake: FakeAirbyte, make_client: MakeClient
) -> None:
    fake.on(
        "POST",
        TOKEN_PATH,
        reply(503, {"title": "service-unavailable"}),
        reply(200, {"access_token": "tok", "expires_in": 900}),
    )
    fake.on("POST", PUBLIC + "/jobs", reply(200, job_body(status="pending")))
    client = make_client(auth=AirbyteClientCredentials("cid", "csecret"))
    assert client.create_job("c").status.value == "pending"
    assert fake.count("POST", PUBLIC + "/jobs") == 1


def test_token_endpoint_read_timeout_is_retried_without_resending_post_jobs(
    fake: FakeAirbyte, make_client: MakeClient
) -> None:
    fake.on(
        "POST",
        TOKEN_PATH,
        fail(httpx.ReadTimeout),
        reply(200, {"access_token": "tok", "expires_in": 900}),
    )
    fake.on("POST", PUBLIC + "/jobs", reply(200, job_body(status="pending")))
    client = make_client(auth=AirbyteClientCredentials("cid", "csecret"))
    client.create_job("c")
    assert fake.count("POST", PUBLIC + "/jobs") == 1
    assert fake.count("POST", TOKEN_PATH) == 2


def test_token_endpoint_giving_up_raises_server_error(
    fake: FakeAirbyte, make_client: MakeClient
) -> None:
    fake.on("POST", TOKEN_PATH, reply(502))
    client = make_client(auth=AirbyteClientCredentials("cid", "csecret"))
    with pytest.raises(ServerError):
        client.get_job(1)
    assert fake.count("POST", TOKEN_PATH) == 4  # the policy's max_attempts


def test_callable_secret_is_read_at_each_fetch(fake: FakeAirbyte, make_client: MakeClient) -> None:
    tokens_issued(fake)
    fake.on("GET", JOB, reply(401), reply(200, job_body()))
    secrets = iter(["old-secret", "new-secret"])
    client = make_client(auth=AirbyteClientCredentials("cid", lambda: next(secrets)))
    client.get_job(1)
    sent = [json.loads(r.content)["client_secret"] for r in fake.calls("POST", TOKEN_PATH)]
    assert sent == ["old-secret", "new-secret"]


def test_explicit_relative_and_absolute_token_urls(
    fake: FakeAirbyte, make_client: MakeClient
) -> None:
    fake.on("POST", "/custom/token", reply(200, {"access_token": "tok", "expires_in": 900}))
    fake.on("GET", JOB, reply(200, job_body()))
    auth = AirbyteClientCredentials("cid", "s", token_url="http://airbyte.test:8000/custom/token")
    make_client(auth=auth).get_job(1)
    assert fake.count("POST", "/custom/token") == 1
    unbound = AirbyteClientCredentials("cid", "s")
    with pytest.raises(ConfigError), httpx.Client(auth=unbound, transport=fake.transport()) as raw:
        raw.get("http://airbyte.test:8000/x")


def test_oidc_sends_standard_form_with_scope_and_audience(
    fake: FakeAirbyte, make_client: MakeClient
) -> None:
    fake.on("POST", "/oauth2/token", reply(200, {"access_token": "idp-tok", "expires_in": 3600}))
    fake.on("GET", JOB, reply(200, job_body()))
    auth = OIDCClientCredentials(
        "https://idp.test/oauth2/token",
        "cid",
        "csecret",
        scope=["airbyte.read", "airbyte.write"],
        audience="airbyte",
    )
    make_client(auth=auth).get_job(1)
    request = fake.calls("POST", "/oauth2/token")[0]
    assert request.url.host == "idp.test"
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["airbyte.read airbyte.write"],
        "audience": ["airbyte"],
        "client_id": ["cid"],
        "client_secret": ["csecret"],
    }
    assert "authorization" not in request.headers
    assert bearer(fake.calls("GET", JOB)[0]) == "Bearer idp-tok"


def test_oidc_basic_client_auth(fake: FakeAirbyte, make_client: MakeClient) -> None:
    fake.on("POST", "/token", reply(200, {"access_token": "idp-tok", "expires_in": 3600}))
    fake.on("GET", JOB, reply(200, job_body()))
    auth = OIDCClientCredentials("https://idp.test/token", "c id", "s:ecret", client_auth="basic")
    make_client(auth=auth).get_job(1)
    request = fake.calls("POST", "/token")[0]
    assert parse_qs(request.content.decode()) == {"grant_type": ["client_credentials"]}
    expected = base64.b64encode(b"c+id:s%3Aecret").decode()
    assert request.headers["authorization"] == f"Basic {expected}"


def test_oidc_error_body_is_reported(fake: FakeAirbyte, make_client: MakeClient) -> None:
    body = {"error": "invalid_client", "error_description": "Client authentication failed"}
    fake.on("POST", "/token", reply(401, body))
    client = make_client(auth=OIDCClientCredentials("https://idp.test/token", "cid", "s"))
    with pytest.raises(AuthenticationError, match="Client authentication failed"):
        client.get_job(1)


def test_bearer_token(fake: FakeAirbyte, make_client: MakeClient) -> None:
    fake.on("GET", JOB, reply(200, job_body()))
    make_client(auth=BearerToken("static-token")).get_job(1)
    assert bearer(fake.requests[0]) == "Bearer static-token"


def test_bearer_static_token_401_is_not_resent(fake: FakeAirbyte, make_client: MakeClient) -> None:
    fake.on("GET", JOB, reply(401))
    with pytest.raises(AuthenticationError, match="bearer token"):
        make_client(auth=BearerToken("static-token")).get_job(1)
    assert fake.count("GET", JOB) == 1


def test_bearer_callable_is_reread_after_401(fake: FakeAirbyte, make_client: MakeClient) -> None:
    fake.on("GET", JOB, reply(401), reply(200, job_body()))
    tokens = iter(["stale", "fresh"])
    make_client(auth=BearerToken(lambda: next(tokens))).get_job(1)
    assert [bearer(r) for r in fake.calls("GET", JOB)] == ["Bearer stale", "Bearer fresh"]


def test_basic_auth(fake: FakeAirbyte, make_client: MakeClient) -> None:
    fake.on("GET", JOB, reply(200, job_body()))
    make_client(auth=BasicAuth("airbyte", "password")).get_job(1)
    assert fake.requests[0].headers["authorization"] == "Basic " + base64.b64encode(
        b"airbyte:password"
    ).decode("ascii")


def test_httpx_basic_auth_also_works(fake: FakeAirbyte, make_client: MakeClient) -> None:
    fake.on("GET", JOB, reply(200, job_body()))
    make_client(auth=httpx.BasicAuth("airbyte", "password")).get_job(1)
    assert fake.requests[0].headers["authorization"].startswith("Basic ")


def test_no_auth_sends_no_header_and_hints_on_401(
    fake: FakeAirbyte, make_client: MakeClient
) -> None:
    fake.on("GET", JOB, reply(401))
    with pytest.raises(AuthenticationError, match="abctl local credentials"):
        make_client().get_job(1)
    assert "authorization" not in fake.requests[0].headers


def test_reprs_hide_secrets() -> None:
    texts = [
        repr(AirbyteClientCredentials("cid", "s3cr3t-value")),
        repr(OIDCClientCredentials("https://idp/t", "cid", "s3cr3t-value")),
        repr(BearerToken("s3cr3t-value")),
        repr(BasicAuth("u", "s3cr3t-value")),
        str(AirbyteClientCredentials("cid", "s3cr3t-value")),
    ]
    for text in texts:
        assert "s3cr3t-value" not in text
        assert "hidden" in text


def test_a_token_endpoint_that_never_answers_times_out_with_the_clients_timeout() -> None:
    """A token request is built inside the auth flow, where httpx gives it no timeout: a
    server that accepts the connection and never answers hung the client for good."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/api/public/v1"
        client = AirbyteClient(
            url=url,
            auth=AirbyteClientCredentials("cid", "csecret"),
            timeout=0.3,
            retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01),
            config_api_url=None,
        )
        outcome: list[BaseException | None] = []

        def call() -> None:
            try:
                client.get_job(1)
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=call, daemon=True)
        worker.start()
        worker.join(timeout=20)
        client.close()
    assert not worker.is_alive(), "the token request hung: it was sent with no timeout"
    assert isinstance(outcome[0], AirbyteTransportError), outcome
