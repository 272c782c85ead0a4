"""``TASK_CLASSES`` decides the task class of every node kind, sync included."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from luigi_airbyte.pipeline.graph import Node
from luigi_airbyte.tasks import AirbyteSyncTask, CheckTask, CommandTask, DbtTask, SparkTask
from luigi_airbyte.tasks.translator import TASK_CLASSES, task_for_node


class _MySync(AirbyteSyncTask):
    """A user's own sync task (inherits the kind without replacing the entry)."""


def _node(kind: str, **extra: Any) -> Node:
    return Node(
        name="s",
        kind=kind,
        pipeline="p",
        owner="",
        after=(),
        step=None,
        **extra,  # type: ignore[arg-type]
    )


def test_every_kind_has_its_class() -> None:
    assert dict(TASK_CLASSES) == {
        "sync": AirbyteSyncTask,
        "check": CheckTask,
        "dbt": DbtTask,
        "spark": SparkTask,
        "command": CommandTask,
    }


class _Runtime:
    """The run's connection listing, as ``runtime_for`` gives it to the sync class."""

    def connection_id_or_blank(self, connection: str) -> str:
        return {"crm": "c-1"}.get(connection, "")


def test_a_replaced_sync_class_builds_sync_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(TASK_CLASSES, "sync", _MySync)
    monkeypatch.setattr("luigi_airbyte.tasks.sync_task.runtime_for", lambda _f: _Runtime())
    node = _node("sync", connection="crm", freshness="6h")
    task = task_for_node(node, pipeline_file="p.yaml", run_date=dt.date(2026, 3, 1))
    assert type(task) is _MySync
    assert (task.connection, task.freshness, task.step) == ("crm", "6h", "s")
    # The id the run resolved rides along, insignificant: the task id stays the name's.
    assert task.connection_id == "c-1"
