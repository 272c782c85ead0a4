"""``sync``, then ``history`` and ``show``: exit codes, JSON documents, the recorded run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import pytest

from luigi_airbyte.store import JSON_REPORT_KIND

CRM = "Postgres CRM → Warehouse"


def _today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def test_sync_happy_path_json(invoke, sandbox, airbyte_args) -> None:
    result = invoke("sync", CRM, *airbyte_args(sandbox), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    conn_id = doc["connection"]["id"]
    assert doc["connection"] == {"id": conn_id, "name": CRM}
    assert doc["job_id"] == 1
    assert doc["status"] == "succeeded"
    assert doc["job_type"] == "sync"
    assert doc["attached"] == "created"
    assert doc["run_key"] == f"sync:{conn_id}:{_today()}"
    assert doc["waited"] is True
    assert doc["rows_committed"] == 700
    assert doc["attempts"] == 1
    assert {s["stream"]: s["records_committed"] for s in doc["streams"]} == {
        "users": 200,
        "orders": 500,
    }
    assert doc["job_url"].endswith(f"/connections/{conn_id}/job-history#1::0")
    # progress went to stderr, never into the document
    assert "started sync job 1" in result.stderr
    assert len(sandbox.requests("/jobs", method="POST")) == 1


def test_sync_human_output_then_history_and_show(invoke, sandbox, airbyte_args, tmp_path) -> None:
    result = invoke("sync", CRM, *airbyte_args(sandbox))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "job:        1 (sync, created)" in lines
    assert "status:     succeeded" in lines
    assert "rows:       700" in lines
    assert any(line.split() == ["users", "200", "22,740"] for line in lines)

    history = invoke("history", "--json")
    assert history.exit_code == 0, history.output
    runs = json.loads(history.stdout)["runs"]
    assert len(runs) == 1
    run = runs[0]
    assert (run["pipeline"], run["status"], run["exit_code"]) == ("adhoc", "succeeded", 0)
    assert (run["steps_ok"], run["steps_failed"], run["run_date"]) == (1, 0, _today())

    plain = invoke("history")
    assert plain.stdout.splitlines()[0].split() == [
        "run",
        "pipeline",
        "date",
        "status",
        "exit",
        "started",
        "duration",
        "steps",
        "by",
    ]
    assert plain.stdout.splitlines()[1].startswith(run["run_id"][:8])
    # who ran it: the host, and the client id it acted as
    assert plain.stdout.splitlines()[1].endswith(f"as client {sandbox.client_id}")

    junit = tmp_path / "report.xml"
    shown = invoke("show", run["run_id"][:8], "--json", "--junit", str(junit))
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout)
    assert report["report"] == JSON_REPORT_KIND
    assert report["run"]["run_id"] == run["run_id"]
    (step,) = report["steps"]
    assert (step["name"], step["kind"], step["status"], step["job_id"]) == (
        CRM,
        "sync",
        "succeeded",
        1,
    )
    assert step["rows"] == 700
    assert {s["stream"]: s["records_committed"] for s in step["streams"]} == {
        "users": 200,
        "orders": 500,
    }
    suite = ET.parse(junit).getroot()
    assert suite.find(".//testcase") is not None
    assert suite.find(".//failure") is None

    human = invoke("show", run["run_id"])
    assert human.exit_code == 0
    assert f"run:       {run['run_id']}" in human.stdout.splitlines()
    assert any(line.split()[:2] == ["Postgres", "CRM"] for line in human.stdout.splitlines())


def test_history_without_a_store_is_empty_and_creates_nothing(invoke, isolated_cwd) -> None:
    result = invoke("history", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["runs"] == []
    assert not (isolated_cwd / ".luigi-airbyte").exists()
    missing = invoke("show", "abcd1234")
    assert missing.exit_code == 4  # a store error (docs/exit-codes.md)
    assert "no metadata store" in missing.stderr


def test_no_wait_prints_the_job_id_and_a_second_sync_attaches(
    invoke, start_sandbox, airbyte_args
) -> None:
    sb = start_sandbox(job_seconds=1.5)
    result = invoke("sync", CRM, *airbyte_args(sb), "--no-wait")
    assert result.exit_code == 0, result.output
    assert result.stdout == "1\n"
    # The ledger remembers job 1 for today's run key: waiting now attaches to it.
    waited = invoke("sync", CRM, *airbyte_args(sb), "--json")
    assert waited.exit_code == 0, waited.output
    doc = json.loads(waited.stdout)
    assert (doc["job_id"], doc["attached"], doc["status"]) == (1, "ledger", "succeeded")
    assert len(sb.requests("/jobs", method="POST")) == 1


def test_no_wait_json(invoke, start_sandbox, airbyte_args) -> None:
    sb = start_sandbox(job_seconds=5)
    result = invoke("sync", CRM, *airbyte_args(sb), "--no-wait", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["job_id"], doc["waited"], doc["run_id"]) == (1, False, None)
    assert doc["status"] in ("pending", "running")
    assert "rows_committed" not in doc


def test_failing_sync_exits_5_and_is_recorded(invoke, start_sandbox, airbyte_args) -> None:
    sb = start_sandbox(max_attempts=2, faults={"jobs": {"*": {"fail_attempts": 5}}})
    result = invoke("sync", CRM, *airbyte_args(sb), "--json")
    assert result.exit_code == 5, result.output
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "SyncFailedError"
    assert error["exit_code"] == 5
    assert "job 1" in error["message"]

    runs = json.loads(invoke("history", "--json").stdout)["runs"]
    assert (runs[0]["status"], runs[0]["exit_code"], runs[0]["steps_failed"]) == ("failed", 5, 1)
    report = json.loads(invoke("show", runs[0]["run_id"], "--json").stdout)
    assert report["steps"][0]["status"] == "failed"
    assert report["steps"][0]["exit_code"] == 5


@pytest.mark.parametrize("timeout", ["1s", "1"], ids=["with_unit", "bare_seconds"])
def test_timeout_cancels_and_exits_5(invoke, start_sandbox, airbyte_args, timeout) -> None:
    """``--timeout 1`` means one second, like ``--timeout 1s`` (and like timeout(1))."""
    sb = start_sandbox(job_seconds=30)
    result = invoke("sync", CRM, *airbyte_args(sb), "--timeout", timeout)
    assert result.exit_code == 5, result.output
    assert "within 1s" in result.stderr
    assert len(sb.requests("/jobs/1", method="DELETE")) >= 1


def test_unknown_connection_exits_4_with_a_hint(invoke, sandbox, airbyte_args) -> None:
    result = invoke("sync", "Postgres CRM -> Warehouse", *airbyte_args(sandbox), "--json")
    assert result.exit_code == 4
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "ConnectionLookupError"
    assert "Did you mean 'Postgres CRM → Warehouse'?" in error["message"]
    assert "Events API → Warehouse" in error["message"]
    # nothing was recorded: the name is checked before a run starts
    assert json.loads(invoke("history", "--json").stdout)["runs"] == []


def test_unreachable_airbyte_exits_4(invoke) -> None:
    result = invoke("sync", CRM, "--url", "http://127.0.0.1:9/api/public/v1")
    assert result.exit_code == 4
    assert "error: " in result.stderr
    assert "Check that Airbyte is reachable at http://127.0.0.1:9" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["--clear"], 3, "--confirm-clear"),
        (["--reset", "--clear"], 2, "not both"),
        (["--timeout", "60x"], 2, "invalid duration '60x'"),
    ],
    ids=["clear_needs_confirmation", "reset_and_clear_conflict", "timeout_unknown_unit"],
)
def test_refusals(invoke, sandbox, airbyte_args, args, code, text) -> None:
    result = invoke("sync", CRM, *airbyte_args(sandbox), *args)
    assert result.exit_code == code
    assert text in result.stderr
    assert sandbox.requests("/jobs", method="POST") == []


def test_reset_uses_its_own_run_key(invoke, sandbox, airbyte_args) -> None:
    result = invoke("sync", CRM, *airbyte_args(sandbox), "--reset", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["job_type"] == "reset"
    assert doc["run_key"].startswith("reset:")


def test_sync_settings_from_a_pipeline_file(invoke, sandbox, tmp_path: Path, monkeypatch) -> None:
    secret = tmp_path / "airbyte-secret"
    secret.write_text(sandbox.client_secret)
    secret.chmod(0o600)
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        f"""\
version: 1
airbyte:
  url: {sandbox.url}
  auth: {{type: client_credentials, client_id: {sandbox.client_id}, client_secret: "file:{secret}"}}
owners: {{ops: {{}}}}
pipelines:
  p: {{owner: ops, steps: [{{sync: crm, connection: "{CRM}"}}]}}
""",
        encoding="utf-8",
    )
    result = invoke("sync", CRM, "-f", str(path), "--run-key", "mine", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run_key"] == "mine"
