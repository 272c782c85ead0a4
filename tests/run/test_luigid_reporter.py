"""What a running step tells the scheduler (luigid: one request each), counted.

A sync sent luigid six requests of its own: the tracking URL, the task's retry policy
again (Luigi's tracking-URL update resets it), its first status, its last status, and
100 % twice. Now four (URL and policy in one ``add_task``, no value sent twice). The
policy still reaches the scheduler with the URL, and a scheduler that fails a request does
not fail the sync. Under luigid they are sent from the task's outbox thread
(``tasks/luigid_outbox.py``), all before ``run()`` returns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import luigi
import luigi.rpc
import pytest
from luigi.worker import TaskStatusReporter

from e2e.e2e_helpers import wait_for
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


class _SlowLuigid(luigi.rpc.RemoteScheduler):
    """luigid that answers only when the test lets it: every request waits for ``go``."""

    def __init__(self) -> None:
        super().__init__("http://luigid.invalid:8082")
        self.go = threading.Event()
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def _request(self, url: str, data: dict[str, Any], *_a: Any, **_k: Any) -> None:
        assert self.go.wait(30), "the test never let luigid answer"
        self.requests.append((url, data))


def _in_thread(call: Callable[[], None]) -> threading.Event:
    """``call`` in a thread of its own; the event is set when it returned."""
    returned = threading.Event()

    def target() -> None:
        call()
        returned.set()

    threading.Thread(target=target, daemon=True).start()
    return returned


def test_under_luigid_the_step_goes_on_while_luigid_answers() -> None:
    """The URL, a status and a percentage are queued; the step is not held on luigid."""
    luigid = _SlowLuigid()
    reporter = _Reporter(_running(luigid))  # type: ignore[arg-type]

    def report() -> None:
        reporter.tracking_url("http://airbyte/job/7")
        reporter.status("job 7 running · 0s")
        reporter.progress(100)

    assert _in_thread(report).wait(10), "the step waited for luigid's answers"
    assert luigid.requests == []  # luigid has not answered yet
    luigid.go.set()
    reporter.close()
    assert [url for url, _ in luigid.requests] == [
        "/api/add_task",
        "/api/set_task_status_message",
        "/api/set_task_progress_percentage",
    ]


def test_the_end_of_run_waits_until_luigid_has_every_message() -> None:
    """``close`` (the end of ``run()``) returns only once luigid has the task's ``RUNNING``
    with its URL: after it, Luigi's worker reports the task done, and a late ``RUNNING``
    would show a finished task as running again. Of several statuses queued meanwhile,
    only the latest is sent."""
    luigid = _SlowLuigid()
    reporter = _Reporter(_running(luigid))  # type: ignore[arg-type]
    reporter.tracking_url("http://airbyte/job/7")
    for message in ("job 7 pending · 0s", "job 7 running · 1s", "job 7 succeeded · 2s"):
        reporter.status(message)
    closed = _in_thread(reporter.close)
    assert not closed.wait(0.3), "close returned before luigid had the messages"
    luigid.go.set()
    assert closed.wait(10)
    assert [(url, data.get("status")) for url, data in luigid.requests] == [
        ("/api/add_task", "RUNNING"),
        ("/api/set_task_status_message", None),
    ]
    assert luigid.requests[1][1]["status_message"] == "job 7 succeeded · 2s"


def test_a_request_luigid_fails_in_the_outbox_is_logged_and_sent_again_when_asked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    luigid = _SlowLuigid()
    luigid.go.set()
    failing = [True]
    answer = luigid._request

    def flaky(url: str, data: dict[str, Any], *a: Any, **k: Any) -> None:
        if failing[0]:
            raise luigi.rpc.RPCError("luigid is gone")
        answer(url, data, *a, **k)

    luigid._request = flaky  # type: ignore[method-assign]
    reporter = _Reporter(_running(luigid))  # type: ignore[arg-type]
    reporter.progress(40)
    wait_for(  # the failed send is over: warned, and no longer counted as queued
        lambda: (
            any("luigid is gone" in r.getMessage() for r in caplog.records) and not reporter._queued
        ),
        timeout=10,
        what="the outbox's failed send",
    )
    failing[0] = False
    reporter.progress(40)  # not sent before: sent now
    reporter.progress(40)  # sent or queued: not again
    reporter.close()
    assert [url for url, _ in luigid.requests] == ["/api/set_task_progress_percentage"]
