"""Every private Luigi name we use, in one place.

Luigi's ``worker`` module says of itself "Everything in this module is private to luigi";
``execution_summary._summary_dict`` and the status reporter's attributes are private too.
We need three things Luigi offers no public way to get:

- ``summary_partition``: which tasks ended in which state (completed, failed, not run,
  run by another worker...). ``LuigiRunResult`` gives only a status code and a text;
  the per-step records of a run are built from the partition.
- ``single_try_scheduler``: a client of luigid that tries a request once (it sets
  ``RemoteScheduler._rpc_retry_attempts``). Luigi's tries 3 times 30 s apart
  (``[core] rpc-retry-*``, read in ``__init__`` only); a question the
  run may do without (``tasks.luigid_disabled``) must not add 90 s to a luigid that is down.
- ``reporter_scheduler_and_worker``: the scheduler and worker id behind a running task's
  ``set_tracking_url``. Luigi reports a tracking URL with an ``add_task`` that carries no
  retry policy, which resets the task's policy on the scheduler to the default; the task
  sends the URL itself through the same scheduler, with its own policy in that
  ``add_task``, as the worker would.

Pinned to luigi 3.8.x (pyproject). If an upgrade breaks one of these, this module is the
only place to fix, and tests/run/test_task_defaults.py fails first. Where a public API
exists we use it instead: the retry policy sent again is built from the task's public
``retry_count`` / ``disable_hard_timeout`` / ``disable_window`` (``tasks.base``), not
with ``luigi.worker._get_retry_policy_dict``.
"""

from __future__ import annotations

from typing import Any

import luigi
from luigi.execution_summary import _summary_dict


def summary_partition(worker: Any) -> dict[str, set[luigi.Task]]:
    """Luigi's own partition of a finished build's tasks, by outcome."""
    partition: dict[str, set[luigi.Task]] = _summary_dict(worker)
    return partition


def reporter_scheduler_and_worker(task: luigi.Task) -> tuple[Any, str] | None:
    """The scheduler and worker id a task reports to while it runs, or ``None`` outside
    ``run()`` (Luigi binds ``set_tracking_url`` to a ``TaskStatusReporter`` only then)."""
    reporter = getattr(getattr(task, "set_tracking_url", None), "__self__", None)
    scheduler = getattr(reporter, "_scheduler", None)
    worker_id = getattr(reporter, "_worker_id", None)
    if scheduler is None or worker_id is None:
        return None
    return scheduler, str(worker_id)


def single_try_scheduler(url: str) -> Any:
    """``luigi.rpc.RemoteScheduler`` on ``url`` that gives up after one failed request."""
    import luigi.rpc

    scheduler = luigi.rpc.RemoteScheduler(url)
    scheduler._rpc_retry_attempts = 1
    return scheduler
