"""The run life cycle in one place: open the run record, heartbeat, preflight, build, run,
summarise, close, exit code.

``luigi-airbyte run``, ``quickstart``, ``sync`` and plain ``luigi --module`` runs all go
through here; the CLI only parses, prints and exits. Luigi lives above this layer, so the
graph is run by a ``GraphRunner`` the caller passes in (``luigi_airbyte.tasks.outcome``).

Runs close, even when killed. The process holding a run renews its heartbeat
(``runs.heartbeat_at``, with host, pid and the pid's start time) every few seconds from a
daemon thread. Whoever reads runs (``run``, ``history``, ``show``) first closes every run
whose holder is gone, as ``abandoned`` with when and why, and its ``running`` steps too:

- the holder ran on this host and its pid is dead, or now belongs to another process;
- or its heartbeat is older than the lease (another host, or a frozen process).

The store can fail under a run: a SQLite file deleted or replaced, a PostgreSQL outage.
The run then ends with one message naming the store, the summary of what is known (from
Luigi's own account), one alert to the owner role, and exit 4. Nothing is recorded as
``succeeded`` into a store nobody will read; the next run closes what was left open.
"""

from __future__ import annotations

import logging
import re
import shlex
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from luigi_airbyte.app.identity import acting_identity
from luigi_airbyte.app.reload import (
    RELOAD_FIX,
    reject_bad_loads,
    reload_option,
    reload_target,
    resolve_reload,
)
from luigi_airbyte.app.report_links import report_location
from luigi_airbyte.app.run_record import (
    HEARTBEAT_S,
    LEASE_S,
    Holder,
    RunHandle,
    holder_gone,
    open_run,
    reap_abandoned,
    settle_claims_of,
)
from luigi_airbyte.app.step_context import check_interval
from luigi_airbyte.app.watcher import with_watcher
from luigi_airbyte.errors import LuigiAirbyteError, StoreError
from luigi_airbyte.exit_codes import ExitCode, for_error, for_run, for_step
from luigi_airbyte.observe import Alert
from luigi_airbyte.pipeline._types import looks_like_uuid
from luigi_airbyte.pipeline.graph import Graph, Node
from luigi_airbyte.store import RunDetail, RunSummary, StepRecord, Store, utcnow

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime

logger = logging.getLogger(__name__)

_NOT_RUN = ("skipped", "fresh", "upstream_failed", "not_run", "pending")
_UPSTREAM = {
    "upstream_failure",
    "upstream_missing_dependency",
    "upstream_scheduling_error",
    "upstream_run_by_other_worker",
}


# --- running a pipeline ------------------------------------------------------------------


@dataclass(frozen=True)
class GraphOutcome:
    """What Luigi did: its status and, per step, the partition its task ended in."""

    status: str
    succeeded: bool
    partitions: Mapping[str, str] = field(default_factory=dict)  # step -> partition


class GraphRunner(Protocol):
    """Builds and runs the Luigi graph of one run (``luigi_airbyte.tasks.outcome``)."""

    def __call__(
        self,
        rt: Runtime,
        graph: Graph,
        *,
        pipeline_file: Path,
        run_date: date,
        interval: str,
        run_id: str,
        workers: int,
        scheduler_url: str | None,
    ) -> GraphOutcome: ...


@dataclass(frozen=True)
class RunRequest:
    pipeline_file: Path
    run_date: date
    pipeline_name: str | None = None
    interval: str = ""
    workers: int = 1
    scheduler_url: str | None = None
    skip_preflight: bool = False
    argv: Sequence[str] = ()
    report_html: Path | None = None  # --report-html; else reports.html in the file decides
    reload: tuple[str, ...] = ()  # --reload: sync steps whose bad load is rejected, refreshed


@dataclass(frozen=True)
class RecapItem:
    """One failed step, as the last lines of a run explain it."""

    step: str
    kind: str
    status: str
    connection: str  # the connection's name for syncs and their checks, else ""
    cause: str
    fix: str
    exit_code: int


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: exit code, the run as recorded (or as known), and the recap."""

    code: int
    detail: RunDetail
    luigi_status: str = ""
    error: LuigiAirbyteError | None = None  # a preflight or store failure, to print
    recap: tuple[RecapItem, ...] = ()
    recorded: bool = True  # False: the store failed; ``detail`` is what Luigi knew
    html_path: Path | None = None  # where the HTML report is to be written, if wanted
    html_link: str = ""  # how people reach it (served URL or path), in alerts and JUnit

    def counts_line(self) -> str:
        return counts_line(self.detail.steps, self.code)


class RunService:
    """Runs pipelines for one ``Runtime``."""

    def __init__(
        self, rt: Runtime, *, heartbeat_s: float = HEARTBEAT_S, lease_s: float = LEASE_S
    ) -> None:
        self.rt = rt
        self.heartbeat_s = heartbeat_s
        self.lease_s = lease_s

    def store(self) -> Store:
        """The store, opened (refused with exit 4 if untrusted), abandoned runs closed and
        the claims they held settled against Airbyte."""
        store = self.rt.store()
        reap_abandoned(store, lease_s=self.lease_s, settle=self._settle)
        return store

    def _settle(self, run_key: str) -> object:
        from luigi_airbyte.sync import SyncRunner

        return SyncRunner(self.rt.client(), self.rt.store().ledger).settle(run_key)

    def run(self, request: RunRequest, graph_runner: GraphRunner) -> RunOutcome:
        """The whole life cycle of one ``luigi-airbyte run``. Raises ``ConfigError`` (exit
        3, nothing touched) and ``StoreError`` when the store is refused (exit 4, nothing
        contacted); every later failure is a recorded run with its exit code."""
        rt = self.rt
        pf = rt.pipeline_file
        assert pf is not None
        pipeline = pf.pipeline(request.pipeline_name)
        graph = rt.graph(pipeline.name)
        reload = self._reload(graph, request)  # an unknown step: exit 3, nothing touched
        check_interval(request.run_date, request.interval)
        store = self.store()
        handle = open_run(
            store,
            pipeline.name,
            request.run_date,
            argv=request.argv,
            scheduler=request.scheduler_url or "local",
            identity=acting_identity(rt),
            heartbeat_s=self.heartbeat_s,
        )
        html_path, html_link = report_location(rt, handle.run_id, request.report_html)
        outcome: GraphOutcome | None = None
        try:
            try:
                if not request.skip_preflight and (failed := self._preflight(handle, graph)):
                    return failed
                reload(handle.run_id)
                outcome = with_watcher(graph_runner)(
                    rt,
                    graph,
                    pipeline_file=request.pipeline_file,
                    run_date=request.run_date,
                    interval=request.interval,
                    run_id=handle.run_id,
                    workers=request.workers,
                    scheduler_url=request.scheduler_url,
                )
                code, detail = self._finish(handle, graph, outcome, html_link)
            except StoreError as exc:
                return self._store_lost(handle, graph, request, exc, outcome)
            return RunOutcome(
                code=code,
                detail=detail,
                luigi_status=outcome.status,
                recap=tuple(self.recap(detail, graph, request)),
                html_path=html_path,
                html_link=html_link,
            )
        except BaseException as exc:
            self._crashed(handle, exc)
            raise
        finally:
            handle.stop_heartbeat()
            store.unpin()
            flush_events(rt)

    def _preflight(self, handle: RunHandle, graph: Graph) -> RunOutcome | None:
        """Preflight; a failure ends the run here (a store failure is raised)."""
        from luigi_airbyte.app.preflight import run_preflight

        try:
            run_preflight(self.rt, graph)
        except StoreError:
            raise
        except LuigiAirbyteError as exc:
            return self._preflight_failed(handle, graph, exc)
        return None

    def _finish(
        self, handle: RunHandle, graph: Graph, outcome: GraphOutcome, html_link: str
    ) -> tuple[int, RunDetail]:
        """After Luigi: record the steps it did not run, choose the exit code, alert each
        failed step's owner, close the run.

        The run as closed is the steps read before closing with the run's row read again,
        unless closing abandoned a step (then all is read again): nothing else writes the
        run's steps, counts or checks once Luigi returned (one read of every step less,
        ~10 ms at 1,000 steps)."""
        store = handle.store
        handle.check()
        detail = record_unrun_steps(store, handle.run_id, graph, outcome)
        code = exit_code_for(detail, outcome)
        links = {"report": html_link} if html_link else None
        self.rt.executor().alert_failed_steps(detail, links=links)
        abandoned = handle.finish(
            "succeeded" if code == 0 else "failed",
            code,
            message=f"luigi: {outcome.status}",
        )
        if abandoned:
            return code, store.get_run(handle.run_id)
        return code, replace(detail, run=store.run_summary(handle.run_id))

    def _crashed(self, handle: RunHandle, exc: BaseException) -> None:
        """Close a run that an exception (Ctrl-C, a bug) ends before it was closed."""
        if handle.finished:
            return
        try:
            handle.finish("failed", for_error(exc), message=f"interrupted or crashed: {exc!r}")
        except LuigiAirbyteError as store_exc:
            logger.warning("could not close run %s: %s", handle.run_id, store_exc)

    def _reload(self, graph: Graph, request: RunRequest) -> Callable[[str], object]:
        """``--reload``: the steps are resolved now (``ConfigError`` before any side
        effect); the returned call rejects their bad loads once preflight passed."""
        nodes = resolve_reload(graph, request.reload)
        return lambda run_id: reject_bad_loads(
            self.rt,
            graph,
            nodes,
            run_date=request.run_date,
            partition=request.interval or request.run_date.isoformat(),
            run_id=run_id,
        )

    def rotate_credentials(self, run_id: str, pipeline: str) -> dict[str, Any]:
        """Rotate the API credential after a cycle (``run --rotate-credentials``).

        A failure is reported (an event, one warning alert to the pipeline's owner), never
        fatal: the rotation keeps the stored credential valid at every step, so the next
        run still works. Returns ``{"rotated": bool, "client_id" | "error": str}``.
        """
        from luigi_airbyte.app.rotation import rotate_credentials
        from luigi_airbyte.observe.events import Event

        rt = self.rt
        try:
            result = rotate_credentials(rt)
        except LuigiAirbyteError as exc:
            message = rt.redact(str(exc))
            rt.bus().emit(
                Event(
                    "credentials.rotation_failed",
                    {"run_id": run_id, "error": message},
                    level="error",
                )
            )
            owner = self._pipeline_owner(rt.graph(pipeline)) if rt.pipeline_file else ""
            rt.router().alert(
                Alert(
                    owner_role=owner,
                    severity="warning",
                    title=f"{pipeline}: credential rotation failed",
                    text=message,
                    run_id=run_id,
                    pipeline=pipeline,
                    kind="rotation",
                    next_step="run `luigi-airbyte credentials rotate` and read its message",
                )
            )
            return {"rotated": False, "error": message}
        rt.bus().emit(
            Event("credentials.rotated", {"run_id": run_id, "client_id": result.new_client_id})
        )
        return {"rotated": True, "client_id": result.new_client_id}

    # --- the two ways a run ends before or outside Luigi ------------------------------

    def _preflight_failed(
        self, handle: RunHandle, graph: Graph, exc: LuigiAirbyteError
    ) -> RunOutcome:
        """A preflight failure is a run in the store, exit 4, one alert to the owner."""
        text = self.rt.redact(str(exc))
        code = for_error(exc)
        handle.finish("failed", code, message=text)
        self._alert_run(
            graph,
            handle.run_id,
            title=f"{graph.pipeline}: preflight failed, no sync was started",
            text=text,
            kind="preflight-failure",
            next_step="fix what the message names, then rerun the same command",
        )
        detail = handle.store.get_run(handle.run_id)
        return RunOutcome(code=code, detail=detail, error=exc)

    def _store_lost(
        self,
        handle: RunHandle,
        graph: Graph,
        request: RunRequest,
        exc: StoreError,
        outcome: GraphOutcome | None,
    ) -> RunOutcome:
        """The store failed under the run: say so once, show what Luigi knew, alert, exit 4."""
        handle.stop_heartbeat()
        text = self.rt.redact(str(exc))
        code = for_error(exc)
        try:  # an outage may be over already; a replaced file refuses this write
            handle.store.finish_run(handle.run_id, "failed", code, message=text)
        except LuigiAirbyteError as again:
            logger.debug("could not record the end of run %s: %s", handle.run_id, again)
        self._alert_run(
            graph,
            handle.run_id,
            title=f"{graph.pipeline}: the metadata store failed during the run",
            text=text,
            kind="store-failure",
            next_step="bring the store back (or restore it), then rerun the same date; "
            "the rerun closes this run and attaches to jobs it left running",
        )
        steps = known_steps(graph, outcome, handle.run_id)
        run = RunSummary(
            run_id=handle.run_id,
            pipeline=graph.pipeline,
            run_date=request.run_date,
            status="failed",
            started_at=utcnow(),
            exit_code=code,
            message=text,
        )
        detail = RunDetail(run=run, steps=steps)
        return RunOutcome(
            code=code,
            detail=detail,
            luigi_status=outcome.status if outcome is not None else "",
            error=exc,
            recorded=False,
        )

    def _alert_run(
        self, graph: Graph, run_id: str, *, title: str, text: str, kind: str, next_step: str
    ) -> None:
        owner = self._pipeline_owner(graph)
        try:
            self.rt.router().alert(
                Alert(
                    owner_role=owner or "default",
                    severity="error",
                    title=title,
                    text=text,
                    run_id=run_id,
                    pipeline=graph.pipeline,
                    kind=kind,
                    next_step=next_step,
                )
            )
        except Exception as exc:  # noqa: BLE001 - an alert failure must not mask the cause
            logger.warning("could not route the alert for run %s: %s", run_id, exc)

    def _pipeline_owner(self, graph: Graph) -> str:
        pf = self.rt.pipeline_file
        if pf is not None:
            try:
                return str(pf.pipeline(graph.pipeline).owner or "")
            except Exception:  # noqa: BLE001 - fall back to a step's owner
                pass
        return next((n.owner for n in graph if n.owner), "")

    # --- the recap ----------------------------------------------------------------------

    def recap(self, detail: RunDetail, graph: Graph, request: RunRequest) -> list[RecapItem]:
        """Each failed (or abandoned) step: the connection's name, the cause, the fix."""
        rerun = rerun_command(request)
        items = []
        for step in detail.steps:
            if step.status not in ("failed", "abandoned"):
                continue
            node = _node(graph, step.step_name)
            target = reload_target(graph, step.step_name, detail.checks)
            fix = fix_for(step, detail.run.run_id, rerun)
            if target:  # a bad load: only a reload recovers it
                command = shlex.join([*shlex.split(rerun), *reload_option(target)])
                fix = RELOAD_FIX.format(command=command)
            items.append(
                RecapItem(
                    step=step.step_name,
                    kind=step.kind,
                    status=step.status,
                    connection=self._connection_name(graph, node),
                    cause=one_line(step.message) or step.status,
                    fix=fix,
                    exit_code=for_step(step.exit_code),
                )
            )
        return items

    def _connection_name(self, graph: Graph, node: Node | None) -> str:
        if node is None:
            return ""
        sync = node
        if node.kind != "sync" and node.target_sync:
            sync = _node(graph, node.target_sync) or node
        name = sync.connection
        if name and looks_like_uuid(name):
            try:
                return self.rt.connection(name).name or name
            except LuigiAirbyteError:
                return name
        return name


# --- helpers shared with the ad-hoc runs and the CLI ---------------------------------------


def record_unrun_steps(store: Store, run_id: str, graph: Graph, outcome: GraphOutcome) -> RunDetail:
    """Give every step without a row a status from Luigi's partition of the tasks; return
    the run as recorded then (read once more only if a row was added)."""
    detail = store.get_run(run_id)
    wrote = False
    recorded = {s.step_name for s in detail.steps}
    failed = {s.step_name for s in detail.steps if s.status in ("failed", "abandoned")}
    below_failed = set().union(*(graph.downstream_of(name) for name in failed))
    for node in graph:
        if node.name in recorded:
            continue
        partition = outcome.partitions.get(node.name, "")
        upstream_failed = partition in _UPSTREAM or node.name in below_failed
        status = "upstream_failed" if upstream_failed else "not_run"
        message = (
            "not run: an upstream step failed"
            if upstream_failed
            else f"not run ({partition or 'the scheduler did not run it'})"
        )
        store.upsert_step(
            run_id, node.name, kind=node.kind, status=status, owner=node.owner, message=message
        )
        wrote = True
    return store.get_run(run_id) if wrote else detail


def exit_code_for(detail: RunDetail, outcome: GraphOutcome) -> int:
    """The run's code from its failed steps and Luigi's verdict (``exit_codes.for_run``)."""
    bad = [s.exit_code for s in detail.steps if s.status in ("failed", "abandoned")]
    return for_run(succeeded=outcome.succeeded, failed_step_codes=bad)


_PARTITION_STATUS = {
    "completed": "succeeded",
    "already_done": "skipped",
    "failed": "failed",
    "scheduling_error": "failed",
    "not_run": "not_run",
    "still_pending_ext": "not_run",
    "still_pending_not_ext": "not_run",
    "run_by_other_worker": "not_run",
    "ever_failed": "failed",
}


def known_steps(graph: Graph, outcome: GraphOutcome | None, run_id: str) -> tuple[StepRecord, ...]:
    """The steps as Luigi saw them, for when the store cannot say."""
    found = []
    for node in graph:
        partition = outcome.partitions.get(node.name, "") if outcome is not None else ""
        if partition in _UPSTREAM:
            status = "upstream_failed"
        else:
            status = _PARTITION_STATUS.get(partition, "not_run")
        found.append(
            StepRecord(
                run_id=run_id,
                step_name=node.name,
                kind=node.kind,
                status=status,
                message=f"as Luigi saw it ({partition or 'unknown'}); the store could not say",
                owner=node.owner,
            )
        )
    return tuple(found)


def counts_line(steps: Iterable[StepRecord], code: int) -> str:
    """``PASS=3 FAIL=1 SKIPPED=2 (exit 6)``: what the run's steps came to."""
    steps = list(steps)
    passed = sum(1 for s in steps if s.status == "succeeded")
    failed = sum(1 for s in steps if s.status in ("failed", "abandoned"))
    skipped = sum(1 for s in steps if s.status in _NOT_RUN)
    return f"PASS={passed} FAIL={failed} SKIPPED={skipped} (exit {code})"


def rerun_command(request: RunRequest) -> str:
    parts = ["luigi-airbyte", "run", str(request.pipeline_file)]
    if request.pipeline_name:
        parts += ["-p", request.pipeline_name]
    parts += ["--date", request.run_date.isoformat()]
    if request.interval:
        parts += ["--interval", request.interval]
    return shlex.join(parts)


def fix_for(step: StepRecord, run_id: str, rerun: str) -> str:
    """What to do about a failed step, ending with the one command that recovers."""
    code = for_step(step.exit_code)
    show = f"luigi-airbyte show {run_id[:8]}"
    if step.status == "abandoned":
        first = "its process died mid-step"
    elif code == ExitCode.SYNC:
        first = (
            f"open Airbyte job {step.job_id} for the cause"
            if step.job_id is not None
            else "read the Airbyte job's logs for the cause"
        )
    elif code == ExitCode.CHECK and (apply := _APPLY.search(step.message or "")) is not None:
        first = f"run `{apply.group(1)}` to put back what the pipeline file intends"
    elif code == ExitCode.CHECK:
        first = f"inspect the data ({show}); fix the source or the expectation"
    elif code == ExitCode.TRANSFORM:
        first = f"read the step's output ({show}) and fix it"
    elif code == ExitCode.AIRBYTE and _LOOKUP.match(step.message or ""):
        first = "name a connection the API credential sees (luigi-airbyte connections list)"
    elif code == ExitCode.AIRBYTE:
        first = "make Airbyte and the metadata store reachable"
    elif code == ExitCode.CONFIG:
        first = "fix the pipeline file (luigi-airbyte validate)"
    else:
        first = "unexpected: rerun with -v for the traceback, and report it"
    return f"{first}; then rerun `{rerun}` (finished steps are skipped)"


_SPACE = re.compile(r"\s+")
# The drift check names the command that restores the connection (checks/drift.py).
_APPLY = re.compile(r"`(luigi-airbyte apply [^`]+)`")
# A connection name that matches none or several (errors.ConnectionLookupError).
_LOOKUP = re.compile(r"no connection named |connection name .* is ambiguous")


def one_line(text: str | None, limit: int = 400) -> str:
    """A message on one line, whitespace collapsed, cut at ``limit`` characters."""
    flat = _SPACE.sub(" ", text or "").strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _node(graph: Graph, name: str) -> Node | None:
    try:
        return graph.node(name)
    except KeyError:
        return None


def flush_events(rt: Runtime) -> None:
    """Flush the event sinks; a failure is logged, never raised (it must not mask the
    run's outcome)."""
    try:
        rt.bus().flush()
    except Exception as exc:  # noqa: BLE001 - events must never mask the outcome
        logger.debug("could not flush events: %s", exc)


def default_argv() -> list[str]:
    return [Path(sys.argv[0]).name, *sys.argv[1:]]


__all__ = [
    "HEARTBEAT_S",
    "LEASE_S",
    "GraphOutcome",
    "GraphRunner",
    "Holder",
    "RecapItem",
    "RunHandle",
    "RunOutcome",
    "RunRequest",
    "RunService",
    "counts_line",
    "default_argv",
    "exit_code_for",
    "flush_events",
    "holder_gone",
    "open_run",
    "reap_abandoned",
    "record_unrun_steps",
    "settle_claims_of",
]
