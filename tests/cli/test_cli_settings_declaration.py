"""Each setting is declared once (a field of the pipeline file's models); every view follows.

The walk over the declaration (`SETTINGS`) must reach the resolved view, the env
var names, the luigi.cfg options, the JSON Schema, ``config show`` and the settings
table in docs/configuration.md, so adding a field is the whole of adding a setting.
"""

from __future__ import annotations

import importlib.util
import json
import re
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, get_args

import pytest
from pydantic import BaseModel

from luigi_airbyte.pipeline import SETTINGS, SettingSpec, resolve_settings
from luigi_airbyte.pipeline._models import PollSection, Setting
from luigi_airbyte.pipeline._schema import pipeline_json_schema, setting_properties
from luigi_airbyte.pipeline._settings_spec import BY_KEY, settings_of, settings_table_markdown
from luigi_airbyte.pipeline._types import Duration
from luigi_airbyte.secrets import SecretRef

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DOC = ROOT / "docs" / "configuration.md"
README = ROOT / "README.md"
_CANDIDATES = ("sample-value", "https://auth.example/token", "sqlite:////tmp/x.db")


def _sample(spec: SettingSpec) -> str:
    """A valid value for ``spec`` that differs from its default, as a string."""
    if spec.secret:
        return "env:SAMPLE_SECRET"
    if spec.key == "airbyte.auth.type":
        return "bearer"
    if spec.default is not None:
        for text in ("7", "2h", "fixed", "cancel", "json", "true", "none", "res_2", "dir2", "h:1"):
            try:
                if spec.parse(text) != spec.default:
                    return text
            except Exception:  # trying candidates until one parses
                continue
    for text in _CANDIDATES:
        try:
            spec.parse(text)
        except Exception:
            continue
        return text
    raise AssertionError(f"no sample value for {spec.key}")


def _auth_env(spec: SettingSpec) -> dict[str, str]:
    """Env that selects an auth type having ``spec``, with its other required fields set."""
    if not spec.is_auth or spec.key == "airbyte.auth.type":
        return {}
    owner: type[BaseModel] = spec.owners[0]
    (kind,) = get_args(owner.model_fields["type"].annotation)
    env = {"LUIGI_AIRBYTE_AIRBYTE__AUTH__TYPE": kind}
    for other in SETTINGS:
        info = owner.model_fields.get(other.name)
        if other.is_auth and other.name != "type" and info is not None and info.is_required():
            env[other.env_var] = _sample(other)
    return env


def _env_for(spec: SettingSpec) -> dict[str, str]:
    env = {**_auth_env(spec), spec.env_var: _sample(spec)}
    if spec.key == "airbyte.auth.type":
        env["LUIGI_AIRBYTE_AIRBYTE__AUTH__TOKEN"] = "env:T"
    return env


def _ids(spec: SettingSpec) -> str:
    return spec.key


@pytest.mark.parametrize("spec", SETTINGS, ids=_ids)
def test_setting_reaches_resolved_view_and_env_name(spec: SettingSpec) -> None:
    env = _env_for(spec)
    s = resolve_settings(env=env, luigi_cfg_paths=[])
    assert spec.key in s
    assert s.source(spec.key) == f"env:{spec.env_var}"
    expected = (
        spec.parse(env[spec.env_var]) if not spec.secret else SecretRef("env", "SAMPLE_SECRET")
    )
    assert s[spec.key] == expected
    assert s[spec.key] != spec.default


@pytest.mark.parametrize("spec", SETTINGS, ids=_ids)
def test_setting_reaches_luigi_cfg_option(spec: SettingSpec, tmp_path: Path) -> None:
    env = _env_for(spec)
    value = env.pop(spec.env_var)
    cfg = tmp_path / "luigi.cfg"
    cfg.write_text(f"[airbyte]\n{spec.cfg_option} = {value}\n", encoding="utf-8")
    s = resolve_settings(env=env, luigi_cfg_paths=[cfg])
    assert s.source(spec.key) == f"{cfg} [airbyte] {spec.cfg_option}"


@pytest.mark.parametrize("spec", SETTINGS, ids=_ids)
def test_setting_reaches_config_show(spec: SettingSpec, invoke: Any) -> None:
    result = invoke("config", "show", "--show-references", "--json", env=_env_for(spec))
    assert result.exit_code == 0, result.output
    rows = {row["key"]: row for row in json.loads(result.stdout)["settings"]}
    assert rows[spec.key]["source"] == f"env:{spec.env_var}"
    assert rows[spec.key]["secret"] is spec.secret


def test_every_setting_is_in_the_json_schema() -> None:
    schema = pipeline_json_schema()
    for spec in SETTINGS:
        props = setting_properties(schema, spec.key)
        assert props, spec.key
        for prop in props:
            assert prop["x-env-var"] == spec.env_var
            if spec.default is not None and "const" not in prop:
                assert prop["default"] == spec.shown_default
            assert prop.get("description") or prop.get("const"), spec.key


def test_every_setting_has_a_row_in_the_docs_table() -> None:
    text = CONFIG_DOC.read_text(encoding="utf-8")
    for spec in SETTINGS:
        default = "—" if spec.shown_default is None else f"`{spec.shown_default}`"
        row = f"| `{spec.key}` | {default} | `{spec.env_var}` | `{spec.cfg_option}` | "
        assert row in text, spec.key
        assert spec.description, f"{spec.key}: give the field a docstring"


def test_readme_settings_rows_match_the_declaration() -> None:
    """README keeps a short table by hand; each of its rows names a real key and env var."""
    rows = re.findall(r"^\| `([a-z_.]+)` \| `(LUIGI_AIRBYTE_[A-Z_]+)` \|", README.read_text(), re.M)
    assert len(rows) >= 5
    for key, env_var in rows:
        assert key in BY_KEY, f"README names an unknown setting {key}"
        assert BY_KEY[key].env_var == env_var, key


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_config_docs", ROOT / "scripts" / "gen_config_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_doc_table_is_up_to_date() -> None:
    current = CONFIG_DOC.read_text(encoding="utf-8")
    assert settings_table_markdown() in current
    assert _load_generator().render(current) == current, (
        "docs/configuration.md is out of date: run python scripts/gen_config_docs.py"
    )


def test_a_new_field_is_a_new_setting() -> None:
    """Adding a setting = adding one field: its name, parser and default follow."""

    class Poll2(PollSection):
        jitter: Annotated[Duration | None, Setting(timedelta(seconds=5))] = None
        """Random extra wait between polls."""

    class File(BaseModel):
        poll: Poll2 | None = None

    (spec,) = [s for s in settings_of(File) if s.key == "poll.jitter"]
    assert spec.env_var == "LUIGI_AIRBYTE_POLL__JITTER"
    assert spec.cfg_option == "poll_jitter"
    assert spec.default == timedelta(seconds=5) and spec.shown_default == "5s"
    assert spec.parse("1m") == timedelta(minutes=1)
    assert spec.description == "Random extra wait between polls."
    assert [s.key for s in settings_of(File)] == ["poll.strategy", "poll.interval", "poll.jitter"]
