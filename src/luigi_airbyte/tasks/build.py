"""Run a Luigi graph and turn Luigi's verdict into ours.

Luigi's own answers are misleading for CI: the ``luigi`` binary exits 0 when a task
fails, and ``luigi.build`` returns False on SUCCESS_WITH_RETRY. We always ask for the
detailed summary and map ``LuigiStatusCode`` (``luigi_airbyte.exit_codes.luigi_succeeded``)
plus the per-task partition to a ``BuildOutcome`` the run service turns into an exit code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import luigi
import luigi.configuration
import luigi.interface
import luigi.rpc
import luigi.scheduler
import luigi.worker
from luigi.execution_summary import LuigiStatusCode

from luigi_airbyte.errors import LuigiAirbyteError
from luigi_airbyte.exit_codes import luigi_succeeded
from luigi_airbyte.tasks import warm_slots
from luigi_airbyte.tasks._luigi_private import summary_partition
from luigi_airbyte.tasks.luigid_disabled import reenable_disabled
from luigi_airbyte.tasks.scheduling import end_pass, start_pass

logger = logging.getLogger(__name__)

_LUIGI_LOGGERS = ("luigi-interface", "luigi", "luigi.scheduler", "luigi.server")
_TRACEBACK = "Traceback (most recent call last)"


class _ExpectedFailureFilter(logging.Filter):
    """Keep Luigi quiet about failures we explain ourselves.

    A step that fails with a library error (exit 3-7, or 4 for the store) is reported by
    the step's own ✗ line and by the recap at the end of the run. Luigi would add an ERROR
    line with a traceback for the same failure. Unless the CLI runs with ``-v`` (INFO or
    lower), drop that record, and shorten "error in complete()" warnings to one line.
    Unexpected exceptions (exit 1) keep their traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if logging.getLogger().getEffectiveLevel() <= logging.INFO:
            return True
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, LuigiAirbyteError):
            return False
        if exc is None and record.exc_text and _ours(record.exc_text):
            return False  # already rendered (and redacted) by an earlier filter
        message = record.getMessage()
        if _TRACEBACK in message:
            last = message.strip().splitlines()[-1]
            if _ours(message):
                head = message.split("\n", 1)[0].rstrip(":")
                record.msg = f"{head}: {last.split(': ', 1)[-1]}"
                record.args = ()
        return True


def _ours(traceback_text: str) -> bool:
    """Whether a rendered traceback ends in one of our errors (``luigi_airbyte.*Error``)."""
    lines = traceback_text.strip().splitlines()
    if not lines:
        return False
    name = lines[-1].split(":", 1)[0]
    return name.startswith("luigi_airbyte.") and name.endswith("Error")


_FILTER = _ExpectedFailureFilter()


def quiet_expected_failures() -> None:
    """Install the filter on Luigi's loggers (idempotent; inherited by forked workers)."""
    for name in _LUIGI_LOGGERS:
        lg = logging.getLogger(name)
        if _FILTER not in lg.filters:
            lg.filters.insert(0, _FILTER)  # before redaction turns exc_info into text


@dataclass(frozen=True)
class WorkerOptions:
    """How our workers behave; passed to Luigi's Worker as ``[worker]`` overrides."""

    keep_alive: bool = True  # without it Luigi never retries and exits on resource waits
    wait_interval: float = 0.2
    wait_jitter: float = 0.2
    max_keep_alive_idle_duration: float = 0.0  # 0 = no idle cap
    retry_delay: float = 1.0  # local scheduler only; luigid uses its own [scheduler]
    retry_count: int = 1  # default attempts per task (local scheduler); steps opt in with retries:
    resources: dict[str, int] = field(default_factory=dict)  # local scheduler caps


@dataclass(frozen=True)
class BuildOutcome:
    """What happened to each task of one ``luigi.build`` call."""

    status: str  # the LuigiStatusCode name
    succeeded: bool
    summary_text: str
    task_ids: dict[str, list[str]] = field(default_factory=dict)  # partition -> task ids

    def ids(self, partition: str) -> list[str]:
        return self.task_ids.get(partition, [])


class _Worker(luigi.worker.Worker):
    """Luigi's worker, adding the whole graph in one scheduling pass (``scheduling``):
    from the first ``add`` until ``run``. ``luigi.build`` adds each root task on its own.
    With several worker processes, syncs run in warm slots (``warm_slots``)."""

    _running = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        on = warm_slots.enabled()
        self._warm = warm_slots.WarmPool(self, self._task_result_queue) if on else None

    def _create_task_process(self, task: luigi.Task) -> Any:
        """A sync that Luigi would fork runs in a warm slot instead (``warm_slots``); one
        with a ``worker_timeout`` keeps its fork, which Luigi can terminate on time."""
        proc = super()._create_task_process(task)
        pool = self._warm
        forked = proc.use_multiprocessing and proc.timeout_time is None
        if pool is not None and forked and getattr(task, "warm_process", False):
            return pool.task_process(proc)
        return proc

    def add(self, task: luigi.Task, multiprocess: bool = False, processes: int = 0) -> bool:
        start_pass()
        try:
            return bool(super().add(task, multiprocess, processes))
        finally:
            if self._running:  # a running task's new or missing dependencies: a pass of its own
                end_pass()

    def run(self) -> bool:
        end_pass()
        self._running = True
        return bool(super().run())

    def __exit__(self, *exc: object) -> bool:
        end_pass()
        try:
            return bool(super().__exit__(*exc))
        finally:
            if self._warm is not None:
                self._warm.close()


class _Factory:
    """A worker/scheduler factory: keep-alive workers and a retrying local scheduler."""

    def __init__(self, options: WorkerOptions) -> None:
        self.options = options

    def create_local_scheduler(self) -> luigi.scheduler.Scheduler:
        return luigi.scheduler.Scheduler(
            prune_on_get_work=True,
            record_task_history=False,
            retry_delay=self.options.retry_delay,
            retry_count=self.options.retry_count,
            stable_done_cooldown_secs=0,
            resources=dict(self.options.resources) or None,
        )

    def create_remote_scheduler(self, url: str) -> luigi.rpc.RemoteScheduler:
        return luigi.rpc.RemoteScheduler(url)

    def create_worker(
        self, scheduler: Any, worker_processes: int, assistant: bool = False
    ) -> luigi.worker.Worker:
        o = self.options
        kwargs: dict[str, Any] = {
            "keep_alive": o.keep_alive,
            "wait_interval": o.wait_interval,
            "wait_jitter": o.wait_jitter,
        }
        if o.max_keep_alive_idle_duration:
            kwargs["max_keep_alive_idle_duration"] = o.max_keep_alive_idle_duration
        return _Worker(
            scheduler=scheduler,
            worker_processes=worker_processes,
            assistant=assistant,
            **kwargs,
        )


def run_graph(
    tasks: Sequence[luigi.Task],
    *,
    workers: int = 1,
    scheduler_url: str | None = None,
    options: WorkerOptions | None = None,
) -> BuildOutcome:
    """Run ``tasks`` on the local scheduler or on luigid and report every task's fate."""
    # The CLI owns logging; without this Luigi adds its own handlers on every build.
    luigi.configuration.get_config().set("core", "no_configure_logging", "true")
    quiet_expected_failures()
    env: dict[str, Any] = {"workers": workers, "no_lock": True}
    if scheduler_url:
        env["scheduler_url"] = scheduler_url
        env["local_scheduler"] = False
        reenable_disabled(scheduler_url, tasks)
    else:
        env["local_scheduler"] = True
    result = luigi.build(
        list(tasks),
        worker_scheduler_factory=_Factory(options or WorkerOptions()),
        detailed_summary=True,
        **env,
    )
    partition = summary_partition(result.worker)
    task_ids = {name: sorted(t.task_id for t in found) for name, found in partition.items()}
    status: LuigiStatusCode = result.status
    # Which of Luigi's verdicts count as success: exit_codes.luigi_succeeded.
    succeeded = luigi_succeeded(
        status.name, roots_complete=lambda: all(t.complete() for t in tasks)
    )
    logger.debug("luigi finished with %s", status.name)
    return BuildOutcome(
        status=status.name,
        succeeded=succeeded,
        summary_text=result.summary_text,
        task_ids=task_ids,
    )
