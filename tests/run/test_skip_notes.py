"""A fully fresh run: one recent-jobs listing, and the skip notes of the scheduling pass
and their events written in one store transaction (issue 10, item 2)."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from luigi_airbyte.cli.run_cmd import execute_run
from luigi_airbyte.sandbox import Sandbox
from luigi_airbyte.store import Store
from luigi_airbyte.tasks.context import clear_runtimes

N = 30

PIPELINE = """\
version: 1
airbyte:
  url: {url}
  auth: {{type: client_credentials, client_id: notes-client, client_secret: "file:{secret}"}}
state_dir: state
owners:
  data: {{alerts: ["jsonl:{alerts}"]}}
pipelines:
  nightly:
    owner: data
    steps:
      - sync_each: all
        freshness: 6h
"""


@pytest.fixture
def fresh_project(tmp_path: Path) -> Iterator[tuple[Path, Sandbox]]:
    world = {
        "workspaces": [{"name": "notes"}],
        "sources": [{"name": "gen", "type": "generator", "streams": []}],
        "destinations": [{"name": "wh", "type": "duckdb", "path": str(tmp_path / "wh.duckdb")}],
        "connections": [
            {"name": f"c{i:03d}", "source": "gen", "destination": "wh", "streams": []}
            for i in range(N)
        ],
        "applications": [
            {"name": "notes", "client_id": "notes-client", "client_secret": "notes-secret"}
        ],
        "settings": {"job_duration_seconds": 0, "max_concurrent_jobs": 100},
    }
    sandbox = Sandbox(world).start()
    for conn in sandbox.world.connections:  # every connection synced a moment ago
        sandbox.engine.create_job(sandbox.world.connection_id(conn), "sync")
    deadline = time.monotonic() + 60
    while len(sandbox.engine.terminal_times()) < N and time.monotonic() < deadline:
        time.sleep(0.05)
    secret = tmp_path / "secret"
    secret.write_text("notes-secret")
    os.chmod(secret, 0o600)
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(
        PIPELINE.format(url=sandbox.url, secret=secret, alerts=tmp_path / "alerts.jsonl")
    )
    sandbox.clear_requests()
    yield pipeline, sandbox
    clear_runtimes()
    sandbox.stop()


def test_fully_fresh_run_lists_once_and_notes_in_one_transaction(
    fresh_project: tuple[Path, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, sandbox = fresh_project
    calls: dict[str, list[Any]] = {"skips": [], "upsert": [], "events": []}
    real_skips, real_upsert, real_events = (
        Store.add_skipped_steps,
        Store.upsert_step,
        Store.add_events,
    )

    def skips(self: Store, run_id: str, rows: Any, events: Any = ()) -> list[str]:
        calls["skips"].append((list(rows), list(events)))
        return real_skips(self, run_id, rows, events)

    def upsert(self: Store, run_id: str, step: str, **kw: Any) -> Any:
        calls["upsert"].append(step)
        return real_upsert(self, run_id, step, **kw)

    def events(self: Store, run_id: Any, items: Any) -> int:
        items = list(items)
        calls["events"].extend(items)
        return real_events(self, run_id, items)

    monkeypatch.setattr(Store, "add_skipped_steps", skips)
    monkeypatch.setattr(Store, "upsert_step", upsert)
    monkeypatch.setattr(Store, "add_events", events)

    code, doc = execute_run(
        pipeline,
        run_date=dt.date(2026, 11, 24),
        as_json=True,
        console=Console(file=open(os.devnull, "w")),  # noqa: SIM115
    )

    assert code == 0, doc
    assert {s["status"] for s in doc["steps"]} == {"fresh"} and len(doc["steps"]) == N
    (one,) = calls["skips"]  # one transaction for the whole pass
    rows, evs = one
    assert len(rows) == N and len(evs) == N
    assert {e["name"] for e in evs} == {"step.fresh"}
    assert calls["upsert"] == []  # no per-step write
    assert not [e for e in calls["events"] if str(getattr(e, "name", "")) == "step.fresh"]
    list_jobs = sandbox.requests("/jobs", method="GET")
    assert len(list_jobs) == 1, [r["query"] for r in list_jobs]
    assert "workspaceIds" in list_jobs[0]["query"] and "updatedAtStart" in list_jobs[0]["query"]
    assert "status=succeeded" in list_jobs[0]["query"]


def test_a_scheduling_pass_reads_the_ledger_once_for_all_its_syncs(
    fresh_project: tuple[Path, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same date again: every run key succeeded in the ledger. The root's pass reads
    the successes of all N syncs in one query, not one query per sync."""
    pipeline, sandbox = fresh_project
    pipeline.write_text(pipeline.read_text().replace("        freshness: 6h\n", ""))
    quiet = Console(file=open(os.devnull, "w"))  # noqa: SIM115
    date = dt.date(2026, 11, 24)
    code, doc = execute_run(pipeline, run_date=date, as_json=True, console=quiet)
    assert code == 0 and {s["status"] for s in doc["steps"]} == {"succeeded"}, doc
    clear_runtimes()

    from luigi_airbyte.store.sql_ledger import SqlLedger

    asked: dict[str, int] = {"one": 0, "many": 0}
    real_one, real_many = SqlLedger.last_succeeded, SqlLedger.last_succeeded_many

    def one(self: SqlLedger, run_key: str) -> Any:
        asked["one"] += 1
        return real_one(self, run_key)

    def many(self: SqlLedger, run_keys: Any) -> Any:
        asked["many"] += 1
        return real_many(self, run_keys)

    monkeypatch.setattr(SqlLedger, "last_succeeded", one)
    monkeypatch.setattr(SqlLedger, "last_succeeded_many", many)
    sandbox.clear_requests()

    code, doc = execute_run(pipeline, run_date=date, as_json=True, console=quiet)

    assert code == 0, doc
    assert {s["status"] for s in doc["steps"]} == {"skipped"} and len(doc["steps"]) == N
    # one batch read for the scheduling pass; the final check answers from the run's cache
    assert asked == {"one": 0, "many": 1}, asked
    assert not sandbox.requests("/jobs", method="POST")


def test_a_fully_fresh_pass_reads_the_rejections_once(
    fresh_project: tuple[Path, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No sync of the pass asks the ledger about rejected loads on its own (two queries
    per sync before): the pass reads the rejected run keys and connections once."""
    pipeline, _sandbox = fresh_project
    from luigi_airbyte.store.sql_ledger import SqlLedger

    asked: dict[str, int] = {}

    def counting(name: str) -> None:
        real = getattr(SqlLedger, name)

        def wrapper(self: SqlLedger, *args: Any) -> Any:
            asked[name] = asked.get(name, 0) + 1
            return real(self, *args)

        monkeypatch.setattr(SqlLedger, name, wrapper)

    for name in ("last_succeeded", "last_rejection", "rejected_job_ids", "rejected_keys"):
        counting(name)
    quiet = Console(file=open(os.devnull, "w"))  # noqa: SIM115

    code, doc = execute_run(pipeline, run_date=dt.date(2026, 11, 24), as_json=True, console=quiet)

    assert code == 0, doc
    assert {s["status"] for s in doc["steps"]} == {"fresh"} and len(doc["steps"]) == N
    assert asked == {"rejected_keys": 1}, asked
