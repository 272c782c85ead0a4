"""``sync_each``: one step, one sync task per selected connection (issue 10, item 7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from luigi_airbyte.pipeline import load_pipeline_file
from luigi_airbyte.pipeline._steps import SyncEachStep, SyncStep
from luigi_airbyte.pipeline.graph import build_graph

FILE = """
version: 1
owners:
  data: {alerts: ["webhook:https://hooks.example/a"]}
  crm-team: {alerts: ["webhook:https://hooks.example/b"]}
pipelines:
  nightly:
    owner: data
    steps:
      - sync_each: crm
        select: {name: ["crm-*", "legacy-crm"], tags: [nightly]}
        freshness: 6h
        retries: 1
        overrides:
          crm-users: {freshness: 1h, owner: crm-team}
      - command: {argv: [echo, done]}
        name: report
        after: [crm]
"""


@dataclass(frozen=True)
class Conn:
    name: str
    connection_id: str
    status: str = "active"
    tags: tuple[str, ...] = ("nightly",)


CONNS = [
    Conn("crm-users", "id-users"),
    Conn("crm-orders", "id-orders"),
    Conn("crm-paused", "id-paused", status="inactive"),
    Conn("crm-untagged", "id-untagged", tags=()),
    Conn("legacy-crm", "id-legacy"),
    Conn("erp-main", "id-erp"),
]


@pytest.fixture
def step(tmp_path: Path) -> SyncEachStep:
    path = tmp_path / "p.yaml"
    path.write_text(FILE, encoding="utf-8")
    (found,) = [
        s for s in load_pipeline_file(path).pipeline("nightly").steps if s.kind == "sync_each"
    ]
    assert isinstance(found, SyncEachStep)
    return found


def test_selects_by_glob_tag_and_status(step: SyncEachStep) -> None:
    names = [s.name for s in step.expand(CONNS)]
    assert names == ["crm/crm-orders", "crm/crm-users", "crm/legacy-crm"]


def test_options_apply_to_every_task_and_an_override_to_one(step: SyncEachStep) -> None:
    syncs = {s.name: s for s in step.expand(CONNS)}
    users, orders = syncs["crm/crm-users"], syncs["crm/crm-orders"]
    assert isinstance(users, SyncStep) and users.connection == "id-users"
    assert users.freshness == timedelta(hours=1) and users.owner == "crm-team"
    assert orders.freshness == timedelta(hours=6) and orders.owner is None
    assert users.retries == orders.retries == 1


def test_status_any_takes_inactive_connections(step: SyncEachStep) -> None:
    wide = step.model_copy(update={"select": step.select.model_copy(update={"status": "any"})})
    assert "crm/crm-paused" in [s.name for s in wide.expand(CONNS)]


def test_an_override_of_an_unselected_connection_is_an_error(step: SyncEachStep) -> None:
    with pytest.raises(ValueError, match="'crm-users'"):
        step.expand([c for c in CONNS if c.name != "crm-users"])


def test_graph_expands_and_rewires_dependents(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(FILE, encoding="utf-8")
    pipeline = load_pipeline_file(path).pipeline("nightly")
    graph = build_graph(pipeline, lambda s: s.expand(CONNS))
    syncs = [n for n in graph if n.kind == "sync"]
    assert [n.connection_id for n in syncs] == ["id-orders", "id-users", "id-legacy"]
    assert [n.owner for n in syncs] == ["data", "crm-team", "data"]
    assert [n.freshness for n in syncs] == ["6h", "1h", "6h"]
    assert set(graph.node("report").after) == {n.name for n in syncs}


def test_graph_without_a_listing_refuses_to_guess(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(FILE, encoding="utf-8")
    with pytest.raises(ValueError, match="connection listing"):
        build_graph(load_pipeline_file(path).pipeline("nightly"))


def test_the_run_lists_recent_jobs_as_far_back_as_its_widest_window(tmp_path: Path) -> None:
    """An override's window counts: the one recent-jobs listing must reach back that far."""
    from luigi_airbyte.app.runtime import Runtime

    path = tmp_path / "pipeline.yaml"
    path.write_text(FILE.replace("crm-users: {freshness: 1h", "crm-users: {freshness: 30h"))
    rt = Runtime.load(path)
    try:
        assert rt._widest_freshness() == timedelta(hours=30)
    finally:
        rt.close()
