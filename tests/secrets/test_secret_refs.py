"""Secret references, the literal-secret heuristics, SecretValue masking, env provider, resolver."""

from __future__ import annotations

import logging
import pickle
import threading

import pytest

from luigi_airbyte.errors import SecretError
from luigi_airbyte.secrets import (
    EnvProvider,
    InvalidSecretRef,
    SecretRef,
    SecretResolver,
    SecretValue,
    is_secret_key,
    is_secret_reference,
    looks_like_literal_secret,
    resolve,
    suggest_reference,
)

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:airbyte-AbCdEf"


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("env:AIRBYTE_CLIENT_SECRET", SecretRef("env", "AIRBYTE_CLIENT_SECRET")),
        ("file:/run/secrets/airbyte", SecretRef("file", "/run/secrets/airbyte")),
        (
            "file:~/.airbyte.json#client_secret",
            SecretRef("file", "~/.airbyte.json", "client_secret"),
        ),
        (f"aws-sm:{ARN}#client_secret", SecretRef("aws-sm", ARN, "client_secret")),
        ("aws-sm:prod/airbyte", SecretRef("aws-sm", "prod/airbyte")),
        (
            "vault:secret/airbyte/prod#client_secret",
            SecretRef("vault", "secret/airbyte/prod", "client_secret"),
        ),
    ],
)
def test_parse_and_round_trip(text: str, ref: SecretRef) -> None:
    assert SecretRef.parse(text) == ref
    assert str(ref) == text
    assert is_secret_reference(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("hunter2", "unknown secret reference scheme"),
        ("envv:X", "did you mean 'env:'"),
        ("env:", "env: needs an environment variable name"),
        ("env:1BAD", "env: needs an environment variable name"),
        ("file:relative/path", "absolute path"),
        ("file:/x#", "the key after '#' is empty"),
        ("vault:secret#key", "vault: needs a mount, a path and a key"),
        ("vault:secret/airbyte", "vault: needs a mount, a path and a key"),
        ("aws-sm:arn:aws:s3:::bucket", "not a Secrets Manager secret ARN"),
        (" env:X", "spaces"),
    ],
)
def test_invalid_references_say_why_and_how(text: str, reason: str) -> None:
    with pytest.raises(InvalidSecretRef) as info:
        SecretRef.parse(text)
    assert isinstance(info.value, ValueError)
    assert reason in str(info.value) and info.value.fix
    assert not is_secret_reference(text)


def test_invalid_reference_never_echoes_a_literal() -> None:
    with pytest.raises(ValueError) as info:
        SecretRef.parse("CANARY-hunter2:value")
    assert "CANARY" not in str(info.value)


@pytest.mark.parametrize(
    ("key", "value", "secret"),
    [
        ("client_secret", "abc", True),
        ("password", 12345, True),
        ("API_KEY", "x1", True),
        ("apiKey", "x1", True),
        ("AWS_SECRET_ACCESS_KEY", "wJalr", True),
        ("spark.hadoop.fs.s3a.secret.key", "wJalr", True),
        ("GITHUB_TOKEN", "x", True),
        ("client_secret", "env:X", False),
        ("client_secret", "", False),
        ("client_secret", None, False),
        ("token_url", "https://idp/token", False),
        ("password_file", "/run/secrets/pw", False),
        ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE", False),
        ("tokens", "analytics.tokens", False),
        ("region", "eu-west-1", False),
        ("url", "postgresql://u:pw@h/db", True),
        ("url", "postgresql://u@h/db", False),
        ("url", "https://hooks.example/x?token=abc", True),
        ("hook", "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXX", True),
        ("note", "ghp_" + "a" * 36, True),
        ("key", "-----BEGIN RSA PRIVATE KEY-----", True),
        ("enabled", True, False),
    ],
)
def test_literal_secret_heuristic(key: str, value: object, secret: bool) -> None:
    assert looks_like_literal_secret(key, value) is secret


def test_secret_key_names() -> None:
    assert (
        is_secret_key("DB_PASSWORD") and is_secret_key("private_key") and is_secret_key("x-api-key")
    )
    assert not is_secret_key("secret_name") and not is_secret_key("token_ttl")


def test_suggestions_never_contain_the_value() -> None:
    assert (
        suggest_reference("password", "${PG_PASSWORD}")
        == "the file is not shell-expanded: write env:PG_PASSWORD"
    )
    assert "hunter2" not in suggest_reference("db password", "hunter2")
    assert "env:DB_PASSWORD" in suggest_reference("db password", "hunter2")


# --- SecretValue ---------------------------------------------------------------------------


def test_secret_value_is_masked_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    v = SecretValue("CANARY-s3cr3t")
    assert str(v) == "****" and repr(v) == "SecretValue('****')"
    assert f"{v} {v!s} {v!r} {v:>20}".count("CANARY") == 0
    assert "%s" % v == "****"  # noqa: UP031
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("secret=%s %r", v, {"s": v})
    assert "CANARY" not in caplog.text
    assert v.reveal() == "CANARY-s3cr3t"
    assert v == SecretValue("CANARY-s3cr3t") and v != SecretValue("other")
    assert len({v, SecretValue("CANARY-s3cr3t")}) == 1
    with pytest.raises(TypeError):
        pickle.dumps(v)
    with pytest.raises(TypeError):
        SecretValue(123)  # type: ignore[arg-type]


# --- env provider and resolver -------------------------------------------------------------


def test_env_provider() -> None:
    provider = EnvProvider({"A": "x", "EMPTY": ""})
    assert provider.fetch(SecretRef("env", "A")).reveal() == "x"
    with pytest.raises(SecretError, match="environment variable MISSING is not set"):
        provider.fetch(SecretRef("env", "MISSING"))
    with pytest.raises(SecretError, match="is empty"):
        provider.fetch(SecretRef("env", "EMPTY"))


class CountingProvider:
    def __init__(self) -> None:
        self.calls = 0

    def fetch(self, ref: SecretRef) -> SecretValue:
        self.calls += 1
        return SecretValue(f"{ref.location}-{self.calls}")


def test_resolver_caches_until_invalidated() -> None:
    counting = CountingProvider()
    resolver = SecretResolver({"env": counting})
    assert resolver.resolve("env:A").reveal() == "A-1"
    assert resolver.resolve(SecretRef("env", "A")).reveal() == "A-1"
    assert resolver.resolve("env:B").reveal() == "B-2"
    resolver.invalidate("env:A")
    assert resolver.resolve("env:A").reveal() == "A-3"
    assert resolver.resolve("env:B").reveal() == "B-2"
    resolver.invalidate()
    assert resolver.resolve("env:B").reveal() == "B-4"
    uncached = SecretResolver({"env": counting}, cache=False)
    uncached.resolve("env:A")
    uncached.resolve("env:A")
    assert counting.calls == 6


def test_resolver_is_thread_safe() -> None:
    resolver = SecretResolver({"env": EnvProvider({"A": "x"})})
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(resolver.resolve("env:A").reveal()))
        for _ in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["x"] * 16


def test_resolve_rejects_non_references_without_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SecretError) as info:
        resolve("CANARY-literal-value")
    assert "CANARY" not in str(info.value)
    monkeypatch.setenv("LA_TEST_SECRET", "v")
    assert resolve("env:LA_TEST_SECRET").reveal() == "v"
