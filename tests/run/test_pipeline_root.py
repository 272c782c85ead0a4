"""The pipeline's root task: once every step was found complete, the run's final check
does not ask each step again (issue 10: 1,000 steps asked twice in a fresh run)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from luigi_airbyte.tasks import CommandTask, PipelineTask
from luigi_airbyte.tasks.context import clear_runtimes

PIPELINE = """\
version: 1
airbyte:
  url: http://127.0.0.1:9/api/public/v1
  auth: {type: client_credentials, client_id: x, client_secret: "env:ROOT_TEST_SECRET"}
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
"""


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PipelineTask]:
    monkeypatch.setenv("ROOT_TEST_SECRET", "s")
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE)
    yield PipelineTask(pipeline_file=str(path), pipeline="p", run_date=dt.date(2026, 11, 24))
    clear_runtimes()


def _asking(monkeypatch: pytest.MonkeyPatch, answer: bool) -> list[str]:
    asked: list[str] = []

    def complete(task: CommandTask) -> bool:
        asked.append(str(task.step))
        return answer

    monkeypatch.setattr(CommandTask, "complete", complete)
    return asked


def test_a_root_found_complete_is_not_asked_again(
    root: PipelineTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _asking(monkeypatch, True)
    assert root.complete() and root.complete()
    assert asked == ["a", "b"]  # once each, at the first check


def test_a_root_found_incomplete_asks_every_step_again(
    root: PipelineTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _asking(monkeypatch, False)
    assert not root.complete() and not root.complete()
    assert asked == ["a", "b", "a", "b"]


def test_the_root_asks_its_steps_inside_one_scheduling_pass(root: PipelineTask) -> None:
    """Where the root runs (a warm slot), Luigi asks each step whether it is complete;
    its process scope is one scheduling pass, whose batch reads answer them together."""
    from luigi_airbyte.tasks.context import runtime_for

    executor = runtime_for(str(root.pipeline_file)).executor()
    since = dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc)
    assert executor.run_attempts("", since) is None  # outside a pass: each asks the store
    with root.process_scope():
        assert executor.run_attempts("", since) is not None
    assert executor.run_attempts("", since) is None
