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


def test_a_replaced_sync_class_builds_sync_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(TASK_CLASSES, "sync", _MySync)
    node = _node("sync", connection="crm", freshness="6h")
    task = task_for_node(node, pipeline_file="p.yaml", run_date=dt.date(2026, 3, 1))
    assert type(task) is _MySync
    assert (task.connection, task.freshness, task.step) == ("crm", "6h", "s")
