"""The one secret primitive: what counts as a secret and how it is masked, for every layer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from luigi_airbyte.airbyte._errors import make_redactor
from luigi_airbyte.checks import mask_url as checks_mask_url
from luigi_airbyte.masking import (
    MASK,
    MIN_SECRET_LENGTH,
    is_maskable,
    is_secret_name,
    mask_url,
    mask_values,
)
from luigi_airbyte.observe.redact import Redactor
from luigi_airbyte.store import mask_url as store_mask_url
from luigi_airbyte.store.runs import summarize_argv
from luigi_airbyte.transforms._env import masking_redactor, secret_values

SRC = Path(__file__).resolve().parents[1] / "src" / "luigi_airbyte"
SECRET = "CANARY-s3cr3t-value"


def test_values_shorter_than_the_minimum_are_not_masked() -> None:
    short = "x" * (MIN_SECRET_LENGTH - 1)
    long = "y" * MIN_SECRET_LENGTH
    assert not is_maskable(short) and is_maskable(long)
    assert mask_values(f"{short} {long}", [short, long]) == f"{short} {MASK}"


def test_longer_secret_is_masked_whole_when_it_contains_a_shorter_one() -> None:
    assert mask_values("a=abcdef123456", ["abcdef", "abcdef123456"]) == f"a={MASK}"


@pytest.mark.parametrize(
    ("url", "leak"),
    [
        ("postgresql://user:CANARY-pw@db:5432/x", "CANARY-pw"),
        ("duckdb:///w.db?password=CANARY-q&mode=ro", "CANARY-q"),
        ("https://host/path?token=CANARY-t", "CANARY-t"),
        ("not a url but user:CANARY-u@host in text", None),
    ],
)
def test_mask_url_hides_passwords_and_secret_query_values(url: str, leak: str | None) -> None:
    out = mask_url(url)
    if leak is not None:
        assert leak not in out
        assert MASK in out
    assert out.split("?")[0].split("://")[0] == url.split("?")[0].split("://")[0]


def test_mask_url_keeps_plain_query_values() -> None:
    assert mask_url("duckdb:///w.db?mode=ro") == "duckdb:///w.db?mode=ro"


@pytest.mark.parametrize(
    "name", ["DBT_ENV_SECRET_X", "PGPASSWORD", "--api-key", "sslpassword", "AUTH_TOKEN"]
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["PATH", "--date", "schema", "mode"])
def test_plain_names(name: str) -> None:
    assert not is_secret_name(name)


def test_every_layer_masks_the_same_value_the_same_way() -> None:
    """The client, the transforms, the redactor, the store and the checks agree."""
    text = f"failed with {SECRET} inside"
    expected = f"failed with {MASK} inside"
    redactor = Redactor()
    redactor.register(SECRET)
    assert redactor.redact_str(text) == expected
    assert make_redactor(lambda: [SECRET])(text) == expected
    env_secrets = secret_values({"DBT_ENV_SECRET_PW": SECRET})
    assert masking_redactor(env_secrets, lambda t: t)(text) == expected
    url = f"postgresql://u:{SECRET}@h/db"
    assert SECRET not in checks_mask_url(url) and SECRET not in store_mask_url(url)
    assert SECRET not in (summarize_argv(["run", f"--store-url={url}"]) or "")


def test_short_values_follow_one_rule_everywhere() -> None:
    short = "abcde"  # one shorter than the minimum
    assert len(short) + 1 == MIN_SECRET_LENGTH
    text = f"x {short} y"
    redactor = Redactor()
    redactor.register(short)
    assert redactor.redact_str(text) == text
    assert make_redactor(lambda: [short])(text) == text
    assert secret_values({"DB_PASSWORD": short}) == []


_OWN_MASKING = re.compile(r"""["']\*\*\*["']|re\.compile\(r?["'][^"']*(?:passw|pwd)""")


def test_no_module_but_masking_defines_how_secrets_are_masked() -> None:
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path.name != "masking.py"
        and "sandbox" not in path.parts
        and _OWN_MASKING.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], f"mask with luigi_airbyte.masking instead: {offenders}"
