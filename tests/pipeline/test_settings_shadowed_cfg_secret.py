"""A literal secret in luigi.cfg / luigi.toml is an error even when a higher layer sets
the same setting (the literal still sits in the file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from luigi_airbyte.errors import ConfigError
from luigi_airbyte.pipeline import load_pipeline_file, resolve_settings

PIPELINE = """\
version: 1
airbyte:
  url: https://airbyte.example/api/public/v1
  auth: {type: client_credentials, client_id: app, client_secret: env:AB_SECRET}
owners: {data: {}}
pipelines:
  p: {owner: data, steps: [{sync: crm, connection: crm}]}
"""
LITERAL = "literalsecretABC"


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("luigi.cfg", f"[airbyte]\nauth_client_secret = {LITERAL}\n", 2),
        ("luigi.toml", f'[airbyte]\nauth_client_secret = "{LITERAL}"\n', 2),
    ],
)
def test_a_shadowed_literal_in_luigi_config_is_still_an_error(
    tmp_path: Path, name: str, text: str, line: int
) -> None:
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(PIPELINE, encoding="utf-8")
    cfg = tmp_path / name
    cfg.write_text(text, encoding="utf-8")
    pf = load_pipeline_file(pipeline)

    with pytest.raises(ConfigError) as info:
        resolve_settings(pipeline_file=pf, env={}, luigi_cfg_paths=[cfg])

    (p,) = info.value.problems
    assert p.source == str(cfg) and p.line == line
    assert p.field == "[airbyte] auth_client_secret"
    assert p.message == "literal secret: secrets must be references"
    assert LITERAL not in str(info.value)


def test_a_shadowed_literal_under_another_auth_type_is_still_an_error(tmp_path: Path) -> None:
    cfg = tmp_path / "luigi.cfg"
    cfg.write_text(f"[airbyte]\nauth_type = bearer\nauth_token = {LITERAL}\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="literal secret") as info:
        resolve_settings(env={"LUIGI_AIRBYTE_AIRBYTE__AUTH__TYPE": "none"}, luigi_cfg_paths=[cfg])

    assert [p.field for p in info.value.problems] == ["[airbyte] auth_token"]


def test_a_winning_literal_is_reported_once(tmp_path: Path) -> None:
    cfg = tmp_path / "luigi.cfg"
    cfg.write_text(f"[airbyte]\nauth_type = bearer\nauth_token = {LITERAL}\n", encoding="utf-8")

    with pytest.raises(ConfigError) as info:
        resolve_settings(env={}, luigi_cfg_paths=[cfg])

    assert len(info.value.problems) == 1


def test_a_shadowed_reference_in_luigi_cfg_is_fine(tmp_path: Path) -> None:
    cfg = tmp_path / "luigi.cfg"
    cfg.write_text("[airbyte]\nauth_token = ${TOKEN}\nwebhook_token = env:HOOK\n", encoding="utf-8")
    env = {"LUIGI_AIRBYTE_AIRBYTE__AUTH__TOKEN": "env:OTHER"}

    settings = resolve_settings(env=env, luigi_cfg_paths=[cfg])

    assert settings.source("airbyte.auth.token").startswith("env:")
