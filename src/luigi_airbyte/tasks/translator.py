"""Pipeline graph node → Luigi task. Override ``TASK_CLASSES`` to plug in your own classes."""

from __future__ import annotations

import datetime as dt

import luigi

from luigi_airbyte.pipeline.graph import Node
from luigi_airbyte.tasks.context import runtime_for
from luigi_airbyte.tasks.steps import CheckTask, CommandTask, DbtTask, SparkTask
from luigi_airbyte.tasks.sync_task import AirbyteSyncTask

TASK_CLASSES: dict[str, type[luigi.Task]] = {
    "check": CheckTask,
    "dbt": DbtTask,
    "spark": SparkTask,
    "command": CommandTask,
}


def task_for_node(
    node: Node, *, pipeline_file: str, run_date: dt.date, interval: str = "", run_id: str = ""
) -> luigi.Task:
    """The task that runs ``node`` for ``run_date``; identical inputs give identical task ids."""
    common = {
        "pipeline_file": pipeline_file,
        "pipeline": node.pipeline,
        "step": node.name,
        "run_date": run_date,
        "interval": interval,
        "run_id": run_id,
    }
    if node.kind == "sync":
        # The id comes from the run's one connection listing (resolved before Luigi forks
        # workers), so a task process never lists connections to resolve a name. It is
        # insignificant: task ids stay those of the names, identical in every process.
        connection_id = runtime_for(pipeline_file).connection_id_or_blank(
            node.connection_id or node.connection
        )
        return AirbyteSyncTask(
            connection=node.connection,
            connection_id=connection_id,
            freshness=node.freshness,
            **common,
        )
    return TASK_CLASSES[node.kind](**common)
