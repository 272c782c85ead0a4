"""``validate`` and ``schema``: problems listed at once with exit 3; the schema is valid."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from ruamel.yaml import YAML

GOOD = """\
version: 1
airbyte:
  url: http://localhost:8000/api/public/v1
owners: {ops: {}}
pipelines:
  nightly:
    owner: ops
    steps:
      - sync: crm
        connection: "Postgres CRM → Warehouse"
      - check: crm_fresh
        freshness: {sync: crm, max_age: 1d}
  hourly:
    owner: ops
    steps:
      - sync: events
        connection: "Events API → Warehouse"
"""

# Two problems on two lines: a bad duration and an unknown owner.
BAD = """\
version: 1
owners: {ops: {}}
pipelines:
  nightly:
    owner: nobody
    steps:
      - sync: crm
        connection: crm
        freshness: soon
"""


def test_validate_ok(invoke, tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(GOOD, encoding="utf-8")
    result = invoke("validate", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 2 pipelines, 3 steps\n"


def test_validate_ok_json(invoke, tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(GOOD, encoding="utf-8")
    result = invoke("validate", str(path), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "ok": True,
        "file": str(path),
        "pipelines": {"nightly": 2, "hourly": 1},
        "steps": 3,
        "warnings": [],
    }


def test_validate_lists_every_problem_and_exits_3(invoke, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    result = invoke("validate", str(path))
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "2 configuration problems" in result.stderr
    assert f"{path}:5: pipelines.nightly.owner:" in result.stderr
    assert f"{path}:9: pipelines.nightly.steps[0].freshness:" in result.stderr
    assert result.stderr.count("(fix: ") == 2


def test_validate_problems_as_json(invoke, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    result = invoke("validate", str(path), "--json")
    assert result.exit_code == 3
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "ConfigError"
    assert error["exit_code"] == 3
    assert [(p["source"], p["line"], p["field"]) for p in error["problems"]] == [
        (str(path), 5, "pipelines.nightly.owner"),
        (str(path), 9, "pipelines.nightly.steps[0].freshness"),
    ]
    assert all(p["fix"] for p in error["problems"])


def test_validate_missing_file_exits_3(invoke, tmp_path: Path) -> None:
    result = invoke("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 3
    assert "file not found" in result.stderr


def test_validate_checks_settings_from_the_environment(invoke, tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(GOOD, encoding="utf-8")
    result = invoke("validate", str(path), env={"LUIGI_AIRBYTE_AIRBYTE__TIMEOUT": "3600"})
    assert result.exit_code == 3
    assert "LUIGI_AIRBYTE_AIRBYTE__TIMEOUT" in result.stderr


def test_schema_is_a_valid_json_schema_that_accepts_a_good_file(invoke, tmp_path: Path) -> None:
    result = invoke("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    data = YAML(typ="safe", pure=True).load(GOOD)
    jsonschema.Draft202012Validator(schema).validate(data)
    assert not jsonschema.Draft202012Validator(schema).is_valid({"version": 1})


def test_schema_output_file(invoke, tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    result = invoke("schema", "--output", str(out))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert json.loads(out.read_text(encoding="utf-8"))["title"] == "luigi-airbyte pipeline file"


ROUTED = """\
version: 1
airbyte:
  url: http://localhost:8000/api/public/v1
owners:
  ops:
    alerts: ["webhook:env:LA_TEST_HOOK"]
pipelines:
  nightly:
    owner: ops
    steps:
      - sync: crm
        connection: "Postgres CRM → Warehouse"
"""


def test_validate_checks_a_routes_env_url_as_run_would(invoke, tmp_path: Path) -> None:
    """webhook:env:HOOK: with HOOK set, the URL it holds is checked by run's own code."""
    path = tmp_path / "pipeline.yaml"
    path.write_text(ROUTED, encoding="utf-8")
    refused = "http://alerts.example.com/secret-path-123"  # plain http off loopback

    bad = invoke("validate", str(path), "--json", env={"LA_TEST_HOOK": refused})

    assert bad.exit_code == 3, bad.output
    (problem,) = json.loads(bad.stdout)["error"]["problems"]
    assert (problem["source"], problem["line"]) == (str(path), 6)
    assert problem["field"] == "owners.ops.alerts[0]"
    assert "env:LA_TEST_HOOK" in problem["message"] and "loopback" in problem["message"]
    assert problem["fix"] == "use an https:// URL in LA_TEST_HOOK"
    assert "secret-path-123" not in bad.output  # the URL may be a credential
    for fine in ("https://alerts.example.com/hook", "http://127.0.0.1:9/hook"):
        assert invoke("validate", str(path), env={"LA_TEST_HOOK": fine}).exit_code == 0
    unset = invoke("validate", str(path), env={"LA_TEST_HOOK": ""})  # "" unsets in CliRunner
    assert unset.exit_code == 0, unset.output  # known only at run time (preflight)
