"""``jobs list``, ``jobs show`` and ``jobs cancel`` against the sandbox."""

from __future__ import annotations

import json

import pytest

CRM = "Postgres CRM → Warehouse"
EVENTS = "Events API → Warehouse"


def test_list_show_after_syncs(invoke, sandbox, airbyte_args) -> None:
    args = airbyte_args(sandbox)
    assert invoke("sync", CRM, *args).exit_code == 0
    assert invoke("sync", EVENTS, *args).exit_code == 0

    listed = invoke("jobs", "list", *args, "--json")
    assert listed.exit_code == 0, listed.output
    jobs = json.loads(listed.stdout)["jobs"]
    assert [(j["job_id"], j["connection"], j["status"]) for j in jobs] == [
        (2, EVENTS, "succeeded"),
        (1, CRM, "succeeded"),
    ]
    assert set(jobs[0]) == {
        "job_id",
        "status",
        "job_type",
        "connection_id",
        "connection",
        "started_at",
        "updated_at",
        "duration_s",
        "rows_synced",
        "bytes_synced",
    }

    one = json.loads(invoke("jobs", "list", CRM, *args, "--json").stdout)["jobs"]
    assert [j["job_id"] for j in one] == [1]
    limited = json.loads(invoke("jobs", "list", *args, "-n", "1", "--json").stdout)["jobs"]
    assert [j["job_id"] for j in limited] == [2]
    failed = json.loads(invoke("jobs", "list", *args, "--status", "failed", "--json").stdout)
    assert failed == {"jobs": []}

    plain = invoke("jobs", "list", *args)
    header, *rows = plain.stdout.splitlines()
    assert header.split() == ["job", "connection", "type", "status", "started", "duration", "rows"]
    assert len(rows) == 2

    shown = invoke("jobs", "show", "1", *args, "--json")
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    assert (doc["job_id"], doc["status"], doc["connection"]) == (1, "succeeded", CRM)
    assert doc["details_available"] is True
    assert {s["stream"]: s["records_committed"] for s in doc["streams"]} == {
        "users": 200,
        "orders": 500,
    }
    assert [a["status"] for a in doc["attempts"]] == ["succeeded"]
    assert "/job-history#1::0" in doc["url"]

    human = invoke("jobs", "show", "1", *args)
    assert "status:     succeeded" in human.stdout.splitlines()
    assert any(line.split()[0] == "orders" for line in human.stdout.splitlines() if line)


def test_show_unknown_job_exits_4(invoke, sandbox, airbyte_args) -> None:
    result = invoke("jobs", "show", "999", *airbyte_args(sandbox), "--json")
    assert result.exit_code == 4
    assert json.loads(result.stdout)["error"]["type"] == "NotFoundError"


def test_cancel_a_slow_job(invoke, start_sandbox, airbyte_args) -> None:
    sb = start_sandbox(job_seconds=30)
    args = airbyte_args(sb)
    started = invoke("sync", CRM, *args, "--no-wait")
    assert started.exit_code == 0, started.output
    job_id = started.stdout.strip()

    cancelled = invoke("jobs", "cancel", job_id, *args, "--json")
    assert cancelled.exit_code == 0, cancelled.output
    assert json.loads(cancelled.stdout) == {
        "job_id": int(job_id),
        "status": "cancelled",
        "cancel_requested": True,
        "already_finished": False,
    }
    status = json.loads(invoke("jobs", "show", job_id, *args, "--json").stdout)["status"]
    assert status == "cancelled"

    again = invoke("jobs", "cancel", job_id, *args)
    assert again.exit_code == 0
    assert again.stdout == f"job {job_id} had already finished (cancelled); nothing to cancel\n"


def test_cancel_not_confirmed_exits_4(invoke, start_sandbox, airbyte_args) -> None:
    sb = start_sandbox(
        job_seconds=30, faults={"jobs": {"*": {"never_finish": True, "ignore_cancel": True}}}
    )
    args = airbyte_args(sb)
    job_id = invoke("sync", CRM, *args, "--no-wait").stdout.strip()
    result = invoke("jobs", "cancel", job_id, *args, "--timeout", "1s")
    assert result.exit_code == 4
    assert "not confirmed within 1s" in result.stderr


@pytest.mark.parametrize(
    "args", [["list", "Postgres CRM → Warehouse"], ["show", "1"], ["cancel", "1"]]
)
def test_no_credential_401_hints_at_the_pipeline_file(invoke, sandbox, args) -> None:
    """README's `jobs list "..."` without -f reaches Airbyte with no credential: the 401
    says to pass the pipeline file (or a credential)."""
    result = invoke("jobs", *args, "--url", sandbox.url)

    assert result.exit_code == 4, result.output
    assert "returned 401" in result.stderr
    assert "add -f pipeline.yaml" in result.stderr
    assert "--client-id and --client-secret-ref" in result.stderr


def test_a_refused_credential_gets_no_pipeline_file_hint(invoke, sandbox, airbyte_args) -> None:
    """With a credential given, a 401 is about that credential, not a missing -f."""
    result = invoke(
        "jobs", "list", *airbyte_args(sandbox), env={"CLI_TEST_AIRBYTE_SECRET": "wrong"}
    )

    assert result.exit_code == 4, result.output
    assert "add -f pipeline.yaml" not in result.stderr
