"""Task parameters evaluated when a task is built, and the private Luigi names we use."""

from __future__ import annotations

import datetime as dt

import luigi
import pytest

import luigi_airbyte.tasks.base as base
from luigi_airbyte.tasks import AirbyteSyncTask, PipelineTask
from luigi_airbyte.tasks._luigi_private import (
    reporter_scheduler_and_worker,
    single_try_scheduler,
    summary_partition,
)


def test_run_date_defaults_to_the_day_each_task_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    # a long-lived worker (luigid, `luigi --module`) builds tasks after midnight too
    monkeypatch.setattr(base, "_today", lambda: dt.date(2026, 3, 1))
    before = AirbyteSyncTask(connection="c")
    wrapper_before = PipelineTask(pipeline_file="p.yaml", pipeline="nightly")

    monkeypatch.setattr(base, "_today", lambda: dt.date(2026, 3, 2))
    after = AirbyteSyncTask(connection="c")
    wrapper_after = PipelineTask(pipeline_file="p.yaml", pipeline="nightly")

    assert before.run_date == wrapper_before.run_date == dt.date(2026, 3, 1)
    assert after.run_date == wrapper_after.run_date == dt.date(2026, 3, 2)
    assert before.task_id != after.task_id


def test_an_explicit_run_date_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "_today", lambda: dt.date(2026, 3, 2))
    task = AirbyteSyncTask(connection="c", run_date=dt.date(2025, 12, 31))
    parsed = AirbyteSyncTask.from_str_params({"connection": "c", "run_date": "2025-12-31"})
    assert task.run_date == parsed.run_date == dt.date(2025, 12, 31)
    assert task.task_id == parsed.task_id


class _Probe(luigi.Task):
    seen: list[object] = []

    def complete(self) -> bool:
        return bool(self.seen)

    def run(self) -> None:
        _Probe.seen.append(reporter_scheduler_and_worker(self))


def test_private_luigi_names_still_answer() -> None:
    """Fails first when a Luigi upgrade moves what tasks/_luigi_private.py reaches into."""
    assert reporter_scheduler_and_worker(_Probe()) is None  # outside run()

    result = luigi.build([_Probe()], local_scheduler=True, detailed_summary=True)

    (found,) = _Probe.seen
    assert found is not None
    scheduler, worker_id = found  # type: ignore[misc]
    assert hasattr(scheduler, "add_task") and worker_id
    partition = summary_partition(result.worker)
    assert {t.task_id for t in partition["completed"]} == {_Probe().task_id}


def test_single_try_scheduler_sends_a_request_once() -> None:
    """Luigi's client tries 3 times, 30 s apart; this one gives up after the first."""
    import luigi.rpc

    scheduler = single_try_scheduler("http://127.0.0.1:9")
    tries: list[str] = []

    def refused(url: str, body: object, timeout: object) -> str:
        tries.append(url)
        raise scheduler._fetcher.raises("refused")

    scheduler._fetcher.fetch = refused
    with pytest.raises(luigi.rpc.RPCError):
        scheduler.task_list(status="DISABLED", upstream_status="", limit=False)
    assert tries == ["http://127.0.0.1:9/api/task_list"]
