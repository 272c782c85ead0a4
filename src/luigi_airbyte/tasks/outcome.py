"""The Luigi half of a run: build the pipeline's graph, run it, report per step.

``run_pipeline_graph`` is the ``GraphRunner`` that ``luigi_airbyte.app.run_service``
drives: the run service owns the run's life cycle and exit code, this module only knows
how Luigi names tasks and partitions their fates.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import luigi

from luigi_airbyte.app.run_service import GraphOutcome
from luigi_airbyte.pipeline.graph import Graph
from luigi_airbyte.tasks.build import BuildOutcome, WorkerOptions, run_graph
from luigi_airbyte.tasks.context import install_runtime
from luigi_airbyte.tasks.translator import task_for_node

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime


def task_ids_by_step(
    graph: Graph,
    *,
    pipeline_file: str,
    run_date: dt.date,
    interval: str = "",
    built: Iterable[luigi.Task] = (),
) -> dict[str, str]:
    """Luigi task id → step name, for reading Luigi's summary.

    ``built``: tasks of the graph the run built already (the root's requirements); their
    ids are read instead of building every task again (run ids are not part of an id).
    """
    known = {str(getattr(t, "step", "")): str(t.task_id) for t in built}
    if known and all(n.name in known for n in graph):
        return {known[n.name]: n.name for n in graph}
    return {
        task_for_node(
            n, pipeline_file=pipeline_file, run_date=run_date, interval=interval
        ).task_id: n.name
        for n in graph
    }


def partitions_by_step(outcome: BuildOutcome, ids: dict[str, str]) -> dict[str, str]:
    """Step name → the first partition of Luigi's summary its task appears in."""
    by_step: dict[str, str] = {}
    for partition, task_ids in outcome.task_ids.items():
        for task_id in task_ids:
            step = ids.get(task_id)
            if step is not None:
                by_step.setdefault(step, partition)
    return by_step


def run_pipeline_graph(
    rt: Runtime,
    graph: Graph,
    *,
    pipeline_file: Path,
    run_date: dt.date,
    interval: str,
    run_id: str,
    workers: int,
    scheduler_url: str | None,
) -> GraphOutcome:
    """Run every step of ``graph`` for one run on Luigi (local scheduler or luigid)."""
    from luigi_airbyte.tasks.steps import PipelineTask

    path = str(pipeline_file)
    install_runtime(path, rt)
    os.environ.setdefault("LUIGI_CONFIG_PARSER", "cfg")
    root = PipelineTask(
        pipeline_file=path,
        pipeline=graph.pipeline,
        run_date=run_date,
        interval=interval,
        run_id=run_id,
    )
    options = WorkerOptions(resources={rt.airbyte_resource(): rt.settings.max_concurrent_syncs})
    outcome = run_graph([root], workers=workers, scheduler_url=scheduler_url, options=options)
    ids = task_ids_by_step(
        graph, pipeline_file=path, run_date=run_date, interval=interval, built=root.requires()
    )
    return GraphOutcome(
        status=outcome.status,
        succeeded=outcome.succeeded,
        partitions=partitions_by_step(outcome, ids),
    )
