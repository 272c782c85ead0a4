"""A new run re-enables its own tasks that luigid disabled after an earlier run failed.

luigid disables a task once its failures reach the retry policy the task sent (for a sync
whose Airbyte job failed: 1), and keeps it disabled for ``disable_persist`` (a day by
default), refusing workers that add it as pending. Our tasks keep their ids from run to
run (``run_id`` is not significant, so two runs at once share one task and luigid's lock),
so the re-run that the recap prints after a failure found its steps disabled and ran
nothing: "not run (still_pending_not_ext)", exit 1, for a day.

A run started by a person or by cron is a new decision to try again. Before Luigi adds the
graph, the run asks luigid for its disabled tasks (one request) and re-enables those of
its own graph. That is safe for exactly-once: luigid's disable never guarded the Airbyte
job; the ledger's claim does (``luigi_airbyte.sync.runner``), and a running task is not
disabled, so another run's live sync is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import luigi

from luigi_airbyte.tasks._luigi_private import single_try_scheduler

logger = logging.getLogger(__name__)


class _Luigid(Protocol):
    """The two scheduler RPCs used here (``RemoteScheduler`` adds them at import)."""

    def task_list(self, status: str, upstream_status: str, limit: bool) -> Any: ...

    def re_enable_task(self, task_id: str) -> Any: ...


def _graph(roots: Sequence[luigi.Task]) -> Iterator[luigi.Task]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        task = stack.pop()
        if task.task_id in seen:
            continue
        seen.add(task.task_id)
        yield task
        stack.extend(task.deps())


def reenable_disabled(url: str, roots: Sequence[luigi.Task]) -> list[str]:
    """Re-enable the tasks of this graph that luigid at ``url`` holds disabled; returns
    their ids. Never raises: luigid unreachable is reported by Luigi's build just after."""
    scheduler: _Luigid = single_try_scheduler(url)
    try:
        disabled = scheduler.task_list(status="DISABLED", upstream_status="", limit=False)
    except Exception as exc:  # noqa: BLE001 - the build that follows reports luigid's state
        logger.warning("could not ask luigid for disabled tasks: %s", exc)
        return []
    if not isinstance(disabled, dict) or not disabled:
        return []
    enabled: list[str] = []
    for task in (t for t in _graph(roots) if t.task_id in disabled):
        step = getattr(task, "step", None) or task.task_id
        try:
            scheduler.re_enable_task(task.task_id)
        except Exception as exc:  # noqa: BLE001 - as above
            logger.warning("could not re-enable step %s on luigid: %s", step, exc)
            continue
        logger.warning(
            "luigid had disabled step %s after an earlier run's failure; re-enabled for this run",
            step,
        )
        enabled.append(task.task_id)
    return enabled


__all__ = ["reenable_disabled"]
