"""Redactor: registered values, their encodings, sensitive keys, patterns, depth cap."""

from __future__ import annotations

import base64
import enum
import json
import logging
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

import pytest

from luigi_airbyte.observe import Event
from luigi_airbyte.observe.redact import REDACTED, Redactor, default_redactor


def test_registered_value_is_masked_in_any_string(redactor: Redactor, canary: str) -> None:
    out = redactor.redact_str(f"connect failed: secret={canary!r}; again {canary}")
    assert canary not in out
    assert out.count(REDACTED) >= 2


@pytest.mark.parametrize(
    "encode",
    [
        lambda v: quote(v, safe=""),
        quote_plus,
        lambda v: base64.b64encode(v.encode()).decode(),
        lambda v: base64.urlsafe_b64encode(v.encode()).decode().rstrip("="),
        lambda v: json.dumps(v)[1:-1],
    ],
    ids=["url-encoded", "quote-plus", "base64", "base64url-unpadded", "json-escaped"],
)
def test_encoded_forms_are_masked(encode: object) -> None:
    secret = 'p@ss/w0rd+"x y"\n&z'
    r = Redactor()
    r.register(secret)
    enc = encode(secret)  # type: ignore[operator]
    assert enc not in r.redact_str(f"body={enc}")


def test_multiline_secret_lines_are_masked() -> None:
    pem = (
        "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQ\nAbCdEfGhIjKlMnOpQrStUv\n-----END KEY-----"
    )
    r = Redactor()
    r.register(pem)
    out = r.redact_str("line: AbCdEfGhIjKlMnOpQrStUv in traceback")
    assert "AbCdEfGhIjKlMnOpQrStUv" not in out


def test_short_values_are_ignored_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    r = Redactor()
    with caplog.at_level(logging.WARNING, logger="luigi_airbyte.observe.redact"):
        assert r.register("abc") is False
        assert r.register("xyz12") is False
        assert r.register("long-enough") is True
    warnings = [rec for rec in caplog.records if "not registered" in rec.getMessage()]
    assert len(warnings) == 1
    assert "abc" not in caplog.text and "xyz12" not in caplog.text
    assert r.redact_str("abc xyz12") == "abc xyz12"


def test_empty_and_none_values_are_ignored() -> None:
    r = Redactor()
    assert r.register(None) is False
    assert r.register("   ") is False
    assert len(r) == 0


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "DB_PASSWORD",
        "passwd",
        "client_secret",
        "clientSecret",
        "api_key",
        "X-Api-Key",
        "apikey",
        "Authorization",
        "access_token",
        "refresh_token",
        "private_key",
        "credentials",
        "aws_secret_access_key",
    ],
)
def test_sensitive_keys_mask_whole_values(key: str) -> None:
    r = Redactor()
    out = r.redact({key: "value-1", "nested": {key: {"deep": [1, 2]}}, "name": "crm"})
    assert out[key] == REDACTED
    assert out["nested"][key] == REDACTED
    assert out["name"] == "crm"


def test_none_under_sensitive_key_stays_none() -> None:
    assert Redactor().redact({"password": None}) == {"password": None}


def test_extra_sensitive_keys() -> None:
    r = Redactor(extra_sensitive_keys=["dsn"])
    assert r.redact({"warehouse_dsn": "postgres://x"})["warehouse_dsn"] == REDACTED


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("Authorization: Bearer abc.def.ghijklmnop", "abc.def.ghijklmnop"),
        ('{"authorization": "Basic dXNlcjpwYXNzd29yZA=="}', "dXNlcjpwYXNzd29yZA=="),
        ("got header authorization=Token 1234567890abcdef", "1234567890abcdef"),
        ("retrying with bearer AbCdEf0123456789", "AbCdEf0123456789"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl end", "c2lnbmF0dXJl"),
        ("postgresql://etl:hunter2hunter@db:5432/warehouse", "hunter2hunter"),
        ("client_id=abc&client_secret=s3cr3t-value&grant_type=x", "s3cr3t-value"),
        ('{"client_secret": "s3 cr3t value", "client_id": "abc"}', "s3 cr3t value"),
        ("{'password': 'pa55word!', 'user': 'etl'}", "pa55word!"),
        ("https://hooks.slack.com/services/T0/B0/XyZsecretpath", "XyZsecretpath"),
    ],
)
def test_credential_patterns_are_masked_without_registration(text: str, leak: str) -> None:
    out = Redactor().redact_str(text)
    assert leak not in out, out


@pytest.mark.parametrize(
    "text",
    [
        "sync crm succeeded: records_emitted=100 bytes=2048",
        "basic validation failed for stream users",
        "Check the client secret in the Airbyte UI",
        "job 42 of connection 5d1e is running",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Redactor().redact_str(text) == text


def test_recursion_over_containers_keeps_types(redactor: Redactor, canary: str) -> None:
    value = {"a": [canary, 1, 2.5, None, True], "b": (canary, "x"), "c": {canary}, 3: "ok"}
    out = redactor.redact(value)
    assert canary not in json.dumps(out, default=str)
    assert isinstance(out["b"], tuple)
    assert out["a"][1:] == [1, 2.5, None, True]
    assert out[3] == "ok"


def test_registered_value_used_as_key_is_masked(redactor: Redactor, canary: str) -> None:
    out = redactor.redact({canary: 1})
    assert canary not in json.dumps(out)


def test_depth_cap_redacts_instead_of_leaking(canary: str) -> None:
    r = Redactor(max_depth=3)
    r.register(canary)
    deep: dict[str, object] = {"v": "plain-but-deep"}
    for _ in range(6):
        deep = {"n": deep}
    out = json.dumps(r.redact(deep))
    assert "plain-but-deep" not in out
    assert REDACTED in out


def test_cycles_do_not_hang() -> None:
    loop: list[object] = ["x"]
    loop.append(loop)
    out = Redactor(max_depth=4).redact(loop)
    assert REDACTED in json.dumps(out)


def test_unknown_objects_become_redacted_strings(redactor: Redactor, canary: str) -> None:
    @dataclass
    class Conn:
        name: str
        secret_value: str

    class Color(enum.Enum):
        RED = canary

    out = redactor.redact({"conn": Conn("crm", canary), "color": Color.RED, "b": canary.encode()})
    assert canary not in json.dumps(out)
    assert "crm" in out["conn"]


def test_exception_values_are_redacted(redactor: Redactor, canary: str) -> None:
    out = redactor.redact({"error": RuntimeError(f"token {canary} refused")})
    assert canary not in out["error"]


def test_redact_event(redactor: Redactor, canary: str) -> None:
    event = Event("sync.failed", {"message": f"x {canary}", "password": "p4ssw0rd"}, level="error")
    safe = redactor.redact_event(event)
    assert safe.name == "sync.failed" and safe.level == "error" and safe.at == event.at
    assert canary not in json.dumps(safe.to_dict()) and "p4ssw0rd" not in json.dumps(safe.to_dict())
    assert event.fields["password"] == "p4ssw0rd"  # the original is untouched


def test_redaction_failure_does_not_leak(canary: str) -> None:
    class Evil:
        def __str__(self) -> str:
            raise RuntimeError(canary)

    assert Redactor().redact({"x": Evil()}) == "<redaction-failed>"


def test_default_redactor_is_a_process_singleton() -> None:
    assert default_redactor() is default_redactor()


def test_register_is_thread_safe() -> None:
    import threading

    r = Redactor()
    values = [f"secret-value-{i:04d}" for i in range(50)]
    threads = [threading.Thread(target=r.register, args=(v,)) for v in values]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = " ".join(values)
    assert all(v not in r.redact_str(text) for v in values)
