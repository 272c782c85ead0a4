"""JSON Schema for editors, duration/tolerance parsing, and a fuzz of the loader."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from luigi_airbyte.errors import ConfigError
from luigi_airbyte.pipeline import (
    format_duration,
    load_pipeline_file,
    parse_duration,
    pipeline_json_schema,
    validate_pipeline_data,
)

VALID = Path(__file__).parent / "valid"


def _yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def test_schema_is_valid_draft_2020_12() -> None:
    schema = pipeline_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("2020-12/schema")
    json.dumps(schema)  # serialisable for `luigi-airbyte schema`


@pytest.mark.parametrize("path", sorted(VALID.glob("*.yaml")), ids=lambda p: p.stem)
def test_valid_files_match_the_schema(path: Path) -> None:
    jsonschema.Draft202012Validator(pipeline_json_schema()).validate(_yaml(path))


def test_schema_rejects_unknown_keys_and_documents_fields() -> None:
    schema = pipeline_json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    data = _yaml(VALID / "minimal.yaml")
    data["pipeline"] = {}
    assert not validator.is_valid(data)
    defs = schema["$defs"]
    sync = defs["SyncStep"]["properties"]
    assert "sync" in sync and "name" not in sync  # the file's spelling, not the attribute
    assert "description" in sync["connection"]
    assert defs["ClientCredentialsAuth"]["properties"]["client_secret"]["pattern"].startswith(
        "^(env"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("6h", timedelta(hours=6)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        (" 6H ", timedelta(hours=6)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["6hrs", "", "h", "1.5h", "-1h", "0s", "400d", 60, None, "1h 2x"])
def test_bad_durations(bad: object) -> None:
    from pydantic_core import PydanticCustomError

    with pytest.raises(PydanticCustomError) as info:
        parse_duration(bad)
    assert info.value.context and info.value.context["fix"]


@given(st.integers(min_value=1, max_value=365 * 86400))
def test_duration_round_trip(seconds: int) -> None:
    td = timedelta(seconds=seconds)
    assert parse_duration(format_duration(td)) == td


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12)
)
_keys = st.sampled_from(
    [
        "version",
        "pipelines",
        "owners",
        "steps",
        "sync",
        "check",
        "dbt",
        "after",
        "owner",
        "connection",
        "freshness",
        "airbyte",
        "auth",
        "type",
        "url",
        "counts",
        "expect",
        "streams",
        "x",
        "env",
        "argv",
    ]
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=5)),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_values)
def test_any_data_gives_a_model_or_a_config_error(data: Any) -> None:
    """Whatever the YAML holds, the loader answers with a model or a ConfigError."""
    try:
        validate_pipeline_data(data)
    except ConfigError as exc:
        assert exc.problems and all(p.fix and p.message for p in exc.problems)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_give_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, blob: bytes
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "pipeline.yaml"
    path.write_bytes(blob)
    with pytest.raises(ConfigError):
        load_pipeline_file(path)
