"""A pipeline run wires events, alerts, lineage and the store together (in-process run)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from luigi_airbyte.cli.run_cmd import execute_run
from luigi_airbyte.sandbox import Sandbox, demo_world
from luigi_airbyte.tasks.context import clear_runtimes

PIPELINE = """\
version: 1
airbyte:
  url: {url}
  auth: {{type: client_credentials, client_id: {cid}, client_secret: "file:{secret}"}}
state_dir: state
warehouses:
  main: {{url: "duckdb:///{wh}"}}
owners:
  data-platform: {{alerts: ["jsonl:{alerts}"]}}
events: ["jsonl:{events}"]
lineage: "file:{lineage}"
pipelines:
  nightly:
    owner: data-platform
    steps:
      - sync: crm
        connection: "Postgres CRM → Warehouse"
      - check: impossible
        after: [crm]
        sql: {{warehouse: main, query: "select count(*) < 0 from crm_users"}}
      - command: {{argv: [python, -c, "print(1)"]}}
        name: report
        after: [impossible]
"""


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Sandbox]:
    world = demo_world(data_dir=tmp_path / "wh")
    sandbox = Sandbox(world)
    sandbox.start()
    secret = tmp_path / "secret"
    secret.write_text(sandbox.client_secret)
    os.chmod(secret, 0o600)
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(
        PIPELINE.format(
            url=sandbox.url,
            cid=sandbox.client_id,
            secret=secret,
            wh=tmp_path / "wh" / "warehouse.duckdb",
            alerts=tmp_path / "alerts.jsonl",
            events=tmp_path / "events.jsonl",
            lineage=tmp_path / "lineage.jsonl",
        )
    )
    yield pipeline, sandbox
    clear_runtimes()
    sandbox.stop()


def _run(pipeline: Path, run_date: dt.date, **options: Any) -> tuple[int, dict[str, Any]]:
    """The pipeline's run in this process, its console output discarded."""
    with open(os.devnull, "w") as quiet:
        return execute_run(
            pipeline, run_date=run_date, console=Console(file=quiet), as_json=True, **options
        )


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_failed_check_alerts_owner_once_and_everything_is_recorded(
    project: tuple[Path, Sandbox],
) -> None:
    pipeline, sandbox = project
    code, doc = _run(pipeline, dt.date(2026, 11, 24))
    assert code == 6
    steps = {s["name"]: s for s in doc["steps"]}
    assert steps["crm"]["status"] == "succeeded"
    assert steps["impossible"]["status"] == "failed"
    assert steps["report"]["status"] == "upstream_failed"

    base = pipeline.parent
    alerts = _lines(base / "alerts.jsonl")
    assert len(alerts) == 1, alerts
    assert "impossible" in json.dumps(alerts[0])

    names = [e["event"] for e in _lines(base / "events.jsonl")]
    assert "step.started" in names and "step.failed" in names and "check.result" in names
    assert any(n.startswith("sync.") for n in names)

    lineage = _lines(base / "lineage.jsonl")
    by_job = {(e["job"]["name"], e["eventType"]) for e in lineage}
    assert ("nightly.crm", "START") in by_job and ("nightly.crm", "COMPLETE") in by_job
    assert ("nightly.impossible", "FAIL") in by_job
    complete = next(e for e in lineage if e["eventType"] == "COMPLETE")
    assert {o["name"] for o in complete["outputs"]} >= {"crm_users", "crm_orders"}

    assert len(sandbox.requests("/jobs", method="POST")) == 1


def test_rotate_credentials_after_a_run(project: tuple[Path, Sandbox]) -> None:
    pipeline, sandbox = project
    creds = pipeline.parent / "airbyte.json"
    creds.write_text(
        json.dumps({"client_id": sandbox.client_id, "client_secret": sandbox.client_secret})
    )
    os.chmod(creds, 0o600)
    text = pipeline.read_text()
    auth_line = next(line for line in text.splitlines() if "auth:" in line)
    pipeline.write_text(
        text.replace(
            auth_line,
            f'  auth: {{type: client_credentials, client_id: "file:{creds}#client_id", '
            f'client_secret: "file:{creds}#client_secret"}}',
        )
    )
    code, doc = _run(pipeline, dt.date(2026, 11, 25), rotate=True)
    assert code == 6  # the impossible check still fails; rotation does not change that
    assert doc["credentials"]["rotated"] is True, doc["credentials"]
    stored = json.loads(creds.read_text())
    assert stored["client_id"] == doc["credentials"]["client_id"] != sandbox.client_id
    assert stored["client_secret"] != sandbox.client_secret
    assert oct(creds.stat().st_mode & 0o777) == "0o600"
    token_url = f"{sandbox.url}/applications/token"
    old = httpx.post(
        token_url, json={"client_id": sandbox.client_id, "client_secret": sandbox.client_secret}
    )
    new = httpx.post(token_url, json=stored)
    assert old.status_code in (401, 403)
    assert new.status_code == 200


def test_rotation_failure_is_reported_not_fatal(project: tuple[Path, Sandbox]) -> None:
    pipeline, _ = project  # the fixture's secret is a bare file: reference, not rotatable
    code, doc = _run(pipeline, dt.date(2026, 11, 26), rotate=True)
    assert code == 6
    assert doc["credentials"]["rotated"] is False
    # the fixture's client id is plain text: a rotation could not store the new one
    assert "client id is written in plain text" in doc["credentials"]["error"]
    alerts = _lines(pipeline.parent / "alerts.jsonl")
    assert any("rotation" in json.dumps(a) for a in alerts)


def test_a_steps_changes_and_their_events_are_stored_together(
    project: tuple[Path, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step's start, its job and its end are each one store transaction with their event
    (each commit is a turn of SQLite's one write lock that the run's other syncs wait for)."""
    from luigi_airbyte.store import Store

    alone: list[str] = []
    real = Store.add_events

    def spy(self: Store, run_id: str | None, items: object) -> int:
        items = list(items)  # type: ignore[call-overload]
        alone.extend(str(getattr(i, "name", None) or i["name"]) for i in items)  # type: ignore[index]
        return real(self, run_id, items)

    monkeypatch.setattr(Store, "add_events", spy)
    pipeline, _ = project
    code, doc = _run(pipeline, dt.date(2026, 11, 24))
    assert code == 6
    together = {"step.started", "step.succeeded", "step.failed", "sync.job"}
    assert not together & set(alone), alone
    with Store(f"sqlite:///{pipeline.parent / 'state' / 'metadata.db'}") as store:
        stored = [e.name for e in store.events(doc["run"]["run_id"])]
    assert stored.count("step.started") == 2 and stored.count("sync.job") == 1
    assert "step.succeeded" in stored and "step.failed" in stored
