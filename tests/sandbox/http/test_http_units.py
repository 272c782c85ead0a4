"""Unit tests of the HTTP layer's pure parts: links, faults, tokens, parsing (no sockets)."""

from __future__ import annotations

import base64

import pytest

from luigi_airbyte.sandbox.auth import TokenIssuer, key_for, parse_basic
from luigi_airbyte.sandbox.errors import BadRequest
from luigi_airbyte.sandbox.http_faults import HttpFault, HttpFaultInjector, format_retry_after
from luigi_airbyte.sandbox.http_pagination import (
    UriBuilder,
    java_url_encode,
    page_response,
)
from luigi_airbyte.sandbox.http_public import parse_order_by
from luigi_airbyte.sandbox.world import HttpFault as WorldHttpFault

CONN = "0b7bd0e2-07c5-4d8a-93a1-4a5a0fb4d6a3"
HOST = "http://localhost:8000/api/public"


# --- pagination links (PaginationMapper + Micronaut DefaultUriBuilder) -----------------------


def jobs_builder(job_type: str | None, connection_id: str | None) -> UriBuilder:
    builder = UriBuilder(f"{HOST}/v1/jobs").query_param("jobType", job_type)
    if connection_id:
        builder.query_param("connectionId", connection_id)
    return builder


def test_next_link_on_a_full_first_page() -> None:
    page = page_response(list(range(12)), 5, 0, jobs_builder("sync", CONN))
    assert page["data"] == [0, 1, 2, 3, 4]
    assert page["next"] == f"{HOST}/v1/jobs?jobType=sync&connectionId={CONN}&limit=5&offset=5"
    assert page["previous"] == ""


def test_short_last_page_still_has_next_and_previous_repeats_limit() -> None:
    page = page_response(list(range(12)), 5, 10, jobs_builder("sync", CONN))
    assert page["data"] == [10, 11]
    assert page["next"] == f"{HOST}/v1/jobs?jobType=sync&connectionId={CONN}&limit=5&offset=15"
    # the builder is shared, so previous appends limit a second time
    assert page["previous"] == (
        f"{HOST}/v1/jobs?jobType=sync&connectionId={CONN}&limit=5&limit=5&offset=5"
    )


def test_empty_page_has_no_next_and_a_single_limit_in_previous() -> None:
    page = page_response(list(range(12)), 5, 20, jobs_builder("sync", CONN))
    assert page == {
        "previous": f"{HOST}/v1/jobs?jobType=sync&connectionId={CONN}&limit=5&offset=15",
        "next": "",
        "data": [],
    }


def test_absent_job_type_leaves_a_stray_ampersand() -> None:
    page = page_response([1], 20, 0, jobs_builder(None, CONN))
    assert page["next"] == f"{HOST}/v1/jobs?&connectionId={CONN}&limit=20&offset=20"


def test_previous_offset_never_goes_negative() -> None:
    page = page_response([], 10, 3, UriBuilder(f"{HOST}/v1/connections"))
    assert page["previous"] == f"{HOST}/v1/connections?limit=10&offset=0"


def test_values_are_form_encoded_like_java() -> None:
    assert java_url_encode("a,b") == "a%2Cb"
    assert java_url_encode("x y~*é") == "x+y%7E*%C3%A9"
    builder = UriBuilder(f"{HOST}/v1/connections").query_param("includeDeleted", False)
    builder.query_param("workspaceIds", "a,b")
    assert page_response([1], 1, 0, builder)["next"] == (
        f"{HOST}/v1/connections?includeDeleted=false&workspaceIds=a%2Cb&limit=1&offset=1"
    )


# --- orderBy ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ("createdAt", False)),
        ("createdAt|ASC", ("createdAt", False)),
        ("createdAt|DESC", ("createdAt", True)),
        ("updatedAt|DESC", ("updatedAt", True)),
        ("UPDATEDAT|ASC", ("updatedAt", False)),  # Enums.toEnum normalises the field
        ("x,createdAt|DESC", ("createdAt", True)),  # the server uses find(), not matches()
    ],
)
def test_order_by_is_parsed_like_the_server(raw: str | None, expected: tuple[str, bool]) -> None:
    assert parse_order_by(raw) == expected


@pytest.mark.parametrize("raw", ["createdAt", "createdAt|desc", "name|ASC", "", "|DESC"])
def test_bad_order_by_is_a_bad_request(raw: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_order_by(raw)
    assert info.value.message == f"Invalid order by clause provided: {raw}"


# --- HTTP faults --------------------------------------------------------------------------------


def test_nth_fires_on_exactly_those_calls() -> None:
    inj = HttpFaultInjector([{"endpoint": "GET /jobs/{jobId}", "status": 502, "nth": [2, 3]}])
    fired = [inj.decide("GET", "/jobs/{jobId}", f"/jobs/{i}") is not None for i in range(1, 6)]
    assert fired == [False, True, True, False, False]
    assert inj.decide("POST", "/jobs", "/jobs") is None  # not matched, not counted
    assert inj.snapshot()[0]["calls"] == 5
    assert inj.snapshot()[0]["fired"] == 2


def test_rate_is_reproducible_from_the_seed() -> None:
    def pattern(seed: int) -> list[bool]:
        inj = HttpFaultInjector([{"endpoint": "*", "status": 500, "rate": 0.3, "seed": seed}])
        return [inj.decide("GET", "/jobs", "/jobs") is not None for _ in range(400)]

    assert pattern(7) == pattern(7)
    assert pattern(7) != pattern(8)
    assert 80 <= sum(pattern(7)) <= 160


def test_endpoint_patterns() -> None:
    fault = HttpFault(endpoint="GET /jobs*", status=500)
    assert fault.matches("GET", "/jobs/{jobId}", "/jobs/3")
    assert fault.matches("get", "/jobs", "/jobs")
    assert not fault.matches("POST", "/jobs", "/jobs")
    concrete = HttpFault(endpoint="GET /jobs/3", status=500)
    assert concrete.matches("GET", "/jobs/{jobId}", "/jobs/3")
    assert not concrete.matches("GET", "/jobs/{jobId}", "/jobs/4")
    config = HttpFault(endpoint="POST /api/v1/jobs/get", status=500)
    assert config.matches("POST", "/api/v1/jobs/get", "/api/v1/jobs/get")


def test_first_failing_fault_wins_and_latencies_add() -> None:
    inj = HttpFaultInjector(
        [
            {"endpoint": "*", "latency_ms": 20},
            {"endpoint": "POST /jobs", "drop_connection": True},
            {"endpoint": "POST /jobs", "status": 503},
        ]
    )
    decision = inj.decide("POST", "/jobs", "/jobs")
    assert decision is not None
    assert decision.latency_s == pytest.approx(0.02)
    assert decision.drop_connection
    assert decision.status is None
    assert decision.faults == [0, 1, 2]


def test_world_faults_keep_the_world_default_status_only_when_nothing_else_is_asked() -> None:
    assert HttpFault.from_any(WorldHttpFault(endpoint="POST /jobs")).status == 503
    latency = HttpFault.from_any(WorldHttpFault(endpoint="*", latency_ms=50))
    assert latency.status is None
    assert latency.latency_ms == 50
    drop = HttpFault.from_any(WorldHttpFault(endpoint="POST /jobs", drop_connection=True))
    assert (drop.status, drop.drop_connection) == (None, True)
    throttle = HttpFault.from_any(WorldHttpFault(status=429, retry_after=2, nth=[1]))
    assert (throttle.status, throttle.retry_after, throttle.nth) == (429, 2, [1])


@pytest.mark.parametrize(
    "bad",
    [
        {"endpoint": "jobs", "status": 500},
        {"endpoint": "*", "status": 200},
        {"endpoint": "*", "status": 500, "rate": 2},
        {"endpoint": "*", "status": 500, "nth": [0]},
        {"endpoint": "*", "status": 500, "color": "red"},
    ],
)
def test_invalid_faults_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        HttpFaultInjector([bad])


def test_a_snapshot_can_be_put_back() -> None:
    inj = HttpFaultInjector([{"endpoint": "*", "latency_ms": 5}, {"status": 429, "nth": [1]}])
    inj.decide("GET", "/jobs", "/jobs")
    again = HttpFaultInjector(inj.snapshot())
    assert [(f["status"], f["latency_ms"], f["calls"]) for f in again.snapshot()] == [
        (None, 5, 0),
        (429, 0, 0),
    ]


def test_retry_after_formatting() -> None:
    assert format_retry_after(2) == "2"
    assert format_retry_after(2.0) == "2"
    assert format_retry_after(0.5) == "0.5"


# --- tokens and basic auth ------------------------------------------------------------------------


def test_tokens_expire_on_time() -> None:
    now = [1000.0]
    issuer = TokenIssuer(clock=lambda: now[0])
    token = issuer.issue("cid", 1)
    assert token.expires_in == 1
    assert issuer.verify(token.access_token) == "cid"
    now[0] += 0.999
    assert issuer.verify(token.access_token) == "cid"
    now[0] += 0.001
    assert issuer.verify(token.access_token) is None


def test_tampered_or_foreign_tokens_are_refused() -> None:
    issuer = TokenIssuer()
    head, body, sig = issuer.issue("cid", 60).access_token.split(".")
    forged = base64.urlsafe_b64encode(b'{"sub":"admin","exp":9e99}').rstrip(b"=").decode()
    assert issuer.verify(f"{head}.{forged}.{sig}") is None
    assert TokenIssuer().verify(f"{head}.{body}.{sig}") is None  # another sandbox's key
    assert issuer.verify("not-a-token") is None
    assert issuer.verify("a.b.c") is None


def test_tokens_survive_a_restart_with_the_same_credentials() -> None:
    key = key_for([("b", "2"), ("a", "1")])
    assert key == key_for([("a", "1"), ("b", "2")])
    assert key != key_for([("a", "1"), ("b", "3")])
    token = TokenIssuer(key).issue("a", 60).access_token
    assert TokenIssuer(key).verify(token) == "a"
    assert TokenIssuer(key_for([("a", "other")])).verify(token) is None


def test_parse_basic() -> None:
    assert parse_basic(base64.b64encode(b"id:se:cret").decode()) == ("id", "se:cret")
    assert parse_basic(base64.b64encode(b"nocolon").decode()) is None
    assert parse_basic("%%%") is None
