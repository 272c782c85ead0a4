"""What each pipeline step does, and when it counts as already done.

Luigi tasks (``luigi_airbyte.tasks``) call into this module and nothing else, so the
behaviour of a step is testable without Luigi. Every step records itself in the
metadata store (running → succeeded / failed / fresh), emits events, and on failure
alerts its owner role and raises the library error whose exit code describes it.

Completeness:
- a sync is done when the ledger says this run key succeeded, or when Airbyte's last
  succeeded job for the connection ended inside the step's freshness window;
- any other step is done when it succeeded for the same pipeline and run date before.
The run key of a sync is ``sync:<connection id>:<run date or interval>``: it names the
*data*, not the run, so every retry, process and pipeline syncing the same connection
for the same date shares one Airbyte job.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from luigi_airbyte.airbyte import Connection
from luigi_airbyte.app import collector
from luigi_airbyte.app.inherited_job import this_runs_job
from luigi_airbyte.app.luigi_runs import LuigiRuns
from luigi_airbyte.app.reload import last_good_end, pending_rejection, record_refresh
from luigi_airbyte.app.report_links import served_step_link
from luigi_airbyte.app.seen_jobs import look_before_syncs, seen_recent
from luigi_airbyte.app.step_alerts import alert_failed_step
from luigi_airbyte.app.step_checks import CheckSteps
from luigi_airbyte.app.step_context import (
    Reporter,
    StepContext,
    SyncRequest,
    failure_text,
    human_age,
    sync_run_key,
    utcnow,
)
from luigi_airbyte.app.step_lineage import StepLineage
from luigi_airbyte.app.watcher import feed_for
from luigi_airbyte.checks import CheckResult, raise_for
from luigi_airbyte.checks.freshness import is_fresh
from luigi_airbyte.errors import ConnectionLookupError, LuigiAirbyteError
from luigi_airbyte.observe.events import Event
from luigi_airbyte.observe.lineage import sync_datasets
from luigi_airbyte.pipeline._steps import SyncStep
from luigi_airbyte.pipeline._types import parse_duration
from luigi_airbyte.pipeline.graph import Node
from luigi_airbyte.store import RunDetail, StepRecord
from luigi_airbyte.store.anchors import step_anchor
from luigi_airbyte.store.ledger import LedgerEntry, Rejection
from luigi_airbyte.sync import (
    AdaptivePolling,
    FixedInterval,
    Progress,
    SyncResult,
    SyncRunner,
    SyncSettings,
    handle_termination,
)

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime

logger = logging.getLogger(__name__)


class StepExecutor:
    """Runs steps for one ``Runtime`` (one per process)."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.luigi_runs = LuigiRuns(runtime)  # runs of steps started by plain Luigi
        self._pending: list[tuple[StepContext, str, str, str]] = []
        self._noted: set[tuple[str, str]] = set()
        self._pass: _Pass | None = None
        self._pass_depth = 0
        _executors.add(self)

    # --- recording -----------------------------------------------------------------------

    def _emit(self, ctx: StepContext, name: str, level: str = "info", **fields: Any) -> None:
        self.rt.bus().emit(_event(ctx, name, level, **fields))

    def _record(self, ctx: StepContext, kind: str, **fields: Any) -> None:
        if not ctx.run_id:
            return
        self.rt.store().upsert_step(ctx.run_id, ctx.step, kind=kind, **fields)

    def _record_emit(self, ctx: StepContext, kind: str, event: Event, **fields: Any) -> None:
        """Record the step's change and emit its event, stored in one transaction: a sync
        makes a few of these, and each commit is a turn of SQLite's one write lock that
        the run's other syncs wait for."""
        bus = self.rt.bus()  # builds the store sink the event is held in
        sink = self.rt.store_sink if ctx.run_id else None
        held = sink.hold() if sink is not None else []
        try:
            bus.emit(event)
        finally:
            if sink is not None:
                sink.release()
        if ctx.run_id:
            rows = [
                {"name": e.name, "level": e.level, "at": e.at, "fields": _without_run(e)}
                for e in held
            ]
            self.rt.store().upsert_step(ctx.run_id, ctx.step, kind=kind, events_=rows, **fields)

    def _recorded_status(self, ctx: StepContext) -> str | None:
        return self.rt.store().step_status(ctx.run_id, ctx.step) if ctx.run_id else None

    def _note_skip(self, ctx: StepContext, kind: str, status: str, message: str) -> None:
        """Note a skipped step, written with the others at the end of the scheduling pass
        (``flush_notes``); never overwrites what this run did to it."""
        if not ctx.run_id:
            return
        with _notes_lock:
            if (ctx.run_id, ctx.step) in self._noted:
                return
            self._noted.add((ctx.run_id, ctx.step))
            self._pending.append((ctx, kind, status, message))

    def flush_notes(self) -> None:
        """Write the pending skip notes and their events: one transaction per run.

        Called when a scheduling pass ends (``scheduling_pass``), before Luigi forks
        a task process (a child must not inherit unwritten notes), when a task starts to
        run, and when the runtime closes.
        """
        with _notes_lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        by_run: dict[str, list[tuple[StepContext, str, str, str]]] = {}
        for note in pending:
            by_run.setdefault(note[0].run_id, []).append(note)
        store = self.rt.store()
        self.rt.bus()  # builds the store sink the events are held in
        sink = self.rt.store_sink
        for run_id, notes in by_run.items():
            recorded = {s.step_name for s in store.get_run(run_id).steps}
            fresh = [n for n in notes if n[0].step not in recorded]
            if not fresh:
                continue
            held = sink.hold() if sink is not None else []
            try:  # one call per sink for the pass: a file sink writes them at once
                self.rt.bus().emit_many(
                    [_event(c, f"step.{st}", message=m) for c, _, st, m in fresh]
                )
            finally:
                if sink is not None:
                    sink.release()
            skips = [
                {"step_name": c.step, "kind": k, "status": st, "message": m}
                for c, k, st, m in fresh
            ]
            rows = [
                {"name": e.name, "level": e.level, "at": e.at, "fields": _without_run(e)}
                for e in held
            ]
            store.add_skipped_steps(run_id, skips, rows)

    @contextmanager
    def _step(
        self, ctx: StepContext, node: Node | None, kind: str, owner: str
    ) -> Iterator[dict[str, Any]]:
        """Record start and outcome, emit events, alert the owner role on failure."""
        started = utcnow()
        running = {"status": "running", "started_at": started, "owner": owner}
        self._record_emit(ctx, kind, _event(ctx, "step.started", kind=kind), **running)
        outcome: dict[str, Any] = {}
        lineage = StepLineage(self.rt.lineage(), ctx, kind)
        lineage.start()
        try:
            yield outcome
        except BaseException as exc:
            lineage.fail(str(exc), outcome)
            finished = utcnow()
            code, message = failure_text(exc, self.rt.redact)
            interrupted = isinstance(exc, (KeyboardInterrupt, SystemExit))
            self._record_emit(
                ctx,
                kind,
                _event(ctx, "step.failed", "error", kind=kind, error=message, exit_code=code),
                status="failed",
                finished_at=finished,
                message=message,
                exit_code=code,
                job_id=outcome.get("job_id"),
            )
            # A `luigi-airbyte run` alerts once per failed step when it ends, after Luigi's
            # retries (alert_failed_steps); a step run on its own has no end to wait for.
            if not interrupted and self.luigi_runs.owns(ctx):
                alert_failed_step(self.rt, ctx, owner, kind, message, outcome.get("job_id"))
            self.luigi_runs.step_ended(ctx, code)
            raise
        else:
            finished = utcnow()
            succeeded = _event(
                ctx,
                "step.succeeded",
                kind=kind,
                rows=outcome.get("rows"),
                job_id=outcome.get("job_id"),
                duration_s=(finished - started).total_seconds(),
            )
            self._record_emit(
                ctx,
                kind,
                succeeded,
                status="succeeded",
                finished_at=finished,
                rows=outcome.get("rows"),
                job_id=outcome.get("job_id"),
                message=outcome.get("message"),
            )
            lineage.complete(outcome)
            self.luigi_runs.step_ended(ctx, 0)

    def alert_failed_steps(self, detail: RunDetail, links: Mapping[str, str] | None = None) -> None:
        """Alert the owner of each step that ended the run failed: once, with its last job.

        Called when a run ends. Alerting from inside the task would page the owner for
        every Luigi attempt (a retried sync fails with a new job id, and with several
        workers each attempt runs in its own process with its own de-duplication).
        """
        run = detail.run
        for step in detail.steps:
            if step.status != "failed" or run.run_date is None:
                continue
            ctx = StepContext(run.pipeline, step.step_name, run.run_date, run_id=run.run_id)
            message = step.message or "failed"
            owner, step_links = step.owner or "", _at(links, step)
            alert_failed_step(
                self.rt, ctx, owner, step.kind, message, step.job_id, detail, step_links
            )

    # --- syncs ---------------------------------------------------------------------------

    def _sync_settings(self, step: SyncStep | None) -> SyncSettings:
        s = self.rt.settings
        interval = s.poll_interval.total_seconds()
        strategy = (
            FixedInterval(interval)
            if s.poll_strategy == "fixed"
            else AdaptivePolling(max_delay=interval)
        )
        timeout = step.timeout if step is not None and step.timeout else s.timeout
        queue_timeout = (
            step.queue_timeout if step is not None and step.queue_timeout else s.queue_timeout
        )
        kwargs: dict[str, Any] = {
            "poll_strategy": strategy,
            "timeout": timeout.total_seconds(),
            "queue_timeout": queue_timeout.total_seconds(),
            "on_interrupt": s.on_interrupt,
            "zero_rows": step.on_zero_rows if step is not None else "warn",
        }
        if step is not None:
            kwargs["on_drop"] = step.on_drop
            kwargs["on_stuck"] = step.on_stuck
            if step.drop_threshold is not None:
                kwargs["drop_threshold"] = step.drop_threshold
            if step.stuck_after is not None:
                kwargs["stuck_after"] = step.stuck_after.total_seconds()
        kwargs.update(self.rt.sync_overrides)
        return SyncSettings(**kwargs)

    def runner(self, step: SyncStep | None = None, ctx: StepContext | None = None) -> SyncRunner:
        bus = self.rt.bus()
        emitter = bus if ctx is None else _ContextEmitter(bus, ctx)
        return SyncRunner(
            self.rt.client(),
            self.rt.store().ledger,
            emitter=emitter,
            settings=self._sync_settings(step),
            run_id=(ctx.run_id or "") if ctx is not None else "",
            feed=feed_for(self.rt),
            recent=partial(seen_recent, self.rt),
        )

    def sync_is_complete(self, ctx: StepContext, req: SyncRequest) -> bool:
        """Done for this run key (ledger), or fresh by Airbyte's job history.

        A task found complete stays complete for the rest of the run: the answer is cached
        per process tree, so Luigi's repeated checks (scheduling, a child checking its
        dependencies, the final check) cost nothing. Airbyte's last successes come from the
        runtime's one listing per workspace, judged by the freshness check's own test.
        """
        key_done = ("sync", ctx.run_id, ctx.pipeline, ctx.step, ctx.partition, req.connection)
        if key_done in self.rt.shared.complete:
            return True
        try:
            conn = self.rt.connection(req.connection)
        except ConnectionLookupError:  # run() raises it: this step fails, the others run
            return False
        key = sync_run_key(conn.connection_id, ctx.partition)
        done = self._last_succeeded(ctx, key)
        if done is not None:
            age = utcnow() - done.finished_at if done.finished_at else None
            if req.freshness and age is not None and age <= parse_duration(req.freshness):
                status = "fresh"
                ago = human_age(age)
                note = f"job {done.job_id} synced this date {ago} ago (window {req.freshness})"
            else:
                status, note = "skipped", f"job {done.job_id} already synced this date"
            self._note_skip(ctx, "sync", status, note)
            self.rt.shared.complete.add(key_done)
            return True
        rejected = self._rejected()
        may_be_rejected = rejected is None or key in rejected[0]
        if may_be_rejected and pending_rejection(self.rt, key) is not None:
            return False  # its load was rejected: the refresh is still to run
        if req.freshness:
            window = parse_duration(req.freshness)
            if rejected is not None and conn.connection_id not in rejected[1]:
                end = self.rt.last_success_end(conn, window)  # no rejected job to leave out
            else:
                end = last_good_end(self.rt, conn, window)
            now = utcnow()
            if is_fresh(end, window, now):  # the freshness check's verdict, without its text
                assert end is not None
                age = max(now - end, timedelta(0))
                self._note_skip(
                    ctx,
                    "sync",
                    "fresh",
                    f"last sync ended {human_age(age)} ago (window {req.freshness})",
                )
                self.rt.shared.complete.add(key_done)
                return True
        self._look_before_syncs(ctx, conn)
        return False

    def _look_before_syncs(self, ctx: StepContext, conn: Connection) -> None:
        """A sync of the run will post: list its workspace's recent jobs once for the run,
        here in the scheduling process, so the forked tasks need not list theirs
        (``luigi_airbyte.app.seen_jobs``)."""
        if self.rt.pipeline_file is None or ctx.pipeline == "adhoc":
            return
        if conn.workspace_id in self.rt.shared.seen_jobs:
            return  # listed already: don't count the graph's syncs again for every sync
        try:
            syncs = sum(1 for n in self.rt.graph(ctx.pipeline).nodes if n.kind == "sync")
        except Exception:  # noqa: BLE001 - the task reports a broken pipeline itself
            return
        look_before_syncs(self.rt, conn, syncs)

    @contextmanager
    def scheduling_pass(self) -> Iterator[None]:
        """One pass over a pipeline's steps (the root's ``complete()``, or all of Luigi's
        scheduling: ``tasks/scheduling.py``): the ledger's successes of all its syncs are
        read at once, on the first question, and the skip notes of the pass are written at
        its end, in one transaction.

        The batch answers only inside the pass, so a later question (a task's own check,
        the final check after the run) reads the ledger again. A sync that the batch saw
        unfinished and that finished a moment later is only run again as far as its
        claim: the claim finds the run key complete and posts nothing.
        """
        if self._pass is None:
            self._pass = _Pass()
        self._pass_depth += 1  # passes nest (the root's inside our worker's): the outermost
        try:  # one to end closes the batch and writes the notes
            yield
        finally:
            self._pass_depth -= 1
            if self._pass_depth == 0:
                self._pass = None
                self.flush_notes()
                collector.resume()  # the run's start-up ends with its first scheduling pass

    def run_attempts(self, run_id: str, since: datetime) -> RunAttempts | None:
        """Inside a pass: the run's ledger entries since ``since`` and its steps' statuses,
        read once (retry policies, ``tasks/sync_task.py``); outside one, ``None``."""
        batch = self._pass
        if batch is None:
            return None
        found = batch.attempts.get((run_id, since))
        if found is None:
            store = self.rt.store()
            entries = tuple(store.ledger.created_since(since))
            found = RunAttempts(entries, store.step_statuses(run_id) if run_id else {})
            batch.attempts[(run_id, since)] = found
        return found

    def step_run_keys(self, key: str) -> frozenset[str]:
        """The run keys whose jobs are this sync run key's: its own, and the refresh key of
        its newest rejected load (``run --reload`` posts the refresh there). A retry policy
        that counted only ``key`` would not see a failed refresh, and post it again."""
        rejected = self._rejected()
        if rejected is not None and key not in rejected[0]:
            return frozenset({key})
        rejection = self.rt.store().ledger.last_rejection(key)
        return frozenset({key} if rejection is None else {key, rejection.refresh_key})

    def _last_succeeded(self, ctx: StepContext, key: str) -> LedgerEntry | None:
        batch = self._pass
        ledger = self.rt.store().ledger
        if batch is not None:
            if batch.pipeline != ctx.pipeline or batch.partition != ctx.partition:
                batch.pipeline, batch.partition = ctx.pipeline, ctx.partition
                batch.asked = self._run_keys(ctx)
                batch.found = ledger.last_succeeded_many(batch.asked)
            if key in batch.asked:
                return batch.found.get(key)
        return ledger.last_succeeded(key)

    def _rejected(self) -> tuple[frozenset[str], frozenset[str]] | None:
        """Inside a scheduling pass: the run keys and connections with a rejected load, read
        once for the pass (outside one, None: ask the ledger per sync)."""
        batch = self._pass
        if batch is None:
            return None
        if batch.rejected is None:
            batch.rejected = self.rt.store().ledger.rejected_keys()
        return batch.rejected

    def _run_keys(self, ctx: StepContext) -> set[str]:
        """The run keys of the pipeline's syncs whose connection the run resolved already
        (from its one listing; nothing is requested here)."""
        if self.rt.pipeline_file is None or ctx.pipeline == "adhoc":
            return set()
        known = self.rt.shared.connections
        keys = set()
        for node in self.rt.graph(ctx.pipeline).nodes:
            conn = known.get(node.connection_id or node.connection) if node.kind == "sync" else None
            if conn is not None:
                keys.add(sync_run_key(conn.connection_id, ctx.partition))
        return keys

    def run_sync(self, ctx: StepContext, req: SyncRequest, reporter: Reporter) -> SyncResult:
        self.flush_notes()
        ctx = self.luigi_runs.ensure(ctx)
        node = self._node(ctx)
        step = node.step if node is not None and isinstance(node.step, SyncStep) else None
        owner = node.owner if node is not None else ""
        with self._step(ctx, node, "sync", owner) as outcome:
            conn = self.rt.connection(req.connection)
            key = sync_run_key(conn.connection_id, ctx.partition)
            runner = self.runner(step, ctx)
            client = self.rt.client()
            rejection = pending_rejection(self.rt, key)
            with handle_termination():
                if rejection is not None:  # ``run --reload``: the one refresh of the streams
                    attachment = runner.refresh(
                        conn.connection_id, rejection.refresh_key, rejection.streams
                    )
                else:
                    attachment = this_runs_job(
                        self.rt.store(), ctx, runner, conn.connection_id, key
                    )
                outcome["job_id"] = attachment.job.job_id
                job_id = attachment.job.job_id
                how = attachment.how
                found = _event(
                    ctx, "sync.job", connection_id=conn.connection_id, job_id=job_id, how=how
                )
                self._record_emit(ctx, "sync", found, job_id=job_id)
                reporter.tracking_url(client.job_url(attachment.job, conn))

                def on_progress(p: Progress) -> None:
                    reporter.status(p.message)
                    if p.percent is not None:
                        reporter.progress(p.percent)

                result = runner.wait(attachment, on_progress=on_progress)
            # The job is done: luigid hears it while the step's end is written.
            reporter.progress(100)
            if rejection is not None:
                record_refresh(self.rt, rejection, result)
            outcome["rows"] = result.rows_committed
            outcome["job_id"] = result.job_id  # a replacement of a queued job, if any
            if self.rt.lineage() is not None:
                outcome["lineage"] = self._sync_lineage(conn)
            outcome["message"] = _sync_message(result, rejection)
            if ctx.run_id and result.streams:
                self.rt.store().add_stream_stats(
                    ctx.run_id, ctx.step, result.job_id, result.streams
                )
            return result

    def _sync_lineage(self, conn: Connection) -> tuple[list[Any], list[Any]]:
        client = self.rt.client()
        source = client.get_source(conn.source_id)
        destination = client.get_destination(conn.destination_id)
        return sync_datasets(
            source.name,
            [s.name for s in conn.streams],
            destination_namespace=f"airbyte-destination://{destination.name}",
            table_prefix=conn.prefix or "",
        )

    # --- other steps ---------------------------------------------------------------------

    def _node(self, ctx: StepContext) -> Node | None:
        if ctx.pipeline == "adhoc" or not ctx.step or self.rt.pipeline_file is None:
            return None
        try:
            return self.rt.graph(ctx.pipeline).node(ctx.step)
        except KeyError:
            return None

    def is_complete(self, ctx: StepContext, node: Node | None) -> bool:
        if node is None:
            return False
        key_done = ("step", ctx.run_id, ctx.pipeline, ctx.step, ctx.partition)
        if key_done in self.rt.shared.complete:
            return True
        if self._succeeded_before(ctx):
            self._note_skip(ctx, node.kind, "skipped", "already succeeded for this date")
            self.rt.shared.complete.add(key_done)
            return True
        return False

    def _succeeded_before(self, ctx: StepContext) -> bool:
        return self.rt.store().step_succeeded(ctx.pipeline, ctx.step, ctx.run_date)

    def run(self, ctx: StepContext, node: Node | None, reporter: Reporter) -> None:
        if node is None:
            raise LuigiAirbyteError(f"step {ctx.step!r} is not in pipeline {ctx.pipeline!r}")
        self.flush_notes()
        ctx = self.luigi_runs.ensure(ctx)
        link = served_step_link(self.rt, ctx.run_id, ctx.step)
        if link:  # luigid's UI links the step to its row in the run's report
            reporter.tracking_url(link)
        with self._step(ctx, node, node.kind, node.owner) as outcome:
            if node.kind == "check":
                results = self.run_check(ctx, node)
                failed = [r for r in results if not r.passed]
                outcome["message"] = "; ".join(r.message for r in failed or results)[:2000]
                raise_for(results)
            else:
                from luigi_airbyte.app.step_transforms import run_transform  # dbt, Spark: here

                result = run_transform(self.rt, node, _ContextEmitter(self.rt.bus(), ctx))
                outcome["rows"] = result.rows_affected
                outcome["message"] = result.summary()

    # checks ------------------------------------------------------------------------------

    def run_check(self, ctx: StepContext, node: Node) -> list[CheckResult]:
        results = CheckSteps(self.rt).evaluate(ctx, node)
        for r in results:
            if ctx.run_id:
                self.rt.store().add_check_result(
                    ctx.run_id,
                    ctx.step,
                    r.name,
                    passed=r.passed,
                    severity=r.severity,
                    message=r.message,
                    details=dict(r.details),
                )
            self._emit(
                ctx,
                "check.result",
                "info" if r.passed else ("warning" if r.severity == "warning" else "error"),
                check=r.name,
                passed=r.passed,
                message=r.message,
            )
        return results


@dataclass
class _Pass:
    """The ledger's successes of one pipeline's syncs, read once for a scheduling pass."""

    pipeline: str = ""
    partition: str = ""
    asked: set[str] = field(default_factory=set)
    found: dict[str, LedgerEntry] = field(default_factory=dict)
    rejected: tuple[frozenset[str], frozenset[str]] | None = None
    attempts: dict[tuple[str, datetime], RunAttempts] = field(default_factory=dict)


@dataclass(frozen=True)
class RunAttempts:
    """A run's ledger entries (recorded since it started) and its steps' statuses."""

    entries: tuple[LedgerEntry, ...]
    step_status: dict[str, str]


_notes_lock = threading.Lock()
_executors: weakref.WeakSet[StepExecutor] = weakref.WeakSet()


def _sync_message(result: SyncResult, rejection: Rejection | None) -> str:
    """The sync step's one-line message: the job, how it was found, per-stream rows."""
    parts = [f"job {result.job_id} ({result.attached_how})"]
    if rejection is not None:
        streams = ", ".join(rejection.streams) or "every stream"
        parts.append(f"refresh of {streams} replacing rejected job {rejection.job_id}")
    if result.replaced_job_ids:
        parts.append(f"replaced queued job {', '.join(map(str, result.replaced_job_ids))}")
    if result.queued_s:
        parts.append(f"queued {result.queued_s:.0f}s")
    parts.append(", ".join(f"{s.name}={s.records_committed}" for s in result.streams))
    parts.extend(result.warnings)
    return "; ".join(filter(None, parts))


def _event(ctx: StepContext, name: str, level: str = "info", **fields: Any) -> Event:
    base = {"run_id": ctx.run_id, "pipeline": ctx.pipeline, "step": ctx.step}
    return Event(name, {**base, **fields}, level=level)


def _without_run(event: Event) -> dict[str, Any]:
    return {k: v for k, v in event.fields.items() if k != "run_id"}


def flush_all_notes() -> None:
    """Write every executor's pending skip notes (before a fork, so none is inherited)."""
    for executor in list(_executors):
        try:
            executor.flush_notes()
        except Exception as exc:  # noqa: BLE001 - a note must never break a run
            logger.warning("could not record skipped steps: %s", exc)


os.register_at_fork(before=flush_all_notes)


def _at(links: Mapping[str, str] | None, step: StepRecord) -> dict[str, str]:
    """The run's links, the HTML report's pointing at the step's failure recap."""
    out = dict(links or {})
    if out.get("report"):
        out["report"] += "#" + quote(step_anchor(step.step_name, "failure"))
    return out


class _ContextEmitter:
    """Adds the run, pipeline and step to every event a lower layer emits."""

    def __init__(self, inner: Any, ctx: StepContext) -> None:
        self.inner = inner
        self.fields = {"run_id": ctx.run_id, "pipeline": ctx.pipeline, "step": ctx.step}

    def emit(self, event: Event) -> None:
        merged = {**self.fields, **event.fields}
        self.inner.emit(Event(event.name, merged, at=event.at, level=event.level))


__all__: Sequence[str] = [
    "Reporter",
    "StepContext",
    "StepExecutor",
    "SyncRequest",
    "sync_run_key",
]
