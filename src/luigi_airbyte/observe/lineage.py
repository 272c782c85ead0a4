"""OpenLineage: START / COMPLETE / FAIL run events for pipeline steps.

``openlineage-python`` is optional and imported lazily; without it, constructing a
:class:`LineageEmitter` raises ``ImportError`` naming the extra to install.

Run ids: OpenLineage wants a UUID per job run. A step's id is ``uuid5`` of the pipeline
run id, the step name and the attempt, so START and COMPLETE of one step always match and
a resumed run reports the same ids; the pipeline run is attached as the parent run.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypedDict

from luigi_airbyte.observe.redact import Redactor, default_redactor

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

__all__ = [
    "INSTALL_HINT",
    "LineageDataset",
    "LineageEmitter",
    "LineageStep",
    "dbt_datasets",
    "sync_datasets",
]

logger = logging.getLogger(__name__)

INSTALL_HINT = "OpenLineage support needs openlineage-python: pip install 'luigi-airbyte[lineage]'"
PRODUCER = "https://github.com/luigi-airbyte/luigi-airbyte"
_ID_NAMESPACE = uuid.UUID("6f1d8c2e-3a4b-5c6d-8e9f-0a1b2c3d4e5f")


def _require_openlineage() -> None:
    try:
        import openlineage.client  # noqa: F401
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc


@dataclass(frozen=True)
class LineageDataset:
    """A dataset as OpenLineage names it: ``namespace`` (where) + ``name`` (what)."""

    namespace: str
    name: str


class _StepIdentity(TypedDict):
    run_id: str
    pipeline: str
    step: str
    step_type: str


class LineageStep(_StepIdentity, total=False):
    """The keyword arguments of ``start``, ``complete`` and ``fail``: which step of which run
    (required), what it read and wrote (default none), which attempt (default 1) and when
    (default now)."""

    inputs: Sequence[LineageDataset]
    outputs: Sequence[LineageDataset]
    attempt: int
    at: datetime | None


def sync_datasets(
    source: str,
    streams: Iterable[str],
    *,
    destination_namespace: str,
    source_namespace: str = "airbyte",
    table_prefix: str = "",
) -> tuple[list[LineageDataset], list[LineageDataset]]:
    """Inputs and outputs of an Airbyte sync: the source in, one table per stream out.

    ``destination_namespace`` follows OpenLineage naming where known
    (``postgres://host:5432``, ``duckdb:///path/warehouse.duckdb``); the table name may
    include the schema (``table_prefix="analytics."``).
    """
    inputs = [LineageDataset(source_namespace, source)]
    outputs = [LineageDataset(destination_namespace, f"{table_prefix}{s}") for s in streams]
    return inputs, outputs


def dbt_datasets(
    models: Iterable[str],
    *,
    namespace: str,
    sources: Iterable[str] = (),
) -> tuple[list[LineageDataset], list[LineageDataset]]:
    """Inputs (the tables dbt reads) and outputs (the models it builds) of a dbt step."""
    return (
        [LineageDataset(namespace, s) for s in sources],
        [LineageDataset(namespace, m) for m in models],
    )


def step_run_id(run_id: str, step: str, attempt: int = 1) -> str:
    """The OpenLineage run id of a step attempt (deterministic, see module docstring)."""
    parent = pipeline_run_id(run_id)
    suffix = step if attempt <= 1 else f"{step}#{attempt}"
    return str(uuid.uuid5(uuid.UUID(parent), suffix))


def pipeline_run_id(run_id: str) -> str:
    """The run id itself when it is a UUID, else a UUID derived from it."""
    try:
        return str(uuid.UUID(run_id))
    except ValueError:
        return str(uuid.uuid5(_ID_NAMESPACE, run_id))


class LineageEmitter:
    """Emits OpenLineage ``RunEvent``s for steps through ``transport`` or ``client``.

    ``transport`` is an ``openlineage.client.transport.Transport`` (``FileTransport``,
    ``ConsoleTransport``, ``HttpTransport``, or your own); events go straight to it so
    behaviour does not depend on ``openlineage.yml`` in the working directory. Without
    either, an ``OpenLineageClient()`` configured from the environment is used.
    A failing transport is logged once and counted; it never fails the step.
    """

    def __init__(
        self,
        transport: Any = None,
        *,
        namespace: str = "luigi-airbyte",
        client: Any = None,
        producer: str = PRODUCER,
        redactor: Redactor | None = None,
    ) -> None:
        _require_openlineage()
        if transport is None and client is None:
            from openlineage.client import OpenLineageClient

            client = OpenLineageClient()
        self.transport = transport
        self.client = client
        self.namespace = namespace
        self.producer = producer
        self.redactor = redactor if redactor is not None else default_redactor()
        self.failures = 0
        self._warned = False
        self._lock = threading.Lock()

    @classmethod
    def to_file(cls, path: str, **kwargs: Any) -> LineageEmitter:
        """Append events as JSON lines to ``path`` (``FileTransport`` in append mode)."""
        _require_openlineage()
        from openlineage.client.transport.file import FileConfig, FileTransport

        return cls(FileTransport(FileConfig(log_file_path=path, append=True)), **kwargs)

    @classmethod
    def to_console(cls, **kwargs: Any) -> LineageEmitter:
        """Log events through the ``openlineage`` logger (``ConsoleTransport``)."""
        _require_openlineage()
        from openlineage.client.transport.console import ConsoleConfig, ConsoleTransport

        return cls(ConsoleTransport(ConsoleConfig()), **kwargs)

    # -- public API -----------------------------------------------------------------------

    def start(self, **step: Unpack[LineageStep]) -> Any:
        """Emit START for a step; returns the event (or None if building it failed)."""
        return self._emit("START", step)

    def complete(self, **step: Unpack[LineageStep]) -> Any:
        """Emit COMPLETE for a step."""
        return self._emit("COMPLETE", step)

    def fail(self, *, error: str, **step: Unpack[LineageStep]) -> Any:
        """Emit FAIL for a step, with a redacted ``errorMessage`` run facet."""
        return self._emit("FAIL", step, error=error)

    def close(self, timeout: float = 5.0) -> None:
        target = self.client if self.client is not None else self.transport
        close = getattr(target, "close", None)
        if close is not None:
            try:
                close(timeout)
            except Exception:  # noqa: BLE001 - closing lineage must not fail the run
                logger.warning("closing the OpenLineage transport failed")

    # -- internals ------------------------------------------------------------------------

    def build(
        self,
        event_type: str,
        run_id: str,
        pipeline: str,
        step: str,
        step_type: str,
        inputs: Sequence[LineageDataset] = (),
        outputs: Sequence[LineageDataset] = (),
        attempt: int = 1,
        at: datetime | None = None,
        *,
        error: str | None = None,
    ) -> Any:
        """Build (not emit) a ``RunEvent``; public so callers can inspect or test it."""
        from openlineage.client.event_v2 import (
            InputDataset,
            Job,
            OutputDataset,
            Run,
            RunEvent,
            RunState,
        )
        from openlineage.client.facet_v2 import error_message_run, job_type_job, parent_run

        parent = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=pipeline_run_id(run_id)),
            job=parent_run.Job(namespace=self.namespace, name=pipeline),
            root=parent_run.Root(
                run=parent_run.RootRun(runId=pipeline_run_id(run_id)),
                job=parent_run.RootJob(namespace=self.namespace, name=pipeline),
            ),
        )
        run_facets: dict[str, Any] = {"parent": parent}
        if error is not None:
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=self.redactor.redact_str(error), programmingLanguage="python"
            )
        job_facets: dict[str, Any] = {
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH", integration="LUIGI_AIRBYTE", jobType=step_type.upper()
            )
        }
        when = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        return RunEvent(
            eventType=RunState[event_type],
            eventTime=when.isoformat(),
            run=Run(runId=step_run_id(run_id, step, attempt), facets=run_facets),
            job=Job(namespace=self.namespace, name=f"{pipeline}.{step}", facets=job_facets),
            inputs=[InputDataset(namespace=d.namespace, name=d.name) for d in inputs],
            outputs=[OutputDataset(namespace=d.namespace, name=d.name) for d in outputs],
            producer=self.producer,
        )

    def _emit(self, event_type: str, step: LineageStep, *, error: str | None = None) -> Any:
        try:
            event = self.build(event_type, **step, error=error)
            if self.transport is not None:
                self.transport.emit(event)
            else:
                self.client.emit(event)
            return event
        except Exception as exc:  # noqa: BLE001 - lineage must never fail a step
            with self._lock:
                self.failures += 1
                first, self._warned = not self._warned, True
            if first:
                logger.warning(
                    "OpenLineage %s event for %s.%s was not emitted (%s: %s); "
                    "further failures are only counted",
                    event_type,
                    step["pipeline"],
                    step["step"],
                    type(exc).__name__,
                    self.redactor.redact_str(str(exc)),
                )
            return None
