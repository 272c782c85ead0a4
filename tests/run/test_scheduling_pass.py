"""Our Luigi worker adds the whole graph in one scheduling pass (``tasks/scheduling.py``):
every executor a task asks joins it once, and the pass ends (its skip notes written)
before the first task runs."""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import luigi
import pytest
from rich.console import Console

from luigi_airbyte.app.execute import StepExecutor
from luigi_airbyte.cli.run_cmd import execute_run
from luigi_airbyte.sandbox import Sandbox, demo_world
from luigi_airbyte.tasks.build import WorkerOptions, run_graph
from luigi_airbyte.tasks.context import clear_runtimes
from luigi_airbyte.tasks.scheduling import join


class Executor:
    """Stands in for ``StepExecutor``: records its passes."""

    def __init__(self) -> None:
        self.entered = 0
        self.active = False

    @contextmanager
    def scheduling_pass(self) -> Iterator[None]:
        self.entered += 1
        self.active = True
        try:
            yield
        finally:
            self.active = False


EXECUTOR = Executor()
SEEN: dict[str, list[bool]] = {"complete": [], "retry_count": [], "run": []}
DONE: set[int] = set()


class Step(luigi.Task):
    i = luigi.IntParameter()

    def _ask(self, what: str) -> Any:
        SEEN[what].append(join(EXECUTOR).active)  # type: ignore[arg-type]

    @property
    def retry_count(self) -> int:
        self._ask("retry_count")
        return 1

    def complete(self) -> bool:
        self._ask("complete")
        return self.i in DONE

    def run(self) -> None:
        SEEN["run"].append(EXECUTOR.active)
        DONE.add(self.i)


def test_luigi_schedules_the_whole_graph_in_one_pass() -> None:
    outcome = run_graph([Step(i=i) for i in range(5)], workers=1, options=WorkerOptions())
    assert outcome.succeeded
    assert EXECUTOR.entered == 1  # joined once, by the first task asked
    # While adding (five roots, each added on its own): all in the one pass...
    assert SEEN["complete"][:5] == [True] * 5
    assert SEEN["retry_count"][:5] == [True] * 5
    # ...which ended before any task ran; after it each question stands alone.
    assert SEEN["run"] == [False] * 5
    assert SEEN["retry_count"][5:] == [False] * 5
    assert not any(SEEN["complete"][5:])


RUN_PIPELINE = """\
version: 1
airbyte:
  url: {url}
  auth: {{type: client_credentials, client_id: {cid}, client_secret: "file:{secret}"}}
state_dir: state
owners:
  data: {{alerts: ["jsonl:{alerts}"]}}
pipelines:
  nightly:
    owner: data
    steps:
      - sync: crm
        connection: "Postgres CRM → Warehouse"
      - sync: events
        connection: "Events API → Warehouse"
"""


def test_a_real_run_answers_every_retry_policy_of_its_scheduling_from_one_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The root's own pass (its ``complete()`` asks every step) nests inside the worker's:
    when it ended first it took the batch with it, and every later question of the
    scheduling read the store again (1,000 syncs: 3.6 s of start-up instead of 0.65 s)."""
    answers: list[bool] = []
    real = StepExecutor.run_attempts

    def recorded(self: StepExecutor, run_id: str, since: dt.datetime) -> Any:
        found = real(self, run_id, since)
        answers.append(found is not None)
        return found

    monkeypatch.setattr(StepExecutor, "run_attempts", recorded)
    with Sandbox(demo_world(data_dir=tmp_path / "wh")) as sandbox:
        secret = tmp_path / "secret"
        secret.write_text(sandbox.client_secret)
        os.chmod(secret, 0o600)
        pipeline = tmp_path / "pipeline.yaml"
        pipeline.write_text(
            RUN_PIPELINE.format(
                url=sandbox.url, cid=sandbox.client_id, secret=secret, alerts=tmp_path / "a.jsonl"
            )
        )
        try:
            code, _ = execute_run(
                pipeline,
                run_date=dt.date(2026, 11, 24),
                console=Console(file=io.StringIO()),
                as_json=True,
            )
        finally:
            clear_runtimes()
    assert code == 0
    # Each sync is asked once while Luigi adds it (from the pass's one read), then when it
    # ends and before it posts (from the store: its own attempt may have changed it).
    assert answers[:2] == [True, True]
    assert answers.count(True) == 2
