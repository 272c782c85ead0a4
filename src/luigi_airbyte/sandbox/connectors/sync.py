"""One sync attempt of a real connector: ``read`` with the configured catalog and saved state.

Records are buffered per stream; a STATE message commits the records before it (one
transaction) and only then becomes the connection's saved state, so a crash, a hang or
garbage on stdout loses at most the uncommitted tail and the next attempt resumes from the
last committed state. What remains after the last STATE is committed when the connector
exits 0. TRACE errors become the attempt's failure as Airbyte reports it; TRACE stream
status and estimates feed the live attempt (logs, estimatedRecords/estimatedBytes).

State lives in the engine's per-connection stream state under ``airbyte_state`` together
with the generation it belongs to: a clear or a truncating refresh starts a new generation,
which discards the connector state of the old one.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from luigi_airbyte.sandbox.connectors.protocol import (
    ProtocolError,
    exit_failure,
    failure,
    heartbeat_failure,
    record_value,
    trace_failure,
)
from luigi_airbyte.sandbox.connectors.runner import (
    ConnectorExit,
    ConnectorProcess,
    ConnectorTimeout,
)
from luigi_airbyte.sandbox.destinations import Dedup, DestinationWriteError, TableRef, Writer
from luigi_airbyte.sandbox.jobstate import Attempt, AttemptFailed, Job, StreamCounters, StreamPlan
from luigi_airbyte.sandbox.state import WRITE_KIND
from luigi_airbyte.sandbox.views import MODE_PAIRS

if TYPE_CHECKING:
    from luigi_airbyte.sandbox.connectors.hub import ConnectorSource
    from luigi_airbyte.sandbox.datagen import StreamSchema
    from luigi_airbyte.sandbox.runner import JobRunner
    from luigi_airbyte.sandbox.state import ConnState

GLOBAL_KEY = "__global__"  # GLOBAL / LEGACY state, saved for the whole connection


class _Stream:
    """A stream of this attempt: where it writes, what is buffered."""

    def __init__(self, plan: StreamPlan, kind: str, target: TableRef, names: list[str]) -> None:
        self.plan = plan
        self.kind = kind
        self.target = target
        self.names = names
        self.dedup: Dedup | None = None
        self.buffer: list[tuple[dict[str, Any], int]] = []


def connector_sync_attempt(engine: JobRunner, job: Job, attempt: Attempt, cs: ConnState) -> None:
    """Run ``read`` for the job's streams; raise ``AttemptFailed`` on failure."""
    src = engine._sources[cs.source]
    connector = engine._connectors[src]
    writer = engine._writer(cs.destination)
    try:
        raw = engine._connectors.raw_streams(src)
    except RuntimeError as exc:
        raise AttemptFailed(failure("config_error", str(exc))) from None
    with engine._lock:
        catalog = {s.name: s for s in engine._catalog(src)}
        plans = list(job.streams)
        saved = engine._stream_state.setdefault(cs.id, {})
    streams, configured, state_in = _prepare(engine, job, writer, plans, catalog, raw, saved)
    if not streams:
        return
    _read(engine, job, attempt, cs, writer, connector, streams, configured, state_in)
    _finish(engine, job, attempt, writer, streams)


def _prepare(
    engine: JobRunner,
    job: Job,
    writer: Writer,
    plans: list[StreamPlan],
    catalog: dict[str, StreamSchema],
    raw: dict[str, Any],
    saved: dict[str, Any],
) -> tuple[dict[str, _Stream], list[dict[str, Any]], list[dict[str, Any]]]:
    """Targets and tables for each stream, the configured catalog and the state to send."""
    streams: dict[str, _Stream] = {}
    configured: list[dict[str, Any]] = []
    state_in: list[dict[str, Any]] = []
    for p in plans:
        schema = catalog.get(p.name)
        if schema is None or p.name not in raw:
            continue
        kind = WRITE_KIND[p.sync_mode]
        final = TableRef(p.table, p.schema)
        target = (
            TableRef(engine._staging_name(job, p), p.schema)
            if kind.startswith("overwrite")
            else final
        )
        st = _Stream(p, kind, target, schema.column_names)
        if kind in ("dedup", "overwrite_dedup") and p.primary_key:
            st.dedup = Dedup(tuple(p.primary_key), p.cursor_field or engine._cursor_of(schema))
        try:
            if kind.startswith("overwrite"):
                writer.drop(target)  # a full refresh re-reads from the start each attempt
            writer.ensure_table(target, schema.columns)
        except DestinationWriteError as exc:
            raise AttemptFailed(failure("system_error", str(exc), origin="destination")) from None
        streams[p.name] = st
        incremental = p.cursor_field is not None
        dest_mode = MODE_PAIRS[p.sync_mode][1]
        configured.append(
            {
                "stream": raw[p.name],
                "sync_mode": "incremental" if incremental else "full_refresh",
                "destination_sync_mode": dest_mode,
                "cursor_field": [p.cursor_field] if incremental else [],
                "primary_key": [[k] for k in p.primary_key],
            }
        )
        entry = saved.get(p.name) or {}
        fresh = entry.get("airbyte_generation") == p.generation
        if incremental and fresh and entry.get("airbyte_state") is not None:
            state_in.append(entry["airbyte_state"])
    glob = saved.get(GLOBAL_KEY) or {}
    if glob.get("airbyte_state") is not None and any(s.plan.cursor_field for s in streams.values()):
        state_in = [glob["airbyte_state"]]
    return streams, configured, state_in


def _read(
    engine: JobRunner,
    job: Job,
    attempt: Attempt,
    cs: ConnState,
    writer: Writer,
    connector: ConnectorSource,
    streams: dict[str, _Stream],
    configured: list[dict[str, Any]],
    state_in: list[dict[str, Any]],
) -> None:
    """Run the connector's ``read``, committing at each STATE; a failure fails the attempt."""

    def poll() -> None:
        engine._check_cancel(job)

    try:
        proc = ConnectorProcess(
            connector.argv,
            "read",
            config=connector.config,
            catalog={"streams": configured},
            state=state_in,
            timeout=connector.timeout,
            cwd=connector.base_dir,
        )
    except OSError as exc:  # e.g. the command does not exist
        raise AttemptFailed(failure("system_error", f"cannot run the source: {exc}")) from None
    error: dict[str, Any] | None = None
    try:
        for msg in proc.messages(poll):
            mtype = msg["type"]
            if mtype == "RECORD":
                _record(engine, attempt, streams, msg["record"])
            elif mtype == "STATE":
                _state(engine, job, attempt, cs, streams, writer, msg["state"])
            elif mtype == "TRACE":
                trace = msg["trace"]
                if trace.get("type") == "ERROR" and error is None:
                    error = trace_failure(trace)
                _trace(engine, attempt, trace)
    except ConnectorTimeout as exc:
        raise AttemptFailed(error or heartbeat_failure(exc.seconds)) from None
    except ConnectorExit as exc:
        raise AttemptFailed(error or exit_failure(exc.code, exc.stderr_tail)) from None
    except ProtocolError as exc:
        raise AttemptFailed(failure("system_error", str(exc))) from None
    finally:
        proc.close()  # also when a write, a cancel or a stop ends the read early
    if error is not None:  # a TRACE error and exit 0: Airbyte still fails the attempt
        raise AttemptFailed(error)


def _finish(
    engine: JobRunner, job: Job, attempt: Attempt, writer: Writer, streams: dict[str, _Stream]
) -> None:
    """Exit 0: what came after the last STATE is committed too, then overwrites swap in."""
    for st in streams.values():
        _flush(engine, job, attempt, writer, st)
    for st in streams.values():
        if st.kind.startswith("overwrite"):
            engine._check_cancel(job)
            dedup = st.dedup if st.kind == "overwrite_dedup" else None
            try:
                writer.replace(TableRef(st.plan.table, st.plan.schema), st.target, dedup)
            except DestinationWriteError as exc:
                raise AttemptFailed(
                    failure("system_error", str(exc), origin="destination")
                ) from None


def _record(
    engine: JobRunner, attempt: Attempt, streams: dict[str, _Stream], record: dict[str, Any]
) -> None:
    st = streams.get(str(record.get("stream")))
    if st is None:
        return  # a stream the catalog did not ask for
    data = record.get("data") or {}
    size = len(json.dumps(data, default=str))
    st.buffer.append((data, size))
    with engine._lock:
        counters = attempt.streams.setdefault(st.plan.name, StreamCounters())
        counters.emitted += 1
        counters.bytes_emitted += size


def _flush(engine: JobRunner, job: Job, attempt: Attempt, writer: Writer, st: _Stream) -> None:
    """Commit a stream's buffered records in one transaction."""
    if not st.buffer:
        return
    try:
        written = writer.insert_records(
            st.target,
            st.names,
            ([record_value(data.get(n)) for n in st.names] for data, _ in st.buffer),
            sync_id=job.id,
            generation=st.plan.generation,
            dedup=st.dedup if st.kind == "dedup" else None,
        )
    except DestinationWriteError as exc:
        raise AttemptFailed(failure("system_error", str(exc), origin="destination")) from None
    with engine._lock:
        counters = attempt.streams.setdefault(st.plan.name, StreamCounters())
        counters.committed += written
        counters.bytes_committed += sum(size for _, size in st.buffer)
    st.buffer = []


def _state(
    engine: JobRunner,
    job: Job,
    attempt: Attempt,
    cs: ConnState,
    streams: dict[str, _Stream],
    writer: Writer,
    state: dict[str, Any],
) -> None:
    """Commit the records before this STATE, then save it as the connection's state."""
    stype = state.get("type") or "LEGACY"
    if stype == "STREAM":
        name = str(((state.get("stream") or {}).get("stream_descriptor") or {}).get("name"))
        touched = [streams[name]] if name in streams else []
        key = name
    else:
        touched, key = list(streams.values()), GLOBAL_KEY
    for st in touched:
        _flush(engine, job, attempt, writer, st)
    kept = {k: v for k, v in state.items() if k in ("type", "stream", "global", "data")}
    plan = streams[key].plan if key in streams else None
    with engine._lock:
        for st in touched or list(streams.values())[:1]:
            counters = attempt.streams.setdefault(st.plan.name, StreamCounters())
            counters.state_messages += 1
        attempt.updated_at = datetime.now(timezone.utc).timestamp()
        if plan is None or plan.cursor_field is not None or key == GLOBAL_KEY:
            entry = engine._stream_state.setdefault(cs.id, {}).setdefault(
                key, {"cursor": None, "generation": plan.generation if plan else 0}
            )
            entry["airbyte_state"] = kept
            entry["airbyte_generation"] = plan.generation if plan else entry.get("generation", 0)
        engine._mark_dirty()


def _trace(engine: JobRunner, attempt: Attempt, trace: dict[str, Any]) -> None:
    ttype = trace.get("type")
    with engine._lock:
        if ttype == "ESTIMATE":
            est = trace.get("estimate") or {}
            counters = attempt.streams.get(str(est.get("name")))
            if counters is not None:
                counters.estimated_records = int(est.get("row_estimate") or 0)
                counters.estimated_bytes = int(est.get("byte_estimate") or 0)
        elif ttype == "STREAM_STATUS":
            status = trace.get("stream_status") or {}
            name = (status.get("stream_descriptor") or {}).get("name")
            attempt.logs.append(f"stream {name}: {status.get('status')}")
        elif ttype == "ERROR":
            err = trace.get("error") or {}
            attempt.logs.append(f"source error: {err.get('message')}")
