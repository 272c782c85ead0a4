"""Pipeline graph node → Luigi task.

``TASK_CLASSES`` maps each node kind (``sync``, ``check``, ``dbt``, ``spark``,
``command``) to the task class that runs it. Every ``StepTask`` subclass with a ``kind``
is entered here when it is defined (the first class of a kind wins; subclasses inherit
the kind without replacing it). To plug in your own class, subclass one and replace the
entry before the run builds its tasks, e.g. ``TASK_CLASSES["sync"] = MySyncTask``; the
class adds its own parameters from the node through ``node_parameters``.

This module imports no task class, so the task modules can build their dependencies
through it without importing each other in a circle.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import luigi

from luigi_airbyte.pipeline.graph import Node

if TYPE_CHECKING:
    from luigi_airbyte.tasks.base import StepTask

TASK_CLASSES: dict[str, type[StepTask]] = {}


def task_for_node(
    node: Node, *, pipeline_file: str, run_date: dt.date, interval: str = "", run_id: str = ""
) -> luigi.Task:
    """The task that runs ``node`` for ``run_date``; identical inputs give identical task ids."""
    cls = TASK_CLASSES[node.kind]
    return cls(
        pipeline_file=pipeline_file,
        pipeline=node.pipeline,
        step=node.name,
        run_date=run_date,
        interval=interval,
        run_id=run_id,
        **cls.node_parameters(node, pipeline_file=pipeline_file),
    )
