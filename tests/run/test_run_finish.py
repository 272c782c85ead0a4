"""The run the run service returns is the run as closed in the store (issue 10: its end
reads every step once, and again only when closing changed a step), with each step's
note as the summary shows it."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from luigi_airbyte.app.run_service import GraphOutcome, RunRequest, RunService
from luigi_airbyte.app.runtime import Runtime
from luigi_airbyte.cli.run_cmd import execute_run
from luigi_airbyte.pipeline.graph import Graph
from luigi_airbyte.store import Store

PIPELINE = """\
version: 1
airbyte:
  url: http://127.0.0.1:9/api/public/v1
  auth: {type: client_credentials, client_id: x, client_secret: "env:FINISH_TEST_SECRET"}
state_dir: state
owners:
  data: {alerts: ["jsonl:alerts.jsonl"]}
pipelines:
  p:
    owner: data
    steps:
      - command: {argv: [python, -c, "print(1)"]}
        name: a
      - command: {argv: [python, -c, "print(2)"]}
        name: b
        after: [a]
"""


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("FINISH_TEST_SECRET", "s")
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE)
    rt = Runtime.load(path)
    yield rt
    rt.close()


def _run(rt: Runtime, graph_runner: Any) -> tuple[Any, Store]:
    request = RunRequest(
        pipeline_file=Path("pipeline.yaml"),
        run_date=dt.date(2026, 11, 24),
        skip_preflight=True,
    )
    result = RunService(rt).run(request, graph_runner)
    return result, rt.store()


def test_the_returned_run_is_the_stored_run_when_closing_changed_no_step(
    runtime: Runtime,
) -> None:
    reads: list[str] = []

    def graph_runner(rt: Runtime, graph: Graph, **options: Any) -> GraphOutcome:
        store = rt.store()
        for step in ("a", "b"):
            store.upsert_step(options["run_id"], step, kind="command", status="succeeded")
        read_run = store.get_run

        def counted(run_id: str) -> Any:  # the run's end: how often it reads every step
            reads.append(run_id)
            return read_run(run_id)

        store.get_run = counted  # type: ignore[method-assign]
        return GraphOutcome("SUCCESS", True, {})

    result, store = _run(runtime, graph_runner)
    assert len(reads) == 1  # every step is read once, to find those Luigi left unrecorded
    del store.get_run  # type: ignore[method-assign]
    stored = store.get_run(result.detail.run.run_id)
    assert result.detail == stored
    assert stored.run.finished_at is not None
    assert stored.run.step_counts == {"succeeded": 2}


def test_a_step_closing_abandoned_is_returned_abandoned(runtime: Runtime) -> None:
    def graph_runner(rt: Runtime, graph: Graph, **options: Any) -> GraphOutcome:
        store, run_id = rt.store(), options["run_id"]
        store.upsert_step(run_id, "a", kind="command", status="succeeded")
        store.upsert_step(run_id, "b", kind="command", status="running")  # its process died
        return GraphOutcome("SUCCESS", True, {})

    result, store = _run(runtime, graph_runner)
    stored = store.get_run(result.detail.run.run_id)
    assert result.detail == stored
    step = result.detail.step("b")
    assert step is not None and step.status == "abandoned"
    assert result.detail.run.step_counts == {"succeeded": 1, "abandoned": 1}


def test_a_command_steps_note_is_its_exit_and_last_line(runtime: Runtime, tmp_path: Path) -> None:
    """Not "1 records in 0.2s" (``TransformResult.summary``)."""
    with open(os.devnull, "w") as quiet:
        code, doc = execute_run(
            tmp_path / "pipeline.yaml",
            run_date=dt.date(2026, 11, 24),
            skip_preflight=True,
            console=Console(file=quiet),
            as_json=True,
            runtime=runtime,
        )
    assert code == 0
    notes = [step["message"] for step in doc["steps"]]
    assert len(notes) == 2
    for note, printed in zip(notes, ("1", "2"), strict=True):
        assert note.startswith("exit 0 in ") and note.endswith(f"s: {printed}")
