"""Building many step tasks looks up each class's Luigi parameters once, not per task.

Luigi's ``Task.get_params`` walks ``dir(cls)`` and is called four times per task built
(instance cache, ``__init__``, the type warning, the task id): 0.2 s of a run of 1,000
fresh syncs. Deterministic: Luigi's own lookup is counted.
"""

from __future__ import annotations

import datetime as dt

import luigi
import pytest

from luigi_airbyte.tasks import CheckTask, CommandTask


class _Fresh(CommandTask):
    """A class no other test built, so its lookup is not cached yet."""


def test_parameters_are_looked_up_once_per_class(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[type] = []
    original = luigi.Task.get_params.__func__  # type: ignore[attr-defined]

    def counting(cls: type[luigi.Task]) -> list[tuple[str, luigi.Parameter]]:
        calls.append(cls)
        return original(cls)  # type: ignore[no-any-return]

    monkeypatch.setattr(luigi.Task, "get_params", classmethod(counting))
    tasks = [_Fresh(pipeline="p", step=f"s{i}", run_date=dt.date(2026, 3, 1)) for i in range(50)]
    assert len({t.task_id for t in tasks}) == 50
    assert calls == [_Fresh]
    # The answer is Luigi's: same parameters, same order, and a copy each time.
    params = _Fresh.get_params()
    assert [n for n, _ in params] == [n for n, _ in original(_Fresh)]
    params.clear()
    assert _Fresh.get_params()


def test_a_subclass_finds_its_own_parameters() -> None:
    class _WithMore(CheckTask):
        extra = luigi.Parameter(default="x")

    assert CheckTask.get_params()  # the parent's lookup is cached first
    names = [n for n, _ in _WithMore.get_params()]
    assert "extra" in names
    assert "extra" not in [n for n, _ in CheckTask.get_params()]
    assert _WithMore(pipeline="p", step="s", run_date=dt.date(2026, 3, 1)).extra == "x"
