"""After ``run_graph``: each step's final status and the run's exit code.

Steps that never ran have no row in the store; Luigi's summary says why (an upstream
step failed, or the scheduler never got to them). We record those too, so the JUnit
report lists every step of the pipeline.
"""

from __future__ import annotations

import datetime as dt

from luigi_airbyte.app.step_context import split_failure
from luigi_airbyte.pipeline.graph import Graph
from luigi_airbyte.store import RunDetail, Store
from luigi_airbyte.tasks.build import BuildOutcome
from luigi_airbyte.tasks.translator import task_for_node

_UPSTREAM = {
    "upstream_failure",
    "upstream_missing_dependency",
    "upstream_scheduling_error",
    "upstream_run_by_other_worker",
}


def task_ids_by_step(
    graph: Graph, *, pipeline_file: str, run_date: dt.date, interval: str = ""
) -> dict[str, str]:
    """Luigi task id → step name, for reading Luigi's summary."""
    return {
        task_for_node(
            n, pipeline_file=pipeline_file, run_date=run_date, interval=interval
        ).task_id: n.name
        for n in graph
    }


def record_unrun_steps(
    store: Store, run_id: str, graph: Graph, outcome: BuildOutcome, ids: dict[str, str]
) -> None:
    """Give every step without a row a status from Luigi's partition of the tasks."""
    detail = store.get_run(run_id)
    recorded = {s.step_name for s in detail.steps}
    by_step: dict[str, str] = {}
    for partition, task_ids in outcome.task_ids.items():
        for task_id in task_ids:
            step = ids.get(task_id)
            if step is not None:
                by_step.setdefault(step, partition)
    failed = {s.step_name for s in detail.steps if s.status == "failed"}
    for node in graph:
        if node.name in recorded:
            continue
        partition = by_step.get(node.name, "")
        upstream_failed = partition in _UPSTREAM or bool(_ancestors(graph, node.name) & failed)
        status = "upstream_failed" if upstream_failed else "not_run"
        message = (
            "not run: an upstream step failed"
            if upstream_failed
            else f"not run ({partition or 'the scheduler did not run it'})"
        )
        store.upsert_step(
            run_id, node.name, kind=node.kind, status=status, owner=node.owner, message=message
        )


def _ancestors(graph: Graph, name: str) -> set[str]:
    found: set[str] = set()
    frontier = list(graph.node(name).after)
    while frontier:
        current = frontier.pop()
        if current not in found:
            found.add(current)
            frontier.extend(graph.node(current).after)
    return found


def exit_code_for(detail: RunDetail, outcome: BuildOutcome) -> int:
    """0 on success; else the lowest code 3-7 among failed steps; else 1."""
    if outcome.succeeded and not any(s.status == "failed" for s in detail.steps):
        return 0
    codes = [split_failure(s.message)[0] or 1 for s in detail.steps if s.status == "failed"]
    specific = [c for c in codes if 3 <= c <= 7]
    return min(specific) if specific else 1
