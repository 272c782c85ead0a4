"""``run --dry-run``: a step it could not answer fails the dry run with that error's code
(after the table, or in the JSON document), and a dry run never creates the store."""

from __future__ import annotations

import json
from pathlib import Path

from cli.conftest import CRM, SECRET_VAR, Invoke
from luigi_airbyte.sandbox import Sandbox

PIPELINE = """\
version: 1
airbyte:
  url: {url}
  auth: {{type: client_credentials, client_id: {client_id}, client_secret: env:{secret}}}
{store}owners: {{data: {{alerts: ["console"]}}}}
pipelines:
  p:
    owner: data
    steps:
      - {{sync: crm, connection: "{crm}"}}
      - {{check: fresh, after: [crm], freshness: {{sync: crm, max_age: 1d}}}}
"""
UNREACHABLE = "http://127.0.0.1:1/api/public/v1"


def _write(cwd: Path, url: str, client_id: str = "app", store: str = "") -> None:
    text = PIPELINE.format(url=url, client_id=client_id, secret=SECRET_VAR, store=store, crm=CRM)
    (cwd / "p.yaml").write_text(text, encoding="utf-8")


def test_unreachable_airbyte_prints_the_table_then_exits_4_and_writes_nothing(
    invoke: Invoke, isolated_cwd: Path
) -> None:
    _write(isolated_cwd, UNREACHABLE)

    result = invoke("run", "p.yaml", "--dry-run", env={SECRET_VAR: "abcdefgh"})

    assert result.exit_code == 4, result.output
    assert "dry run: p" in result.stdout and "fresh" in result.stdout
    assert "Connection refused" in result.stdout  # the step that could not be answered
    assert "error:" in result.stderr and "Check that Airbyte is reachable" in result.stderr
    assert list(isolated_cwd.iterdir()) == [isolated_cwd / "p.yaml"]


def test_unreachable_airbyte_json_carries_the_steps_and_the_error(
    invoke: Invoke, isolated_cwd: Path
) -> None:
    state = isolated_cwd / "state"
    _write(isolated_cwd, UNREACHABLE, store=f"state_dir: {state}\n")

    result = invoke("run", "p.yaml", "--dry-run", "--json", env={SECRET_VAR: "abcdefgh"})

    assert result.exit_code == 4, result.output
    doc = json.loads(result.stdout)
    assert doc["dry_run"] is True and doc["exit_code"] == 4
    assert [s["step"] for s in doc["steps"]] == ["crm", "fresh"]
    assert all(s["would"].startswith("unknown: ") for s in doc["steps"])
    assert doc["error"]["exit_code"] == 4 and "127.0.0.1:1" in doc["error"]["message"]
    assert not state.exists()
    assert list(isolated_cwd.iterdir()) == [isolated_cwd / "p.yaml"]


def test_without_a_store_file_every_step_would_run_and_none_is_created(
    invoke: Invoke, isolated_cwd: Path, sandbox: Sandbox
) -> None:
    _write(isolated_cwd, sandbox.url, sandbox.client_id)

    result = invoke("run", "p.yaml", "--dry-run", "--json")

    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 0 and "error" not in doc
    assert {s["step"]: s["would"] for s in doc["steps"]} == {"crm": "run", "fresh": "run"}
    assert list(isolated_cwd.iterdir()) == [isolated_cwd / "p.yaml"]
    assert not sandbox.requests("/jobs", method="POST")


def test_an_existing_store_is_still_read(
    invoke: Invoke, isolated_cwd: Path, sandbox: Sandbox, airbyte_args
) -> None:
    _write(isolated_cwd, sandbox.url, sandbox.client_id)
    assert invoke("sync", CRM, *airbyte_args(sandbox)).exit_code == 0  # the ledger has it

    result = invoke("run", "p.yaml", "--dry-run", "--json")

    assert result.exit_code == 0, result.output
    would = {s["step"]: s["would"] for s in json.loads(result.stdout)["steps"]}
    assert would["crm"] == "skip (done or fresh)"


def test_a_refused_store_exits_4_after_the_table(
    invoke: Invoke, isolated_cwd: Path, sandbox: Sandbox
) -> None:
    (isolated_cwd / "not-a-store.db").write_bytes(b"")
    _write(
        isolated_cwd,
        sandbox.url,
        sandbox.client_id,
        store="store: {url: sqlite:///not-a-store.db}\n",
    )

    result = invoke("run", "p.yaml", "--dry-run")

    assert result.exit_code == 4, result.output
    assert "dry run: p" in result.stdout and "error:" in result.stderr
    assert (isolated_cwd / "not-a-store.db").read_bytes() == b""


def test_a_missing_connection_is_named_and_the_other_steps_still_answered(
    invoke: Invoke, isolated_cwd: Path, sandbox: Sandbox
) -> None:
    """complete() leaves a missing connection to run() (which fails that step alone), so
    the dry run looks it up itself: it said "run" for the step and exited 0."""
    text = PIPELINE.format(
        url=sandbox.url, client_id=sandbox.client_id, secret=SECRET_VAR, store="", crm=CRM
    )
    text += '      - {sync: ghost, connection: "No Such Conn"}\n'
    (isolated_cwd / "p.yaml").write_text(text, encoding="utf-8")

    result = invoke("run", "p.yaml", "--dry-run", "--json")

    assert result.exit_code == 4, result.output
    would = {s["step"]: s["would"] for s in json.loads(result.stdout)["steps"]}
    assert would["crm"] == "run" and would["fresh"] == "run", would
    assert would["ghost"].startswith("unknown: no connection named 'No Such Conn'"), would
