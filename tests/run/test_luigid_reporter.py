"""What a running step tells the scheduler (luigid: one request each), counted.

A sync sent luigid six requests of its own: the tracking URL, the task's retry policy
again (Luigi's tracking-URL update resets it), its first status, its last status, and
100 % twice. Now four (URL and policy in one ``add_task``, no value sent twice). The
policy still reaches the scheduler with the URL, and a scheduler that fails a request does
not fail the sync.
"""

from __future__ import annotations

from typing import Any

import luigi
import pytest
from luigi.worker import TaskStatusReporter

from luigi_airbyte.tasks.base import _Reporter


class _Scheduler:
    """Records every call a ``TaskStatusReporter`` or the reporter makes."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail

    def _record(self, name: str, **kwargs: Any) -> None:
        if self.fail:
            raise luigi.rpc.RPCError("luigid is gone")
        self.calls.append((name, kwargs))

    def add_task(self, **kwargs: Any) -> None:
        self._record("add_task", **kwargs)

    def set_task_status_message(self, task_id: str, message: str) -> None:
        self._record("set_task_status_message", task_id=task_id, message=message)

    def set_task_progress_percentage(self, task_id: str, percentage: int) -> None:
        self._record("set_task_progress_percentage", task_id=task_id, percentage=percentage)


class _Task(luigi.Task):
    retry_count = 3
    disable_hard_timeout = 60
    disable_window = 120


def _running(scheduler: _Scheduler) -> _Task:
    """The task as Luigi's ``TaskProcess.run`` sets it up for ``run()``."""
    task = _Task()
    reporter = TaskStatusReporter(scheduler, task.task_id, "worker-1", None)
    task.set_tracking_url = reporter.update_tracking_url  # type: ignore[method-assign]
    task.set_status_message = reporter.update_status_message  # type: ignore[method-assign]
    task.set_progress_percentage = reporter.update_progress_percentage  # type: ignore[method-assign]
    return task


def test_a_sync_tells_the_scheduler_each_thing_once() -> None:
    scheduler = _Scheduler()
    task = _running(scheduler)
    reporter = _Reporter(task)
    url = "http://airbyte/workspaces/w/connections/c/job-history#7::0"

    reporter.tracking_url(url)  # after the trigger
    reporter.status("job 7 pending · 0s")
    reporter.status("job 7 succeeded · 1s")  # the wait's last progress, forced
    reporter.progress(100)
    reporter.progress(100)  # the step's own 100 % after the wait
    reporter.tracking_url(url)

    names = [name for name, _ in scheduler.calls]
    assert names == [
        "add_task",
        "set_task_status_message",
        "set_task_status_message",
        "set_task_progress_percentage",
    ]
    (_, add), *_ = scheduler.calls
    assert add["task_id"] == task.task_id and add["worker"] == "worker-1"
    assert add["status"] == "RUNNING" and add["tracking_url"] == url
    # the task's own policy travels with the URL (an add_task without one resets it)
    assert add["retry_policy_dict"] == {
        "retry_count": 3,
        "disable_hard_timeout": 60,
        "disable_window": 120,
    }


def test_a_scheduler_that_fails_a_request_does_not_fail_the_sync(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler = _Scheduler(fail=True)
    reporter = _Reporter(_running(scheduler))
    reporter.tracking_url("http://airbyte/job/1")
    reporter.status("job 1 running · 5s")
    reporter.progress(40)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 3 and all("luigid is gone" in w for w in warnings)
    scheduler.fail = False
    reporter.progress(40)  # not sent before: sent now
    assert [name for name, _ in scheduler.calls] == ["set_task_progress_percentage"]


def test_outside_run_nothing_is_sent() -> None:
    """Luigi binds the callbacks only while ``run()`` executes."""
    task = _Task()
    task.set_tracking_url = None  # type: ignore[assignment,method-assign]
    task.set_status_message = None  # type: ignore[assignment,method-assign]
    task.set_progress_percentage = None  # type: ignore[assignment,method-assign]
    reporter = _Reporter(task)
    reporter.tracking_url("http://airbyte/job/1")
    reporter.status("x")
    reporter.progress(5)
    assert reporter._sent == {}  # nothing counted as sent: sent once run() binds them
