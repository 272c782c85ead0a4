"""The literal-secret scan of a pipeline file asks two questions of every value; both are
answered without per-pattern searches or a raised error, with the same answers (issue 10:
validating a 1,000-step file spent ~10 ms here)."""

from __future__ import annotations

import pytest

from luigi_airbyte.secrets._refs import (
    _ANY_TOKEN,
    _TOKEN_PATTERNS,
    InvalidSecretRef,
    SecretRef,
    is_secret_reference,
    literal_secret_reason,
)

TOKENS = [
    "-----BEGIN RSA PRIVATE KEY-----",
    "eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4",
    "ghp_" + "a" * 36,
    "github_pat_" + "b" * 40,
    "xoxb-1234567890-abc",
    "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX",
    "https://discord.com/api/webhooks/123/" + "c" * 30,
    "sk_live_" + "d" * 24,
    "AIza" + "e" * 35,
]
PLAIN = ["conn-0001", "6h", "s0001", "Postgres CRM → Warehouse", "ghp_short", "duckdb:///x"]


@pytest.mark.parametrize("text", TOKENS + PLAIN)
def test_one_search_finds_what_the_patterns_find(text: str) -> None:
    assert bool(_ANY_TOKEN.search(text)) is any(p.search(text) for p in _TOKEN_PATTERNS)


@pytest.mark.parametrize("text", TOKENS)
def test_every_token_kind_is_still_a_literal_secret(text: str) -> None:
    assert literal_secret_reason("note", text) == "the value looks like a token or private key"


def _parses(text: str) -> bool:
    try:
        SecretRef.parse(text)
    except InvalidSecretRef:
        return False
    return True


@pytest.mark.parametrize(
    "text",
    [
        "env:TOKEN",
        "file:/run/secret",
        "envv:TOKEN",
        " env:TOKEN",
        "env",
        "env:",
        "vault:kv/app#key",
        "vault:kv/app#",
        "plain",
        "a:b",
        "",
    ],
)
def test_is_secret_reference_answers_as_parsing_does(text: str) -> None:
    assert is_secret_reference(text) is _parses(text)
