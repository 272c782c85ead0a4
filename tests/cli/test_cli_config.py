"""``config show``: each value with its source, precedence visible, secrets never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

PIPELINE = """\
version: 1
airbyte:
  url: https://file.example/api/public/v1
  timeout: 2h
  workspace: from-file
  auth:
    type: client_credentials
    client_id: file-app
    client_secret: env:FILE_SECRET
poll: {interval: 45s}
owners: {ops: {}}
pipelines:
  p: {owner: ops, steps: [{sync: a, connection: A}]}
"""

CANARY = "canary-s3cr3t-6f1d0b"


@pytest.fixture
def pipeline_file(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE, encoding="utf-8")
    return path


def _by_key(stdout: str) -> dict[str, dict[str, object]]:
    return {row["key"]: row for row in json.loads(stdout)["settings"]}


def test_precedence_is_visible(invoke, pipeline_file: Path) -> None:
    # cli beats env beats the file beats luigi.cfg beats defaults
    luigi_cfg = pipeline_file.parent / "luigi.cfg"
    luigi_cfg.write_text("[airbyte]\nmax_concurrent_syncs = 7\npoll_interval = 1m\n")
    result = invoke(
        "config",
        "show",
        str(pipeline_file),
        "--url",
        "https://cli.example/api/public/v1",
        "--json",
        env={
            "LUIGI_AIRBYTE_AIRBYTE__URL": "https://env.example/api/public/v1",
            "LUIGI_AIRBYTE_AIRBYTE__TIMEOUT": "3h",
            "LUIGI_CONFIG_PATH": str(luigi_cfg),
        },
    )
    assert result.exit_code == 0, result.output
    rows = _by_key(result.stdout)
    assert rows["airbyte.url"] == {
        "key": "airbyte.url",
        "value": "https://cli.example/api/public/v1",
        "source": "cli",
        "secret": False,
    }
    assert rows["airbyte.timeout"]["value"] == "3h"
    assert rows["airbyte.timeout"]["source"] == "env:LUIGI_AIRBYTE_AIRBYTE__TIMEOUT"
    assert rows["airbyte.workspace"]["value"] == "from-file"
    assert rows["airbyte.workspace"]["source"] == f"{pipeline_file}:5"
    assert rows["poll.interval"]["value"] == "45s"  # the file beats luigi.cfg
    assert rows["poll.interval"]["source"] == f"{pipeline_file}:10"
    assert rows["airbyte.max_concurrent_syncs"]["value"] == "7"
    assert rows["airbyte.max_concurrent_syncs"]["source"] == (
        f"{luigi_cfg} [airbyte] max_concurrent_syncs"
    )
    assert rows["log_format"] == {
        "key": "log_format",
        "value": "text",
        "source": "default",
        "secret": False,
    }
    assert rows["airbyte.auth.client_secret"] == {
        "key": "airbyte.auth.client_secret",
        "value": "****",
        "source": f"{pipeline_file}:9",
        "secret": True,
    }


def test_plain_text_table(invoke, pipeline_file: Path) -> None:
    result = invoke("config", "show", str(pipeline_file))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["key", "value", "source"]
    assert any(line.split() == ["airbyte.timeout", "2h", f"{pipeline_file}:4"] for line in lines)
    assert any(line.split()[:2] == ["airbyte.auth.client_secret", "****"] for line in lines)


@pytest.mark.parametrize(
    "extra", [[], ["--json"], ["--show-references"], ["--show-references", "--json"]]
)
def test_a_secret_in_the_environment_is_never_printed(invoke, extra: list[str]) -> None:
    env = {
        "LUIGI_AIRBYTE_AIRBYTE__AUTH__CLIENT_ID": "app-1",
        "LUIGI_AIRBYTE_AIRBYTE__AUTH__CLIENT_SECRET": CANARY,
    }
    result = invoke("config", "show", *extra, env=env)
    assert result.exit_code == 0, result.output
    assert CANARY not in result.stdout
    assert CANARY not in result.stderr
    shown = (
        "env:LUIGI_AIRBYTE_AIRBYTE__AUTH__CLIENT_SECRET" if "--show-references" in extra else "****"
    )
    if "--json" in extra:
        assert _by_key(result.stdout)["airbyte.auth.client_secret"]["value"] == shown
    else:
        line = next(
            line for line in result.stdout.splitlines() if "airbyte.auth.client_secret" in line
        )
        assert line.split()[1] == shown


def test_a_literal_secret_flag_is_refused_with_a_hint(invoke) -> None:
    result = invoke("config", "show", "--client-id", "app", "--client-secret-ref", CANARY)
    assert result.exit_code == 3
    assert CANARY not in result.stdout + result.stderr
    assert "--client-secret-ref" in result.stderr
    assert "env:AIRBYTE_CLIENT_SECRET" in result.stderr


def test_flags_set_client_credentials(invoke) -> None:
    result = invoke(
        "config", "show", "--client-id", "app", "--client-secret-ref", "env:X", "--json"
    )
    assert result.exit_code == 0, result.output
    rows = _by_key(result.stdout)
    assert (rows["airbyte.auth.type"]["value"], rows["airbyte.auth.type"]["source"]) == (
        "client_credentials",
        "cli",
    )
    assert rows["airbyte.auth.client_id"]["value"] == "app"


def test_rich_table_on_a_terminal(invoke, pipeline_file: Path, monkeypatch) -> None:
    monkeypatch.setattr("luigi_airbyte.cli.render.stdout_is_tty", lambda: True)
    env = {"LUIGI_AIRBYTE_AIRBYTE__AUTH__CLIENT_SECRET": CANARY}
    result = invoke("config", "show", str(pipeline_file), env=env)
    assert result.exit_code == 0, result.output
    assert "─" in result.stdout  # a rich rule under the header
    assert "airbyte.timeout" in result.stdout
    assert CANARY not in result.stdout
