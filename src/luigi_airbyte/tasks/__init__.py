"""Luigi tasks for luigi-airbyte; the only package that imports luigi.

Use them with ``luigi --module luigi_airbyte.tasks`` or from Python.
"""

from __future__ import annotations

from luigi_airbyte.tasks.build import BuildOutcome, WorkerOptions, run_graph
from luigi_airbyte.tasks.steps import CheckTask, CommandTask, DbtTask, PipelineTask, SparkTask
from luigi_airbyte.tasks.sync_task import AirbyteSyncTask

__all__ = [
    "AirbyteSyncTask",
    "BuildOutcome",
    "CheckTask",
    "CommandTask",
    "DbtTask",
    "PipelineTask",
    "SparkTask",
    "WorkerOptions",
    "run_graph",
]
