"""A metadata store URL that does not parse: a clear error, never a traceback, never the
value of the reference it came from (a URL from ``env:`` is a secret, all of it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.conftest import Invoke

SECRET = "STORESECRETXYZ"

PIPELINE = """\
version: 1
store: {url: env:STORE_URL}
airbyte:
  url: http://127.0.0.1:1/api/public/v1
  auth: {type: client_credentials, client_id: app, client_secret: env:AB_SECRET}
owners: {data: {alerts: ["console"]}}
pipelines:
  p: {owner: data, steps: [{sync: crm, connection: crm}]}
"""


@pytest.mark.parametrize(
    "value", [f"garbage {SECRET}", f"postgresql+psycopg://{SECRET}@127.0.0.1:abc/db"]
)
@pytest.mark.parametrize("command", [["run"], ["history", "-f"], ["show", "abcdef12", "-f"]])
def test_a_bad_store_url_from_a_reference_exits_4_without_its_value(
    invoke: Invoke, isolated_cwd: Path, value: str, command: list[str]
) -> None:
    (isolated_cwd / "p.yaml").write_text(PIPELINE, encoding="utf-8")

    result = invoke(*command, "p.yaml", env={"STORE_URL": value, "AB_SECRET": "abcdefgh"})

    assert result.exit_code == 4, result.output
    assert "is not a valid database URL" in result.stderr, result.stderr
    assert SECRET not in result.output + result.stderr
    assert list(isolated_cwd.iterdir()) == [isolated_cwd / "p.yaml"]


def test_a_literal_url_with_a_port_that_is_no_number_fails_validation(
    invoke: Invoke, isolated_cwd: Path
) -> None:
    text = PIPELINE.replace("env:STORE_URL", '"postgresql://u@db.internal:5x32/meta"')
    (isolated_cwd / "p.yaml").write_text(text, encoding="utf-8")

    result = invoke("validate", "p.yaml")

    assert result.exit_code == 3, result.output
    assert "p.yaml:2: store.url" in result.stderr and "its port '5x32'" in result.stderr
