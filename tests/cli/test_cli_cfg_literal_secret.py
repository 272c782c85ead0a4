"""``validate`` refuses a literal secret in luigi.cfg even when the pipeline file sets the
same setting to a reference: exit 3, the file and option named, the value never printed."""

from __future__ import annotations

from pathlib import Path

from cli.conftest import Invoke

PIPELINE = """\
version: 1
airbyte:
  url: https://airbyte.example/api/public/v1
  auth: {type: client_credentials, client_id: app, client_secret: env:AB_SECRET}
owners: {data: {}}
pipelines:
  p: {owner: data, steps: [{sync: crm, connection: crm}]}
"""


def test_validate_refuses_a_shadowed_literal_secret_in_luigi_cfg(
    invoke: Invoke, isolated_cwd: Path
) -> None:
    (isolated_cwd / "p.yaml").write_text(PIPELINE, encoding="utf-8")
    (isolated_cwd / "luigi.cfg").write_text(
        "[airbyte]\nauth_client_secret = literalsecretABC\n", encoding="utf-8"
    )

    result = invoke("validate", "p.yaml", env={"AB_SECRET": "abcdefgh"})

    assert result.exit_code == 3, result.output
    assert "luigi.cfg:2: [airbyte] auth_client_secret: literal secret" in result.stderr
    assert "literalsecretABC" not in result.output + result.stderr
