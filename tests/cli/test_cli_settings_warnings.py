"""Commands that load a pipeline file print the settings' warnings, as ``validate`` does:
``run`` said nothing of a mistyped ``LUIGI_AIRBYTE_*`` variable, which it then ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.conftest import Invoke

PIPELINE = """\
version: 1
airbyte:
  url: http://127.0.0.1:1/api/public/v1
  auth: {type: client_credentials, client_id: app, client_secret: env:AB_SECRET}
owners: {data: {alerts: ["console"]}}
pipelines:
  p: {owner: data, steps: [{sync: crm, connection: crm}]}
"""


@pytest.mark.parametrize(
    "command", [["run", "p.yaml", "--dry-run"], ["preflight", "p.yaml"], ["plan", "p.yaml"]]
)
def test_a_mistyped_variable_is_named_by_every_command(
    invoke: Invoke, isolated_cwd: Path, command: list[str]
) -> None:
    (isolated_cwd / "p.yaml").write_text(PIPELINE, encoding="utf-8")

    result = invoke(*command, env={"AB_SECRET": "abcdefgh", "LUIGI_AIRBYTE_AIRBYTE__URLL": "x"})

    assert "warning: env: LUIGI_AIRBYTE_AIRBYTE__URLL" in result.stderr, result.stderr
    assert "did you mean LUIGI_AIRBYTE_AIRBYTE__URL?" in result.stderr
