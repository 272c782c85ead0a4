"""Our Luigi worker adds the whole graph in one scheduling pass (``tasks/scheduling.py``):
every executor a task asks joins it once, and the pass ends (its skip notes written)
before the first task runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import luigi

from luigi_airbyte.tasks.build import WorkerOptions, run_graph
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
