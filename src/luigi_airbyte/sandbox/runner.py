"""The sandbox's job runner: the run loop, one worker thread per job, attempts and writes.

Jobs follow Airbyte's state machine: pending -> running -> (incomplete -> running)* ->
succeeded | failed | cancelled, with one attempt per run. Each job runs in its own worker
thread, reads records from the source (seeded generator or file) and writes them into a real
database in chunks; a chunk is one transaction and one checkpoint, so committed counts always
equal the rows really written. Faults are injected at the same points where Airbyte fails.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import luigi_airbyte.sandbox.datagen as datagen
from luigi_airbyte.sandbox.connectors.sync import connector_sync_attempt
from luigi_airbyte.sandbox.datagen import SourceReadError, StreamSchema
from luigi_airbyte.sandbox.destinations import (
    Dedup,
    DestinationWriteError,
    TableRef,
    Writer,
    import_drivers,
)
from luigi_airbyte.sandbox.errors import (
    BadRequest,
    Conflict,
    Unprocessable,
)
from luigi_airbyte.sandbox.jobstate import (
    ACTIVE,
    CONFIG_TYPES,
    Attempt,
    AttemptFailed,
    EngineStopped,
    Job,
    JobCancelled,
    StreamCounters,
    StreamPlan,
    failure_reason,
)
from luigi_airbyte.sandbox.state import WRITE_KIND, ConnState, EngineState
from luigi_airbyte.sandbox.world import (
    JobFaults,
)

#: Job types whose attempts read the source and write the destination.
_SYNCING = ("sync", "refresh")


def _fault_failure(faults: JobFaults, attempt: Attempt) -> dict[str, Any]:
    internal = f"sandbox fault: fail_attempts={faults.fail_attempts} (attempt {attempt.number})"
    return failure_reason("source", "system_error", faults.failure_message, internal)


@dataclass
class _AttemptRun:
    """One sync attempt's fixed settings, and the records processed so far."""

    job: Job
    attempt: Attempt
    cs: ConnState
    faults: JobFaults
    writer: Writer
    honour_cancel: bool
    lose_checkpoints: bool
    chunk: int
    per_chunk: float
    rps: float | None
    budget: int | None
    started: float  # time.monotonic() when the attempt began, before its destination opened
    processed: int = 0
    paced: float = 0.0  # seconds of pacing due so far, counted from ``started``


class JobRunner(EngineState):
    """Runs the jobs of an ``EngineState``: the run loop and one worker thread per job."""

    def start(self) -> None:
        """Start the job runner; jobs created before start() stay pending until then.
        The destinations' drivers are imported first (``import_drivers``)."""
        import_drivers({d.type for d in self._destinations.values()})
        with self._lock:
            if self._closed:
                raise RuntimeError("engine is closed")
            if self._runner is not None:
                return
            self._runner = threading.Thread(
                target=self._run_loop, name="sandbox-runner", daemon=True
            )
            self._runner.start()

    def close(self) -> None:
        """Stop the runner and workers (running jobs resume after a restart) and flush state."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop.set()
            self._wake.set()
            runner = self._runner
            workers = list(self._workers.values())
        if runner is not None:
            runner.join(timeout=10)
        for w in workers:
            w.join(timeout=10)
        self.flush()
        with self._lock:
            writers = list(self._writers.values())
            self._writers.clear()
        for wr in writers:
            with contextlib.suppress(Exception):
                wr.close()

    def _run_loop(self) -> None:
        last_flush = 0.0
        while not self._stop.is_set():
            self._wake.wait(0.05)
            self._wake.clear()
            if self._stop.is_set():
                break
            with self._lock:
                for jid in [j for j, t in self._workers.items() if not t.is_alive()]:
                    del self._workers[jid]
                    if self._jobs[jid].status in ACTIVE:
                        self._waiting.add(jid)  # its worker ended early; run it again
                free = self.settings.max_concurrent_jobs - len(self._workers)
                for jid in sorted(self._waiting):
                    job = self._jobs[jid]
                    if job.status not in ACTIVE or jid in self._workers:
                        self._waiting.discard(jid)
                        continue
                    if free <= 0:
                        # No worker slot: Airbyte reports such a job as queued.
                        if job.status == "pending":
                            job.status = "queued"
                            self._dirty = True
                        self._maybe_replace_queued(job)
                        continue
                    self._waiting.discard(jid)
                    t = threading.Thread(
                        target=self._run_job,
                        args=(job.id,),
                        name=f"sandbox-job-{job.id}",
                        daemon=True,
                    )
                    self._workers[job.id] = t
                    t.start()
                    free -= 1
                dirty, urgent = self._dirty, self._urgent
                self._urgent = False
            if dirty and (urgent or time.monotonic() - last_flush > 0.5):
                last_flush = time.monotonic()
                with contextlib.suppress(OSError):
                    self.flush()

    def _maybe_replace_queued(self, job: Job) -> None:
        """Fault ``replace_queued_after``: a scheduled run replaces a job left queued that
        long; the queued one shows ``cancelled`` (caller holds the lock)."""
        cs = self._connections.get(job.connection_id)
        if cs is None or job.status != "queued" or job.attempts or job.replaces is not None:
            return
        after = self._job_faults(cs).replace_queued_after
        if after is None or time.time() - job.created_at < after:
            return
        self._finish(job, "cancelled", time.time())
        self._waiting.discard(job.id)
        successor = self._new_job(
            cs.id, job.job_type, streams=job.enabled_streams, refresh_mode=job.refresh_mode
        )
        successor.status = "queued"
        successor.replaces = job.id

    def _new_job(
        self,
        connection_id: str,
        job_type: str,
        *,
        streams: list[str] | None = None,
        refresh_mode: str | None = None,
    ) -> Job:
        """A new job; ``streams`` (a refresh's) narrows the enabled streams, every
        configured one when empty. 409 while any job of the connection is active."""
        if job_type == "refresh" and refresh_mode is None:
            raise Unprocessable("Refreshes are not supported in the public API")
        if job_type not in CONFIG_TYPES:
            raise BadRequest(f"Invalid jobType: {job_type!r}")
        self._seed_job_ids()
        with self._lock:
            cs = self._conn(connection_id)
            for j in self._connection_jobs(cs.id):
                if j.status in ACTIVE:
                    raise Conflict("try-again-later", f"A sync is already running for: {cs.id}")
            if cs.status != "active":
                raise Conflict("state-conflict", "Could not fulfill request")
            configured = [s["name"] for s in self._configured_streams(cs)]
            unknown = sorted(set(streams or ()) - set(configured))
            if unknown:
                raise Unprocessable(
                    f"Streams {', '.join(unknown)} are not enabled on connection {cs.id}"
                )
            now = time.time()
            job = Job(
                id=self._next_job_id,
                connection_id=cs.id,
                job_type=job_type,
                status="pending",
                created_at=now,
                updated_at=now,
                enabled_streams=[n for n in configured if not streams or n in streams],
                refresh_mode=refresh_mode,
            )
            self._next_job_id += 1
            self._add_job(job)
            self._waiting.add(job.id)
            self._mark_dirty()
            self._wake.set()
        self._flush_new_job()
        return job

    def _wait(self, seconds: float, job_id: int, honour_cancel: bool = True) -> None:
        """Sleep, waking early to stop or to notice a cancel."""
        deadline = time.monotonic() + seconds
        while True:
            if self._stop.is_set():
                raise EngineStopped
            if honour_cancel:
                with self._lock:
                    if self._jobs[job_id].status == "cancelled":
                        raise JobCancelled
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._stop.wait(min(left, 0.02))

    def _wait_until(self, deadline: float, job_id: int, honour_cancel: bool = True) -> None:
        """``_wait`` until ``deadline`` (``time.monotonic()``): an attempt's pace counts
        from its start, so the time its destination takes to open or write is part of the
        configured ``job_duration_seconds``, not added to it (a 1 s job took 1.02 s)."""
        self._wait(max(0.0, deadline - time.monotonic()), job_id, honour_cancel)

    def _pace_chunk(self, run: _AttemptRun, seconds: float) -> None:
        """One chunk's share of the attempt's pace, due ``seconds`` after the last one's."""
        run.paced += seconds
        self._wait_until(run.started + run.paced, run.job.id, run.honour_cancel)

    def _run_job(self, job_id: int) -> None:
        try:
            self._run_job_inner(job_id)
        except EngineStopped:
            return
        except Exception as exc:  # noqa: BLE001 - a bug must fail the job, not kill silently
            with self._lock:
                job = self._jobs[job_id]
                if not job.terminal:
                    if job.attempts and job.attempts[-1].status == "running":
                        job.attempts[-1].fail(
                            time.time(),
                            failure_reason(
                                "airbyte_platform", "system_error", f"Sandbox engine error: {exc}"
                            ),
                        )
                    self._finish(job, "failed", time.time())

    def _plan(self, job: Job, cs: ConnState) -> None:
        """Fix what each stream reads (epoch, cursor) and writes, at the first attempt."""
        now = time.time()
        dst = self._destinations[cs.destination]
        plans = []
        for s in self._configured_streams(cs):
            if s["name"] not in job.enabled_streams:
                continue
            mode = s["sync_mode"]
            st = self._stream_state.setdefault(cs.id, {}).setdefault(
                s["name"], {"cursor": None, "generation": 0}
            )
            incremental = mode.startswith("incremental") and bool(s["cursor_field"])
            ref = self._table_ref(cs, s["name"])
            plan = StreamPlan(
                name=s["name"],
                table=ref.name,
                schema=ref.schema if dst.type == "postgres" else None,
                sync_mode=mode,
                cursor_field=s["cursor_field"][0] if incremental else None,
                primary_key=[p[0] for p in s["primary_key"]],
            )
            if job.job_type in ("reset", "clear", "refresh") or WRITE_KIND[mode].startswith(
                "overwrite"
            ):
                # Clears, refreshes and truncating syncs start a new generation.
                st["generation"] = int(st["generation"]) + 1
            plan.generation = int(st["generation"])
            if job.job_type in ("sync", "refresh"):
                # A refresh resets the cursor: it reads the stream again from the start.
                plan.cursor_start = st["cursor"] if incremental and job.job_type == "sync" else None
                src = self._sources[cs.source]
                if src.type == "generator":
                    times = self._epochs.setdefault(cs.source, {}).setdefault(s["name"], [])
                    times.append(max(now, (times[-1] + 1.0) if times else now))
                    plan.epoch = len(times) - 1
            plans.append(plan)
        job.streams = plans
        job.planned = True

    def _run_job_inner(self, job_id: int) -> None:
        while True:
            started = self._start_attempt(job_id)
            if started is None:
                return
            job, attempt, cs, faults = started
            try:
                self._run_attempt(job, attempt, cs, faults)
            except JobCancelled:
                self._cleanup_staging(job, cs)
                return
            except AttemptFailed as exc:
                if not self._retry_after_failure(job, attempt, cs, exc):
                    return
                continue
            with self._lock:
                now = time.time()
                if job.status == "cancelled":
                    return
                attempt.status = "succeeded"
                attempt.ended_at = attempt.updated_at = now
                attempt.logs.append("attempt succeeded")
                self._finish(job, "succeeded", now)
            return

    def _start_attempt(self, job_id: int) -> tuple[Job, Attempt, ConnState, JobFaults] | None:
        """Plan the job at its first attempt and open the next attempt; None: nothing to run."""
        with self._lock:
            job = self._jobs[job_id]
            if job.terminal:
                return None
            cs = self._connections.get(job.connection_id)
            now = time.time()
            if cs is None:
                self._finish(job, "failed", now)
                return None
            if not job.planned:
                self._plan(job, cs)
            attempt = Attempt(
                number=len(job.attempts), status="running", created_at=now, updated_at=now
            )
            attempt.logs.append(f"attempt {attempt.number} started")
            for p in job.streams:
                attempt.streams[p.name] = StreamCounters()
            job.attempts.append(attempt)
            job.status = "running"
            job.updated_at = now
            job.started_at = job.started_at or now
            faults = self._job_faults(cs).model_copy()
            self._mark_dirty()
        return job, attempt, cs, faults

    def _retry_after_failure(
        self, job: Job, attempt: Attempt, cs: ConnState, exc: AttemptFailed
    ) -> bool:
        """Record a failed attempt; True when another attempt follows (after the backoff)."""
        with self._lock:
            now = time.time()
            if job.status == "cancelled":
                return False
            attempt.fail(now, exc.failure, f"attempt failed: {exc.failure['externalMessage']}")
            job.updated_at = now
            last = len(job.attempts) >= self.settings.max_attempts
            if last:
                self._finish(job, "failed", now)
            else:
                job.status = "incomplete"
                self._mark_dirty()
        if last:
            self._cleanup_staging(job, cs)
            return False
        try:
            self._wait(self.settings.attempt_backoff_seconds, job.id)
        except JobCancelled:
            self._cleanup_staging(job, cs)
            return False
        return True

    def _run_attempt(self, job: Job, attempt: Attempt, cs: ConnState, faults: JobFaults) -> None:
        started = time.monotonic()  # the attempt's pace counts from here (``_wait_until``)
        try:
            with self._writer(cs.destination).session():
                if job.job_type == "refresh" and attempt.number == 0:
                    self._start_refresh(job, cs)
                if job.job_type in _SYNCING and self._sources[cs.source].type == "airbyte":
                    connector_sync_attempt(self, job, attempt, cs)
                elif job.job_type in _SYNCING:
                    self._sync_attempt(job, attempt, cs, faults, started)
                else:
                    self._clear_attempt(job, cs, started)
        except DestinationWriteError as exc:  # e.g. the database file cannot be opened
            raise AttemptFailed(failure_reason("destination", "system_error", str(exc))) from None

    def _pace(self, cs: ConnState) -> tuple[float | None, float | None]:
        duration = cs.job_duration_seconds
        if duration is None:
            duration = self.settings.job_duration_seconds
        rps = cs.records_per_second or self.settings.records_per_second
        return duration, rps

    def _start_refresh(self, job: Job, cs: ConnState) -> None:
        """A refresh's first attempt: its streams' cursors go back to the start, and in
        ``Truncate`` mode their rows leave the destination; the attempt then reads them
        again as a sync does (``Merge`` keeps the rows and lets the re-read merge in)."""
        writer = self._writer(cs.destination)
        for p in job.streams:
            self._check_cancel(job)
            self._restart_stream(cs, p, writer if job.refresh_mode == "Truncate" else None)

    def _clear_attempt(self, job: Job, cs: ConnState, started: float) -> None:
        writer = self._writer(cs.destination)
        for p in job.streams:
            self._check_cancel(job)
            self._restart_stream(cs, p, writer)
        duration, _ = self._pace(cs)
        self._wait_until(started + min(duration or 0.0, 1.0), job.id)

    def _restart_stream(self, cs: ConnState, p: StreamPlan, writer: Writer | None) -> None:
        """Send the stream's cursor back to the start; with a writer, empty its table first."""
        if writer is not None:
            try:
                writer.truncate(TableRef(p.table, p.schema))
            except DestinationWriteError as exc:
                raise AttemptFailed(
                    failure_reason("destination", "system_error", str(exc))
                ) from None
        with self._lock:
            st = self._stream_state.setdefault(cs.id, {}).setdefault(
                p.name, {"cursor": None, "generation": p.generation}
            )
            st["cursor"] = None
            self._mark_dirty()

    def _check_cancel(self, job: Job, honour: bool = True) -> None:
        if self._stop.is_set():
            raise EngineStopped
        if honour:
            with self._lock:
                if job.status == "cancelled":
                    raise JobCancelled

    def _cleanup_staging(self, job: Job, cs: ConnState | None) -> None:
        if cs is None or job.job_type not in _SYNCING:
            return
        writer = self._writer(cs.destination)
        for p in job.streams:
            if WRITE_KIND[p.sync_mode].startswith("overwrite"):
                with contextlib.suppress(DestinationWriteError):
                    writer.drop(TableRef(self._staging_name(job, p), p.schema))

    @staticmethod
    def _staging_name(job: Job, p: StreamPlan) -> str:
        return f"_airbyte_tmp_{job.id}_{p.table}"

    def _sync_attempt(
        self, job: Job, attempt: Attempt, cs: ConnState, faults: JobFaults, started: float
    ) -> None:
        writer = self._writer(cs.destination)
        fail_this = attempt.number < faults.fail_attempts
        work = self._read_work(job, cs, faults)
        # every stream's whole read; a retry resumes incremental streams at their checkpoint
        work = self._restart_full_refresh(job, work, writer, retry=attempt.number > 0)

        total = sum(len(r) for _, _, r in work)
        duration, rps = self._pace(cs)
        chunk = self.settings.chunk_size
        if duration or rps:
            chunk = min(chunk, max(1, math.ceil(total / 20)))
        n_chunks = max(1, sum(math.ceil(len(r) / chunk) for _, _, r in work))
        run = _AttemptRun(
            job=job,
            attempt=attempt,
            cs=cs,
            faults=faults,
            writer=writer,
            honour_cancel=not faults.ignore_cancel,
            lose_checkpoints=fail_this and faults.duplicate_on_retry,
            chunk=chunk,
            per_chunk=(duration or 0.0) / n_chunks,
            rps=rps,
            budget=math.floor(total * faults.fail_after) if fail_this else None,
            started=started,
        )
        if faults.never_finish:
            while True:
                self._wait(0.05, job.id, run.honour_cancel)
        for p, schema, records in work:
            self._write_stream(run, p, schema, records)
        if run.budget is not None:  # nothing to read at all, the attempt still fails
            raise AttemptFailed(_fault_failure(faults, attempt))
        if not work:
            self._wait_until(started + (duration or 0.0), job.id, run.honour_cancel)
        self._swap_staging(job, work, writer, run.honour_cancel)

    def _read_work(
        self, job: Job, cs: ConnState, faults: JobFaults
    ) -> list[tuple[StreamPlan, StreamSchema, list[datagen.Record]]]:
        """Read: the same epoch and cursor every attempt, so a retry re-reads the same records."""
        src = self._sources[cs.source]
        with self._lock:
            catalog = {s.name: s for s in self._catalog(src)}
            epochs = {k: list(v) for k, v in self._epochs.get(cs.source, {}).items()}
            plans = list(job.streams)
        work: list[tuple[StreamPlan, StreamSchema, list[datagen.Record]]] = []
        for p in plans:
            schema = catalog.get(p.name)
            if schema is None:
                continue
            try:
                records = datagen.read_records(
                    self.world,
                    src,
                    schema,
                    epoch=p.epoch or 0,
                    epoch_times=epochs.get(p.name, [time.time()]),
                    cursor_field=p.cursor_field,
                    cursor_after=datagen.decode_cursor(p.cursor_start),
                )
            except SourceReadError as exc:
                raise AttemptFailed(failure_reason("source", "config_error", str(exc))) from None
            if faults.zero_records:
                records = []
            work.append((p, schema, records))
        return work

    def _write_stream(
        self, run: _AttemptRun, p: StreamPlan, schema: StreamSchema, records: list[datagen.Record]
    ) -> None:
        """Write one stream's records chunk by chunk, pacing and failing as the faults say."""
        job, chunk, budget = run.job, run.chunk, run.budget
        kind = WRITE_KIND[p.sync_mode]
        target = TableRef(p.table, p.schema)
        if kind.startswith("overwrite"):
            target = TableRef(self._staging_name(job, p), p.schema)
        dedup = None
        if kind == "dedup" and p.primary_key:
            dedup = Dedup(tuple(p.primary_key), p.cursor_field or self._cursor_of(schema))
        try:
            run.writer.ensure_table(target, schema.columns)
        except DestinationWriteError as exc:
            raise AttemptFailed(failure_reason("destination", "system_error", str(exc))) from None
        counters = run.attempt.streams[p.name]
        for start in range(0, max(len(records), 1), chunk):
            batch = records[start : start + chunk]
            if budget is not None and run.processed + len(batch) > budget:
                batch = batch[: budget - run.processed]
            self._check_cancel(job, run.honour_cancel)
            if batch:
                self._write_batch(
                    job,
                    run.attempt,
                    p,
                    counters,
                    run.writer,
                    target,
                    schema.column_names,
                    batch,
                    dedup,
                    run.faults,
                    run.lose_checkpoints,
                    run.cs,
                )
                run.processed += len(batch)
            if budget is not None and run.processed >= budget:
                self._pace_chunk(run, run.per_chunk)
                # The batch in flight when the attempt dies was emitted, never committed.
                in_flight = records[start + len(batch) : start + len(batch) + chunk]
                with self._lock:
                    counters.emitted += len(in_flight)
                    counters.bytes_emitted += sum(datagen.record_bytes(r) for r in in_flight)
                raise AttemptFailed(_fault_failure(run.faults, run.attempt))
            if run.rps and batch:
                self._pace_chunk(run, max(run.per_chunk, len(batch) / run.rps))
            else:
                self._pace_chunk(run, run.per_chunk)
            if not records:
                break

    def _swap_staging(
        self,
        job: Job,
        work: list[tuple[StreamPlan, StreamSchema, list[datagen.Record]]],
        writer: Writer,
        honour_cancel: bool,
    ) -> None:
        """Success: overwrite modes swap their staging tables in now, as a truncate refresh does."""
        for p, schema, _ in work:
            kind = WRITE_KIND[p.sync_mode]
            if kind.startswith("overwrite"):
                self._check_cancel(job, honour_cancel)
                staging = TableRef(self._staging_name(job, p), p.schema)
                dedup = (
                    Dedup(tuple(p.primary_key), self._cursor_of(schema))
                    if (kind == "overwrite_dedup" and p.primary_key)
                    else None
                )
                try:
                    writer.ensure_table(staging, schema.columns)
                    writer.replace(TableRef(p.table, p.schema), staging, dedup)
                except DestinationWriteError as exc:
                    raise AttemptFailed(
                        failure_reason("destination", "system_error", str(exc))
                    ) from None

    def _restart_full_refresh(
        self,
        job: Job,
        work: list[tuple[StreamPlan, StreamSchema, list[datagen.Record]]],
        writer: Writer,
        *,
        retry: bool,
    ) -> list[tuple[StreamPlan, StreamSchema, list[datagen.Record]]]:
        """A retried attempt reads full-refresh streams again from the start, as Airbyte
        does, and drops what the failed attempt wrote: that is why Airbyte counts a
        full-refresh stream by its final attempt only. Incremental streams resume from
        their last checkpoint, and their attempts sum."""
        out = []
        for p, schema, records in work:
            if not retry or not p.sync_mode.startswith("full_refresh") or p.position == 0:
                out.append((p, schema, records[p.position :]))
                continue
            try:
                if WRITE_KIND[p.sync_mode].startswith("overwrite"):
                    writer.truncate(TableRef(self._staging_name(job, p), p.schema))
                else:
                    writer.delete_sync(TableRef(p.table, p.schema), job.id)
            except DestinationWriteError as exc:
                raise AttemptFailed(
                    failure_reason("destination", "system_error", str(exc))
                ) from None
            with self._lock:
                p.position = 0
            out.append((p, schema, records))
        return out

    @staticmethod
    def _cursor_of(schema: StreamSchema) -> str | None:
        return schema.default_cursor[0] if schema.default_cursor else None

    def _write_batch(
        self,
        job: Job,
        attempt: Attempt,
        p: StreamPlan,
        counters: StreamCounters,
        writer: Writer,
        target: TableRef,
        names: list[str],
        batch: list[datagen.Record],
        dedup: Dedup | None,
        faults: JobFaults,
        lose_checkpoints: bool,
        cs: ConnState,
    ) -> None:
        """Emit a chunk, commit it (minus any shortfall) in one transaction, checkpoint."""
        sizes = [datagen.record_bytes(r) for r in batch]
        with self._lock:
            counters.emitted += len(batch)
            counters.bytes_emitted += sum(sizes)
            emitted_total = counters.emitted
            committed_so_far = counters.committed
        # commit_shortfall: the destination loses a share of what it was sent
        should_commit = emitted_total - math.floor(emitted_total * faults.commit_shortfall)
        n_commit = max(0, min(len(batch), should_commit - committed_so_far))
        keep = batch[:n_commit]
        values = ([r.get(n) for n in names] for r in keep)
        try:
            writer.insert_records(
                target, names, values, sync_id=job.id, generation=p.generation, dedup=dedup
            )
        except DestinationWriteError as exc:
            raise AttemptFailed(failure_reason("destination", "system_error", str(exc))) from None
        with self._lock:
            counters.committed += len(keep)
            counters.bytes_committed += sum(sizes[:n_commit])
            counters.state_messages += 1
            attempt.updated_at = time.time()
            if not lose_checkpoints:
                p.position += len(batch)
                if p.cursor_field is not None:
                    st = self._stream_state.setdefault(cs.id, {}).setdefault(
                        p.name, {"cursor": None, "generation": p.generation}
                    )
                    st["cursor"] = datagen.encode_cursor(batch[-1].get(p.cursor_field))
            self._mark_dirty()
