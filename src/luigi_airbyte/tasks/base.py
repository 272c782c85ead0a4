"""The Luigi face of a pipeline step: parameters, completeness, run, status reporting.

Everything a step *does* lives in ``luigi_airbyte.app.execute``; these classes only
translate Luigi's life-cycle (complete / run / on_failure) into calls on it, so the
behaviour is testable without Luigi and the glue stays thin.

Parameter rules (see docs/luigi.md):
- significant parameters identify the work: pipeline, step, run date (and interval);
  two ``luigi-airbyte run`` processes on the same pipeline and date build the *same*
  task ids, so luigid never runs them twice;
- ``pipeline_file`` and ``run_id`` are insignificant: they locate the runtime and the
  run record but must not split task ids;
- no parameter ever holds a secret (Luigi prints parameters in logs and summaries).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any, ClassVar

import luigi
import luigi.rpc

from luigi_airbyte.app.execute import StepContext, StepExecutor
from luigi_airbyte.app.step_context import check_interval
from luigi_airbyte.errors import LuigiAirbyteError
from luigi_airbyte.pipeline.graph import Node
from luigi_airbyte.tasks._luigi_private import reporter_scheduler_and_worker
from luigi_airbyte.tasks.context import runtime_for
from luigi_airbyte.tasks.luigid_outbox import Outbox
from luigi_airbyte.tasks.scheduling import join
from luigi_airbyte.tasks.translator import TASK_CLASSES, task_for_node

logger = logging.getLogger(__name__)


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


class _Today:
    """The default of ``run_date``: resolved when a task is built, not when Luigi's
    parameter is declared (a long-lived worker would otherwise keep the import day)."""

    def __repr__(self) -> str:
        return "today (UTC)"

    __str__ = __repr__


class TodayDateParameter(luigi.DateParameter):
    """A ``DateParameter`` whose default is today's UTC date at the time each task is built."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default=_Today(), **kwargs)  # type: ignore[arg-type]

    def normalize(self, x: Any) -> Any:
        return super().normalize(_today() if isinstance(x, _Today) else x)


def retry_policy_dict(task: luigi.Task) -> dict[str, Any]:
    """The retry policy a worker sends with ``add_task``, from the task's public properties."""
    return {
        "retry_count": task.retry_count,
        "disable_hard_timeout": task.disable_hard_timeout,
        "disable_window": task.disable_window,
    }


class StepTask(luigi.Task):
    """Base of every step task.

    A subclass that sets ``kind`` is entered in ``translator.TASK_CLASSES`` under it.
    """

    kind: ClassVar[str] = ""
    warm_process: ClassVar[bool] = False  # whether a worker may run it in a warm slot

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            TASK_CLASSES.setdefault(cls.kind, cls)

    @classmethod
    def get_params(cls) -> list[tuple[str, luigi.Parameter]]:
        """Luigi's parameter list, found once per class. Luigi looks it up four times per
        task it builds (``dir(cls)`` and a ``getattr`` per name each time): 0.2 s of
        building 1,000 tasks. A class's parameters are fixed once it is defined (a
        subclass finds its own)."""
        found: list[tuple[str, luigi.Parameter]] | None = cls.__dict__.get("_params_found")
        if found is None:
            found = super().get_params()
            type.__setattr__(cls, "_params_found", found)
        return list(found)

    @classmethod
    def node_parameters(cls, node: Node, *, pipeline_file: str = "") -> dict[str, Any]:
        """Parameters of this class's tasks beyond the common ones, taken from ``node``
        (``pipeline_file`` is the run's pipeline file, for lookups the run made already)."""
        return {}

    pipeline_file = luigi.Parameter(
        default="", significant=False, description="Path of the pipeline file (not part of the id)."
    )
    pipeline = luigi.Parameter(default="adhoc", description="Pipeline name.")
    step = luigi.Parameter(default="", description="Step name within the pipeline.")
    run_date = TodayDateParameter(description="The logical date of the run (default: today, UTC).")
    interval = luigi.Parameter(
        default="", description="Optional finer partition of run_date, e.g. 2026-11-24T14."
    )
    run_id = luigi.Parameter(
        default="", significant=False, description="Run record id (not part of the id)."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        check_interval(self.run_date, str(self.interval), source="luigi")

    def context(self) -> StepContext:
        return StepContext(
            pipeline=str(self.pipeline),
            step=str(self.step),
            run_date=self.run_date,
            interval=str(self.interval),
            run_id=str(self.run_id),
        )

    def executor(self) -> StepExecutor:
        return join(runtime_for(str(self.pipeline_file)).executor())

    def _dep_task(self, name: str) -> luigi.Task:
        graph = runtime_for(str(self.pipeline_file)).graph(str(self.pipeline))
        return task_for_node(
            graph.node(name),
            pipeline_file=str(self.pipeline_file),
            run_date=self.run_date,
            interval=str(self.interval),
            run_id=str(self.run_id),
        )

    @property
    def retry_count(self) -> int:
        """Luigi attempts = 1 + the step's ``retries:`` (default 0).

        No silent retry by default: Airbyte already retried the job's attempts before it
        failed, and a check or transform that failed on data fails again on the same data.
        A step that fails for transient reasons opts in with ``retries: N``.
        """
        node = self._node_or_none()
        retries = getattr(getattr(node, "step", None), "retries", None)
        return 1 + (retries or 0)

    def requires(self) -> list[luigi.Task]:
        if not self.step or self.pipeline == "adhoc":
            return []
        graph = runtime_for(str(self.pipeline_file)).graph(str(self.pipeline))
        return [self._dep_task(name) for name in graph.node(str(self.step)).after]

    def complete(self) -> bool:
        return self.executor().is_complete(self.context(), self._node_or_none())

    def _node_or_none(self) -> Any:
        if not self.step or self.pipeline == "adhoc":
            return None
        return runtime_for(str(self.pipeline_file)).graph(str(self.pipeline)).node(str(self.step))

    def run(self) -> None:
        with _Reporter(self) as reporter:
            self.executor().run(self.context(), self._node_or_none(), reporter=reporter)

    def on_failure(self, exception: BaseException) -> str:
        """What luigid's UI and failure e-mails show: redacted, no environment dump."""
        redact = runtime_for(str(self.pipeline_file)).redact
        if isinstance(exception, LuigiAirbyteError):
            return redact(f"{type(exception).__name__}: {exception}")
        text = "".join(traceback.format_exception(exception))
        return redact(text)


_NOTHING = object()


class _Reporter:
    """Forwards progress to Luigi (visible in luigid's UI) from inside ``run()``.

    Under luigid each call is a request to it, so a value already sent is not sent again
    (a sync's end sent its 100 % twice), and the tracking URL travels with the task's retry
    policy in one ``add_task``: a sync costs luigid four requests here, not six. They go
    through an ``Outbox``, off the step's path; ``close`` (the end of ``run()``) waits
    until they are sent. With Luigi's local scheduler a call is in-process and made at once.
    """

    def __init__(self, task: luigi.Task) -> None:
        self.task = task
        self._sent: dict[str, object] = {}
        self._queued: dict[str, object] = {}
        self._lock = threading.Lock()
        # Bound by Luigi for the whole of run(), where the reporter lives.
        self._scheduler = reporter_scheduler_and_worker(task)
        remote = self._scheduler is not None and isinstance(
            self._scheduler[0], luigi.rpc.RemoteScheduler
        )
        self._outbox = Outbox(task.task_id) if remote else None

    def __enter__(self) -> _Reporter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Wait until every queued request reached the scheduler (or failed)."""
        if self._outbox is not None:
            self._outbox.close()

    def _send(self, name: str, value: object, call: Callable[[], object], label: str) -> None:
        """``call`` unless ``value`` was sent or is queued: now, or through the outbox."""
        with self._lock:
            if value in (self._sent.get(name, _NOTHING), self._queued.get(name, _NOTHING)):
                return
            if self._outbox is not None:
                self._queued[name] = value

        def send() -> None:
            try:
                call()
            except Exception as exc:  # noqa: BLE001 - luigid unreachable: the sync goes on
                logger.warning(
                    "could not send %s of %s to the scheduler: %s", label, self.task, exc
                )
                ok = False
            else:
                ok = True
            with self._lock:
                if self._queued.get(name, _NOTHING) == value:
                    del self._queued[name]
                if ok:
                    self._sent[name] = value

        if self._outbox is None:
            send()
        else:
            self._outbox.put(name, send)

    def _call(self, name: str, value: object) -> None:
        # Luigi sets these callbacks only while run() executes; elsewhere they are None.
        method = getattr(self.task, name, None)
        if callable(method):
            self._send(name, value, lambda: method(value), name)

    def tracking_url(self, url: str) -> None:
        """Set the URL and, in the same request, the task's own retry policy: Luigi's
        ``set_tracking_url`` is an ``add_task`` without one, which resets the task's policy
        on the scheduler to the default just before a failure would be judged."""
        if not url:
            return
        if self._scheduler is None:
            self._call("set_tracking_url", url)
            return
        scheduler, worker_id = self._scheduler

        def add_task() -> None:  # a lost RPC only loses the URL and the limit
            scheduler.add_task(
                task_id=self.task.task_id,
                worker=worker_id,
                status="RUNNING",
                tracking_url=url,
                retry_policy_dict=retry_policy_dict(self.task),
            )

        self._send("set_tracking_url", url, add_task, "the tracking URL")

    def status(self, message: str) -> None:
        self._call("set_status_message", message)

    def progress(self, percent: float) -> None:
        self._call("set_progress_percentage", max(0, min(100, int(percent))))
