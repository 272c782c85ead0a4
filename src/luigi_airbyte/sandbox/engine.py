"""The sandbox engine: the state of a fake Airbyte instance, and the runner that moves data.

The HTTP layer turns requests into calls here and the returned dicts into JSON; everything
here already has Airbyte's wire shape (camelCase, epoch seconds where the config API uses
them, ISO strings where the public API does).

Jobs follow Airbyte's state machine: pending -> running -> (incomplete -> running)* ->
succeeded | failed | cancelled, with one attempt per run. Each job runs in its own worker
thread, reads records from the source (seeded generator or file) and writes them into a real
database in chunks; a chunk is one transaction and one checkpoint, so committed counts always
equal the rows really written. Faults are injected at the same points where Airbyte fails.

All state sits behind one RLock; database writes and sleeps happen outside it.
"""

from __future__ import annotations

import contextlib
import copy
import hmac
import json
import logging
import math
import os
import secrets
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, overload

from pydantic import ValidationError

from luigi_airbyte.sandbox import datagen
from luigi_airbyte.sandbox.connectors.hub import ConnectorHub
from luigi_airbyte.sandbox.datagen import SourceReadError, StreamSchema
from luigi_airbyte.sandbox.destinations import (
    Dedup,
    DestinationWriteError,
    TableRef,
    Writer,
    make_writer,
    writer_url,
)
from luigi_airbyte.sandbox.errors import (
    BadRequest,
    Conflict,
    CreateTimedOut,
    NotFound,
    SandboxError,
    Unprocessable,
)
from luigi_airbyte.sandbox.jobstate import (
    ACTIVE,
    CONFIG_TYPES,
    PUBLIC_TYPES,
    TERMINAL,
    Attempt,
    Job,
    StreamCounters,
    StreamPlan,
    attempt_info,
    attempt_read,
    job_info,
    job_read,
    job_response,
)
from luigi_airbyte.sandbox.patch_rules import check_patch_values, selected_fields_of
from luigi_airbyte.sandbox.world import (
    SYNC_MODES,
    Application,
    Connection,
    Destination,
    EngineFaults,
    JobFaults,
    SchemaFault,
    Source,
    World,
)

logger = logging.getLogger(__name__)

MASK = "**********"
_SECRET_WORDS = (
    "password",
    "secret",
    "token",
    "api_key",
    "apikey",
    "credential",
    "private_key",
    "access_key",
)
_BASE_CREATED_AT = 1_704_067_200  # 2024-01-01T00:00:00Z: world resources get fixed createdAt
STATE_VERSION = 1

# (sourceType, definitionId, docker repository, tag) of the connector each world type imitates
_SOURCE_DEFS = {
    "generator": (
        "faker",
        "dfd88b22-b603-4c3d-aad7-3701784586b1",
        "airbyte/source-faker",
        "6.2.21",
    ),
    "file": ("file", "778daa7c-feaf-4db6-96f3-70fd645acc77", "airbyte/source-file", "0.5.13"),
}
_DEST_DEFS = {
    "duckdb": (
        "duckdb",
        "94bd199c-2ff0-4aa2-b98e-17f0acb72610",
        "airbyte/destination-duckdb",
        "0.4.28",
    ),
    "sqlite": (
        "sqlite",
        "b76be0a6-27dc-4560-95f6-2623da0bd7b6",
        "airbyte/destination-sqlite",
        "0.1.0",
    ),
    "postgres": (
        "postgres",
        "25c5221d-dce2-4163-ade9-739ef790f503",
        "airbyte/destination-postgres",
        "2.4.6",
    ),
}
# public sync mode -> (config API syncMode, destinationSyncMode); the reverse is Airbyte's mapping
_MODE_PAIRS = {
    "full_refresh_overwrite": ("full_refresh", "overwrite"),
    "full_refresh_overwrite_deduped": ("full_refresh", "overwrite_dedup"),
    "full_refresh_append": ("full_refresh", "append"),
    "full_refresh_update": ("full_refresh", "update"),
    "full_refresh_soft_delete": ("full_refresh", "soft_delete"),
    "incremental_append": ("incremental", "append"),
    "incremental_deduped_history": ("incremental", "append_dedup"),
    "incremental_update": ("incremental", "update"),
    "incremental_soft_delete": ("incremental", "soft_delete"),
}
# what the sandbox writers implement; update / soft_delete behave like their dedup neighbour
_WRITE_KIND = {
    "full_refresh_overwrite": "overwrite",
    "full_refresh_overwrite_deduped": "overwrite_dedup",
    "full_refresh_append": "append",
    "full_refresh_update": "dedup",
    "full_refresh_soft_delete": "dedup",
    "incremental_append": "append",
    "incremental_deduped_history": "dedup",
    "incremental_update": "dedup",
    "incremental_soft_delete": "dedup",
}
_DEST_MODES = (
    "full_refresh_overwrite",
    "full_refresh_overwrite_deduped",
    "full_refresh_append",
    "incremental_append",
    "incremental_deduped_history",
)


def _source_def(src: Source | None) -> tuple[str, str, str, str]:
    """(sourceType, definitionId, repository, tag) of a source; a real connector names itself."""
    if src is None or src.type != "airbyte":
        return _SOURCE_DEFS[src.type if src else "generator"]
    name = str(src.connector)
    known = {"source-faker": _SOURCE_DEFS["generator"], "source-file": _SOURCE_DEFS["file"]}
    if name in known:
        stype, def_id, repo, _ = known[name]
    else:
        stype = name.removeprefix("source-")
        def_id, repo = str(uuid.uuid5(uuid.NAMESPACE_URL, f"airbyte/{name}")), f"airbyte/{name}"
    main = src.pip if isinstance(src.pip, str) else (src.pip or [""])[0]
    version = (main or "").partition("==")[2] or "dev"
    return stype, def_id, repo, version


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    if any(w in key.lower() for w in _SECRET_WORDS) and value not in (None, ""):
        return MASK
    return value


def _epoch(dt: datetime | None) -> float | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


@dataclass
class ConnState:
    """A connection as it is now: the world's declaration plus PATCHes."""

    id: str
    name: str
    source: str
    destination: str
    workspace_id: str
    status: str
    schedule_type: str
    cron_expression: str | None
    basic_timing: str | None
    namespace_definition: str
    namespace_format: str | None
    prefix: str
    streams: list[dict[str, Any]] | None  # {name, sync_mode, cursor_field, primary_key}
    created_at: int
    non_breaking: str = "ignore"
    tags: list[dict[str, Any]] = field(default_factory=list)
    job_duration_seconds: float | None = None
    records_per_second: float | None = None


@dataclass
class _AppState:
    id: str
    name: str
    client_id: str
    client_secret: str
    created_at: int
    from_world: bool = False


class _Stopped(Exception):
    """The engine is closing; leave the job as it is so a restart resumes it."""


class _Cancelled(Exception):
    """The job was cancelled while an attempt ran."""


class _AttemptFailed(Exception):
    def __init__(self, failure: dict[str, Any]) -> None:
        super().__init__(failure.get("externalMessage", "attempt failed"))
        self.failure = failure


def _failure(
    origin: str, ftype: str, external: str, internal: str | None = None, retryable: bool = True
) -> dict[str, Any]:
    return {
        "failureOrigin": origin,
        "failureType": ftype,
        "externalMessage": external,
        "internalMessage": internal or external,
        "retryable": retryable,
        "timestamp": int(time.time() * 1000),
    }


def _fault_failure(faults: JobFaults, attempt: Attempt) -> dict[str, Any]:
    internal = f"sandbox fault: fail_attempts={faults.fail_attempts} (attempt {attempt.number})"
    return _failure("source", "system_error", faults.failure_message, internal)


class Engine:
    """A fake Airbyte instance over a validated World; see the module docstring."""

    def __init__(
        self,
        world: World,
        *,
        state_path: Path | None = None,
        public_base_url: str = "http://127.0.0.1/api/public/v1",
    ) -> None:
        self.world = world
        self.settings = world.settings
        self.state_path = Path(state_path) if state_path is not None else None
        self.public_base_url = public_base_url.rstrip("/")
        self._lock = threading.RLock()
        self._save_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._runner: threading.Thread | None = None
        self._workers: dict[int, threading.Thread] = {}
        # Active jobs without a worker thread: the run loop looks only at these, so an idle
        # sandbox with a long job history costs nothing.
        self._waiting: set[int] = set()
        self._dirty = False
        self._urgent = False
        self._closed = False
        self._token_ttl = world.settings.token_ttl_seconds
        self._discovers: dict[str, int] = {}  # source name -> discover calls (schema faults)

        self._faults = EngineFaults.model_validate(
            {"jobs": dict(world.faults.jobs), "schema": dict(world.faults.schema_)}
        )
        self._workspaces = {world.workspace_id(w): w for w in world.workspaces}
        self._sources: dict[str, Source] = {world.source_id(s): s for s in world.sources}
        self._sources_by_name = {s.name: s for s in world.sources}
        self._destinations: dict[str, Destination] = {
            world.destination_id(d): d for d in world.destinations
        }
        self._dest_by_name = {d.name: d for d in world.destinations}
        self._source_index = {world.source_id(s): i for i, s in enumerate(world.sources)}
        self._dest_index = {world.destination_id(d): i for i, d in enumerate(world.destinations)}
        self._writers: dict[str, Writer] = {}
        self._connections: dict[str, ConnState] = {}
        self._patched: set[str] = set()  # connections changed by PATCH (persisted whole)
        for i, c in enumerate(world.connections):
            cs = self._conn_from_world(c, i)
            self._connections[cs.id] = cs
        self._apps: dict[str, _AppState] = {}
        for i, a in enumerate(world.applications):
            app = self._app_from_world(a, i)
            self._apps[app.id] = app

        self._jobs: dict[int, Job] = {}
        self._next_job_id = 1
        # Job ids start past the highest sync id the destinations already hold (see
        # _seed_job_ids): a restart without --state must not reuse them.
        self._job_ids_seeded = False
        self._seed_lock = threading.Lock()
        # source id -> stream -> times at which each epoch of the generated table was read
        self._epochs: dict[str, dict[str, list[float]]] = {}
        # connection id -> stream -> {"cursor": encoded cursor | None, "generation": int}
        self._stream_state: dict[str, dict[str, dict[str, Any]]] = {}
        self._deleted_apps: set[str] = set()
        if self.state_path is not None and self.state_path.exists():
            self._load_state()
        # real connectors (type: airbyte): env built, spec checked, before any catalog is read
        self._connectors = ConnectorHub(world)
        # connection id -> the catalog it was configured with (config API syncCatalog)
        self._stored: dict[str, list[StreamSchema]] = {
            cid: self._catalog(self._sources[cs.source]) for cid, cs in self._connections.items()
        }

    # ------------------------------------------------------------------ world -> state
    def _conn_from_world(self, c: Connection, index: int) -> ConnState:
        src = self._sources_by_name[c.source]
        streams = None
        if c.streams is not None:
            streams = [
                {
                    "name": s.name,
                    "sync_mode": s.sync_mode,
                    "cursor_field": s.cursor_field,
                    "primary_key": s.primary_key,
                }
                for s in c.streams
            ]
        return ConnState(
            id=self.world.connection_id(c),
            name=c.name,
            source=self.world.source_id(src),
            destination=self.world.destination_id(self._dest_by_name[c.destination]),
            workspace_id=self.world.workspace_id(self.world.workspace_of(src.workspace)),
            status=c.status,
            schedule_type=c.schedule.type,
            cron_expression=c.schedule.cron_expression,
            basic_timing=c.schedule.basic_timing
            or ("Every 24 HOURS" if c.schedule.type == "basic" else None),
            namespace_definition=c.namespace_definition,
            namespace_format=c.namespace,
            prefix=c.prefix,
            streams=streams,
            created_at=_BASE_CREATED_AT + index,
            job_duration_seconds=c.job_duration_seconds,
            records_per_second=c.records_per_second,
        )

    def _app_from_world(self, a: Application, index: int) -> _AppState:
        return _AppState(
            id=self.world.application_id(a),
            name=a.name,
            client_id=a.client_id,
            client_secret=a.client_secret,
            created_at=_BASE_CREATED_AT + index,
            from_world=True,
        )

    # ------------------------------------------------------------------ persistence
    def _load_state(self) -> None:
        assert self.state_path is not None
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SandboxError(
                f"{self.state_path}: cannot read the sandbox state file ({exc}); "
                "fix: delete it to start from an empty state"
            ) from None
        now = time.time()
        self._next_job_id = int(data.get("next_job_id", 1))
        self._epochs = data.get("epochs", {})
        self._stream_state = data.get("stream_state", {})
        self._deleted_apps = set(data.get("deleted_apps", []))
        for app_id in self._deleted_apps:
            self._apps.pop(app_id, None)
        for a in data.get("created_apps", []):
            if a["id"] not in self._deleted_apps:
                self._apps[a["id"]] = _AppState(**a)
        for cid, override in data.get("connections", {}).items():
            if cid in self._connections:
                self._connections[cid] = ConnState(**override)
                self._patched.add(cid)
        if "token_ttl_seconds" in data:
            self._token_ttl = int(data["token_ttl_seconds"])
        for jd in data.get("jobs", []):
            job = Job.from_dict(jd)
            self._jobs[job.id] = job
            if job.status in ACTIVE:
                self._waiting.add(job.id)
            if job.status in ACTIVE and job.attempts and job.attempts[-1].status == "running":
                # The process died under this attempt: like a lost worker, the attempt fails
                # and the job carries on with the next one.
                att = job.attempts[-1]
                att.status = "failed"
                att.ended_at = att.updated_at = now
                att.failure = _failure(
                    "airbyte_platform",
                    "heartbeat_timeout",
                    "The sandbox restarted while this attempt was running.",
                )
                att.logs.append("attempt interrupted by a sandbox restart")
                job.updated_at = now
                if len(job.attempts) >= self.settings.max_attempts:
                    self._finish(job, "failed", now)
                else:
                    job.status = "incomplete"
        self._dirty = True

    def _snapshot(self) -> dict[str, Any]:
        changed = {
            cid: asdict(self._connections[cid])
            for cid in sorted(self._patched)
            if cid in self._connections
        }
        return {
            "version": STATE_VERSION,
            "next_job_id": self._next_job_id,
            "jobs": [j.to_dict() for j in self._jobs.values()],
            "epochs": copy.deepcopy(self._epochs),
            "stream_state": copy.deepcopy(self._stream_state),
            "created_apps": [asdict(a) for a in self._apps.values() if not a.from_world],
            "deleted_apps": sorted(self._deleted_apps),
            "connections": changed,
            "token_ttl_seconds": self._token_ttl,
        }

    def flush(self) -> None:
        """Write the state file now (atomically: temp file, fsync, rename)."""
        if self.state_path is None:
            return
        with self._lock:
            data = self._snapshot()
            self._dirty = False
        text = json.dumps(data, separators=(",", ":"), default=str)
        with self._save_lock:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_path.with_name(f".{self.state_path.name}.{os.getpid()}.tmp")
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.state_path)

    def _mark_dirty(self, urgent: bool = False) -> None:
        """Schedule a state write; urgent ones (new or finished jobs) go out at once."""
        self._dirty = True
        if urgent:
            self._urgent = True
            self._wake.set()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the job runner; jobs created before start() stay pending until then."""
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

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        successor = self._new_job(cs.id, job.job_type)
        successor.status = "queued"
        successor.replaces = job.id

    # ------------------------------------------------------------------ lookups
    def _conn(self, connection_id: str) -> ConnState:
        cs = self._connections.get(str(connection_id))
        if cs is None:
            raise NotFound("connection", str(connection_id))
        return cs

    def _source(self, source_id: str) -> Source:
        src = self._sources.get(str(source_id))
        if src is None:
            raise NotFound("source", str(source_id))
        return src

    def _destination(self, destination_id: str) -> Destination:
        dst = self._destinations.get(str(destination_id))
        if dst is None:
            raise NotFound("destination", str(destination_id))
        return dst

    def _job(self, job_id: int) -> Job:
        job = self._jobs.get(int(job_id))
        if job is None:
            raise NotFound("job", str(job_id))
        return job

    def _schema_fault(self, source: Source) -> SchemaFault | None:
        fault = self._faults.schema_.get(source.name)
        if fault is not None and self._discovers.get(source.name, 0) < fault.after_discovers:
            return None  # the source has not changed yet
        return fault

    def _stored_catalog(self, cs: ConnState) -> list[StreamSchema]:
        """The catalog the connection was last saved with; the source may have moved on."""
        stored = self._stored.get(cs.id)
        if stored is None:
            stored = self._stored[cs.id] = self._catalog(self._sources[cs.source])
        return stored

    def _catalog(self, source: Source) -> list[StreamSchema]:
        if source.type == "airbyte":
            return self._connectors.catalog(source)
        return datagen.catalog(self.world, source, self._schema_fault(source))

    def _writer(self, destination_id: str) -> Writer:
        with self._lock:
            wr = self._writers.get(destination_id)
            if wr is None:
                dst = self._destination(destination_id)
                path = self.world.resolve_path(dst.path) if dst.path else None
                wr = make_writer(dst.type, path=path, url=dst.url)
                self._writers[destination_id] = wr
            return wr

    def _job_faults(self, cs: ConnState) -> JobFaults:
        """Faults for a connection: by its name, else its id, else the "*" entry."""
        jobs = self._faults.jobs
        return jobs.get(cs.name) or jobs.get(cs.id) or jobs.get("*") or JobFaults()

    # ------------------------------------------------------------------ workspaces, sources
    def _workspace_dict(self, ws_id: str) -> dict[str, Any]:
        off = {"email": {"enabled": False}, "webhook": {"enabled": False}}
        return {
            "workspaceId": ws_id,
            "name": self._workspaces[ws_id].name,
            "dataResidency": "auto",
            "notifications": {
                k: copy.deepcopy(off)
                for k in (
                    "failure",
                    "success",
                    "connectionUpdate",
                    "connectionUpdateActionRequired",
                    "syncDisabled",
                    "syncDisabledWarning",
                )
            },
        }

    def list_workspaces(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._workspace_dict(w) for w in self._workspaces]

    def get_workspace(self, workspace_id: str) -> dict[str, Any]:
        with self._lock:
            if str(workspace_id) not in self._workspaces:
                raise NotFound("workspace", str(workspace_id))
            return self._workspace_dict(str(workspace_id))

    def _source_workspace(self, src: Source) -> str:
        return self.world.workspace_id(self.world.workspace_of(src.workspace))

    def get_source(self, source_id: str) -> dict[str, Any]:
        with self._lock:
            src = self._source(source_id)
            stype, def_id, _, _ = _source_def(src)
            config: dict[str, Any] = dict(src.config or src.configuration)
            if not config:
                config = {
                    "streams": [
                        {
                            "name": s.name,
                            "size": s.size,
                            "growth_per_sync": s.growth_per_sync,
                            "seed": s.seed,
                        }
                        if src.type == "generator"
                        else {"name": s.name, "path": s.path}
                        for s in src.streams
                    ]
                }
            return {
                "sourceId": str(source_id),
                "name": src.name,
                "sourceType": stype,
                "definitionId": def_id,
                "workspaceId": self._source_workspace(src),
                "configuration": _mask({**config, "sourceType": stype}),
                "createdAt": _BASE_CREATED_AT + self._source_index[str(source_id)],
            }

    def _dest_config(self, dst: Destination) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if dst.path:
            config["destination_path"] = str(self.world.resolve_path(dst.path))
        if dst.url:
            from sqlalchemy.engine import make_url

            u = make_url(dst.url)
            config.update(
                {
                    "host": u.host,
                    "port": u.port,
                    "database": u.database,
                    "username": u.username,
                    "password": u.password,
                    "schema": "public",
                }
            )
            if u.get_backend_name() == "sqlite":
                config = {"destination_path": u.database}
        config.update(dst.configuration)
        # the SDK picks the DestinationConfiguration variant by this key
        config["destinationType"] = _DEST_DEFS[dst.type][0]
        return _mask(config)  # type: ignore[no-any-return]

    def get_destination(self, destination_id: str) -> dict[str, Any]:
        with self._lock:
            dst = self._destination(destination_id)
            dtype, def_id, _, _ = _DEST_DEFS[dst.type]
            return {
                "destinationId": str(destination_id),
                "name": dst.name,
                "destinationType": dtype,
                "definitionId": def_id,
                "workspaceId": self.world.workspace_id(self.world.workspace_of(dst.workspace)),
                "configuration": self._dest_config(dst),
                "createdAt": _BASE_CREATED_AT + self._dest_index[str(destination_id)],
            }

    def destination_url(self, destination_id: str) -> str:
        with self._lock:
            dst = self._destination(destination_id)
            path = self.world.resolve_path(dst.path) if dst.path else None
            return writer_url(dst.type, path=path, url=dst.url)

    # ------------------------------------------------------------------ connections
    def _configured_streams(self, cs: ConnState) -> list[dict[str, Any]]:
        """Selected streams with their effective cursor / primary key, catalog order kept."""
        src = self._sources[cs.source]
        schemas = {s.name: s for s in self._catalog(src)}
        if cs.streams is None:
            chosen = [
                {
                    "name": n,
                    "sync_mode": "full_refresh_overwrite",
                    "cursor_field": None,
                    "primary_key": None,
                }
                for n in schemas
            ]
        else:
            chosen = cs.streams
        out = []
        for s in chosen:
            schema = schemas.get(str(s["name"]))
            if schema is None:
                continue  # removed from the source (schema drift): nothing to sync
            cursor = s.get("cursor_field") or list(schema.default_cursor)
            pk = s.get("primary_key") or [list(p) for p in schema.primary_key]
            out.append({**s, "cursor_field": cursor, "primary_key": pk, "schema": schema})
        return out

    def _schedule(self, cs: ConnState) -> dict[str, Any]:
        out: dict[str, Any] = {"scheduleType": cs.schedule_type}
        if cs.schedule_type == "cron" and cs.cron_expression:
            expr = cs.cron_expression
            out["cronExpression"] = expr if expr.endswith(" UTC") else f"{expr} UTC"
        if cs.schedule_type == "basic":
            out["basicTiming"] = cs.basic_timing or "Every 24 HOURS"
        return out

    def _connection_dict(self, cs: ConnState) -> dict[str, Any]:
        streams = []
        for s in self._configured_streams(cs):
            entry: dict[str, Any] = {"name": s["name"], "syncMode": s["sync_mode"]}
            if self._sources[cs.source].namespace:
                entry["namespace"] = self._sources[cs.source].namespace
            entry["cursorField"] = list(s["cursor_field"])
            entry["primaryKey"] = [list(p) for p in s["primary_key"]]
            if s.get("selected_fields"):
                entry["selectedFields"] = [{"fieldPath": list(f)} for f in s["selected_fields"]]
            streams.append(entry)
        out: dict[str, Any] = {
            "connectionId": cs.id,
            "name": cs.name,
            "sourceId": cs.source,
            "destinationId": cs.destination,
            "workspaceId": cs.workspace_id,
            "status": cs.status,
            "schedule": self._schedule(cs),
            "nonBreakingSchemaUpdatesBehavior": cs.non_breaking,
            "namespaceDefinition": cs.namespace_definition,
            "prefix": cs.prefix,
            "configurations": {"streams": streams},
            "createdAt": cs.created_at,
            "tags": list(cs.tags),
        }
        if cs.namespace_format:
            out["namespaceFormat"] = cs.namespace_format
        return out

    def list_connections(
        self, workspace_ids: list[str] | None = None, include_deleted: bool = False
    ) -> list[dict[str, Any]]:
        with self._lock:
            wanted = set(workspace_ids or [])
            conns = [
                cs
                for cs in self._connections.values()
                if (not wanted or cs.workspace_id in wanted)
                and (include_deleted or cs.status != "deprecated")
            ]
            conns.sort(key=lambda c: (c.created_at, c.id))
            return [self._connection_dict(c) for c in conns]

    def get_connection(self, connection_id: str) -> dict[str, Any]:
        with self._lock:
            return self._connection_dict(self._conn(connection_id))

    def patch_connection(self, connection_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        """ConnectionPatchRequest: every field optional; stream configs replace the selection."""
        with self._lock:
            cs = copy.deepcopy(self._conn(connection_id))
            if not isinstance(patch, dict):
                raise BadRequest("The request body must be a JSON object")
            check_patch_values(patch, self._catalog(self._sources[cs.source]))
            if "name" in patch and patch["name"] is not None:
                if not isinstance(patch["name"], str) or not patch["name"].strip():
                    raise BadRequest("name must be a non-empty string")
                cs.name = patch["name"]
            if patch.get("status") is not None:
                if patch["status"] not in ("active", "inactive", "deprecated", "locked"):
                    raise BadRequest(f"Invalid connection status: {patch['status']!r}")
                cs.status = patch["status"]
            if patch.get("schedule") is not None:
                sched = patch["schedule"]
                stype = sched.get("scheduleType") if isinstance(sched, dict) else None
                if stype not in ("manual", "cron", "basic"):
                    raise BadRequest(f"Invalid scheduleType: {stype!r}")
                if stype == "cron" and not sched.get("cronExpression"):
                    raise BadRequest("A cron schedule needs a cronExpression")
                cs.schedule_type = stype
                cs.cron_expression = sched.get("cronExpression")
            if patch.get("namespaceDefinition") is not None:
                if patch["namespaceDefinition"] not in ("source", "destination", "custom_format"):
                    raise BadRequest(
                        f"Invalid namespaceDefinition: {patch['namespaceDefinition']!r}"
                    )
                cs.namespace_definition = patch["namespaceDefinition"]
            if "namespaceFormat" in patch:
                cs.namespace_format = patch["namespaceFormat"]
            if patch.get("prefix") is not None:
                cs.prefix = str(patch["prefix"])
            if patch.get("nonBreakingSchemaUpdatesBehavior") is not None:
                cs.non_breaking = str(patch["nonBreakingSchemaUpdatesBehavior"])
            if patch.get("tags") is not None:
                cs.tags = list(patch["tags"])
            configs = patch.get("configurations")
            if configs is not None:
                cs.streams = self._validate_stream_configs(cs, configs)
                # saving the streams stores the source's current catalog, as Airbyte does
                self._stored[cs.id] = self._catalog(self._sources[cs.source])
            self._connections[cs.id] = cs
            self._patched.add(cs.id)
            self._mark_dirty()
            return self._connection_dict(cs)

    def _validate_stream_configs(self, cs: ConnState, configs: Any) -> list[dict[str, Any]]:
        streams = configs.get("streams") if isinstance(configs, dict) else None
        if not isinstance(streams, list):
            raise BadRequest("configurations.streams must be a list")
        schemas = {s.name: s for s in self._catalog(self._sources[cs.source])}
        out: list[dict[str, Any]] = []
        for s in streams:
            name = s.get("name") if isinstance(s, dict) else None
            if name not in schemas:
                raise BadRequest(
                    f"Invalid stream found: {name!r}. The list of valid streams include: "
                    f"{sorted(schemas)}."
                )
            assert isinstance(s, dict) and isinstance(name, str)
            mode = s.get("syncMode") or "full_refresh_overwrite"
            if mode not in SYNC_MODES:
                raise BadRequest(f"Invalid syncMode {mode!r} for stream {name}")
            schema = schemas[name]
            if mode.startswith("incremental") and not (
                s.get("cursorField") or schema.default_cursor
            ):
                raise BadRequest(f"No default cursor field for stream: {name}")
            pk = s.get("primaryKey")
            if "dedup" in mode and not (pk or schema.primary_key):
                raise BadRequest(f"Primary key for stream: {name} is not provided.")
            cursor = s.get("cursorField")
            if cursor and cursor[0] not in schema.column_names:
                raise BadRequest(
                    f"Invalid cursor field for stream: {name}. "
                    f"The list of valid cursor fields include: "
                    f"{[[c] for c in schema.column_names]}."
                )
            out.append(
                {
                    "name": name,
                    "sync_mode": mode,
                    "cursor_field": cursor or None,
                    "primary_key": pk or None,
                    "selected_fields": selected_fields_of(s),
                }
            )
        return out

    def stream_properties(
        self, source_id: str, destination_id: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            src = self._source(source_id)
            if destination_id is not None:
                self._destination(destination_id)
            modes = _DEST_MODES if destination_id else SYNC_MODES
            out = []
            for schema in self._catalog(src):
                incr = schema.supports_incremental
                entry: dict[str, Any] = {"streamName": schema.name}
                if src.namespace:
                    entry["streamnamespace"] = src.namespace
                out.append(
                    {
                        **entry,
                        "syncModes": [m for m in modes if incr or not m.startswith("incremental")],
                        "defaultCursorField": list(schema.default_cursor),
                        "sourceDefinedCursorField": schema.source_defined_cursor,
                        "sourceDefinedPrimaryKey": [list(p) for p in schema.primary_key],
                        "propertyFields": [[c] for c in schema.column_names],
                    }
                )
            return out

    # ------------------------------------------------------------------ jobs: public API
    def _seed_job_ids(self) -> None:
        """Start job ids past every ``sync_id`` already in the destinations, once.

        Rows carry their job id as ``_airbyte_meta.sync_id``, and checks count a sync's
        rows by it. A sandbox restarted without its state file would otherwise start at
        job 1 again, and rows from the earlier life would count as this job's. Runs
        before the first job, outside the engine lock (it reads the destinations).
        """
        if self._job_ids_seeded:
            return
        with self._seed_lock:
            if self._job_ids_seeded:
                return
            tables: list[tuple[str, TableRef]] = []
            with self._lock:
                for cs in self._connections.values():
                    try:
                        streams = self._configured_streams(cs)
                    except Exception as exc:  # noqa: BLE001 - e.g. a source that cannot be read
                        logger.debug("cannot list the streams of %s: %s", cs.name, exc)
                        continue
                    tables += [(cs.destination, self._table_ref(cs, s["name"])) for s in streams]
            highest = 0
            for destination_id, ref in dict.fromkeys(tables):
                dst = self._destination(destination_id)
                if dst.path and not self.world.resolve_path(dst.path).exists():
                    continue  # no file yet: no rows, and reading would create it
                try:
                    highest = max(highest, self._writer(destination_id).max_sync_id(ref))
                except Exception as exc:  # noqa: BLE001 - an unreachable destination fails later
                    logger.debug("cannot read sync ids of %s: %s", ref.name, exc)
            with self._lock:
                self._next_job_id = max(self._next_job_id, highest + 1)
            self._job_ids_seeded = True

    def _new_job(self, connection_id: str, job_type: str) -> Job:
        if job_type == "refresh":
            raise Unprocessable("Refreshes are not supported in the public API")
        if job_type not in CONFIG_TYPES:
            raise BadRequest(f"Invalid jobType: {job_type!r}")
        self._seed_job_ids()
        with self._lock:
            cs = self._conn(connection_id)
            for j in self._jobs.values():
                if j.connection_id == cs.id and j.status in ACTIVE:
                    raise Conflict("try-again-later", f"A sync is already running for: {cs.id}")
            if cs.status != "active":
                raise Conflict("state-conflict", "Could not fulfill request")
            now = time.time()
            job = Job(
                id=self._next_job_id,
                connection_id=cs.id,
                job_type=job_type,
                status="pending",
                created_at=now,
                updated_at=now,
                enabled_streams=[s["name"] for s in self._configured_streams(cs)],
            )
            self._next_job_id += 1
            self._jobs[job.id] = job
            self._waiting.add(job.id)
            self._mark_dirty()
            self._wake.set()
        self._flush_new_job()
        return job

    def create_job(self, connection_id: str, job_type: str) -> dict[str, Any]:
        with self._lock:
            queued = self._queued_before_first_attempt(connection_id, job_type)
            if queued is not None:
                return job_response(queued)
        job = self._new_job(connection_id, job_type)
        with self._lock:
            cs = self._connections.get(job.connection_id)
            if cs is not None and self._take_create_timeout(cs):
                raise CreateTimedOut()
            return job_response(job)

    def _queued_before_first_attempt(self, connection_id: str, job_type: str) -> Job | None:
        """With ``settings.queued_dedupe``: the connection's job still queued before its
        first attempt, which a second POST answers with (Airbyte since mid-2026)."""
        if not self.settings.queued_dedupe or job_type != "sync":
            return None
        cs = self._conn(connection_id)
        for j in self._jobs.values():
            if (
                j.connection_id == cs.id
                and j.job_type == "sync"
                and j.status in ("pending", "queued")
                and not j.attempts
            ):
                return j
        return None

    def _take_create_timeout(self, cs: ConnState) -> bool:
        """Use up one of the connection's ``create_timeouts`` faults (caller holds the lock)."""
        faults = self._job_faults(cs)
        if faults.create_timeouts <= 0:
            return False
        faults.create_timeouts -= 1
        return True

    def _flush_new_job(self) -> None:
        """A client holds the id as soon as it is returned: persist it before answering."""
        if self.state_path is not None:
            with contextlib.suppress(OSError):
                self.flush()

    def get_job(self, job_id: int) -> dict[str, Any]:
        with self._lock:
            return job_response(self._known_job(job_id))

    def _known_job(self, job_id: int) -> Job:
        """A job by id for the public API; an unknown id is a 404, or with
        ``settings.unknown_job_status: 409`` the 409 "Job is not currently running"."""
        try:
            return self._job(job_id)
        except NotFound:
            if self.settings.unknown_job_status == 409:
                raise Conflict("state-conflict", "Job is not currently running") from None
            raise

    def _cancel(self, job_id: int) -> Job:
        with self._lock:
            job = self._known_job(job_id)
            if job.terminal:
                raise Conflict("state-conflict", "Job is not currently running")
            job.cancel_requested = True
            cs = self._connections.get(job.connection_id)
            if cs is not None and self._job_faults(cs).ignore_cancel:
                return job  # the platform accepted the request; the job never notices
            now = time.time()
            if job.attempts and job.attempts[-1].status == "running":
                att = job.attempts[-1]
                att.status = "failed"
                att.ended_at = att.updated_at = now
                att.failure = _failure(
                    "airbyte_platform",
                    "manual_cancellation",
                    "The sync was cancelled.",
                    retryable=False,
                )
                att.logs.append("cancelled by user")
            self._finish(job, "cancelled", now)
            self._wake.set()
            return job

    def cancel_job(self, job_id: int) -> dict[str, Any]:
        job = self._cancel(job_id)
        with self._lock:
            return job_response(job)

    def list_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        """Matching jobs as JobResponse dicts (see ``job_responses`` for the filters)."""
        return list(self.job_responses(**filters))

    def job_responses(
        self,
        *,
        connection_id: str | None = None,
        job_type: str | None = None,
        status: str | None = None,
        created_at_start: datetime | None = None,
        created_at_end: datetime | None = None,
        updated_at_start: datetime | None = None,
        updated_at_end: datetime | None = None,
        workspace_ids: list[str] | None = None,
        order_by: str = "createdAt",
        descending: bool = False,
    ) -> Sequence[dict[str, Any]]:
        """Matching jobs as JobResponse dicts, serialized lazily: slicing one page of a
        long history costs that page, not every job the connection ever ran."""
        if order_by not in ("createdAt", "updatedAt"):
            raise BadRequest(f"Invalid order by clause provided: {order_by}")
        bounds = [
            _epoch(d) for d in (created_at_start, created_at_end, updated_at_start, updated_at_end)
        ]
        with self._lock:
            wanted_ws = set(workspace_ids or []) if connection_id is None else set()
            jobs = []
            for job in self._jobs.values():
                if connection_id is not None and job.connection_id != str(connection_id):
                    continue
                if job_type is not None and job.job_type != job_type:
                    continue
                if status is not None and job.status != status:
                    continue
                if wanted_ws:
                    cs = self._connections.get(job.connection_id)
                    if cs is None or cs.workspace_id not in wanted_ws:
                        continue
                c, u = int(job.created_at), int(job.updated_at)
                if bounds[0] is not None and c < bounds[0]:
                    continue
                if bounds[1] is not None and c > bounds[1]:
                    continue
                if bounds[2] is not None and u < bounds[2]:
                    continue
                if bounds[3] is not None and u > bounds[3]:
                    continue
                jobs.append(job)
            if order_by == "createdAt":
                jobs.sort(key=lambda j: (j.created_at, j.id), reverse=descending)
            else:
                jobs.sort(key=lambda j: (int(j.updated_at), j.id), reverse=descending)
            return _LazyJobResponses(jobs)

    # ------------------------------------------------------------------ config API
    def _airbyte_stream(self, src: Source, schema: StreamSchema) -> dict[str, Any]:
        modes = ["full_refresh", "incremental"] if schema.supports_incremental else ["full_refresh"]
        out: dict[str, Any] = {
            "name": schema.name,
            "jsonSchema": schema.json_schema(),
            "supportedSyncModes": modes,
            "sourceDefinedCursor": schema.source_defined_cursor,
            "defaultCursorField": list(schema.default_cursor),
            "sourceDefinedPrimaryKey": [list(p) for p in schema.primary_key],
            "isResumable": True,
            "isFileBased": False,
        }
        if src.namespace:
            out["namespace"] = src.namespace
        return out

    def config_connection(self, connection_id: str) -> dict[str, Any]:
        with self._lock:
            cs = self._conn(connection_id)
            configured = {s["name"]: s for s in self._configured_streams(cs)}
            catalog = []
            src = self._sources[cs.source]
            for schema in self._stored_catalog(cs):
                s = configured.get(schema.name)
                mode = s["sync_mode"] if s else "full_refresh_overwrite"
                sync_mode, dest_mode = _MODE_PAIRS[mode]
                catalog.append(
                    {
                        "stream": self._airbyte_stream(src, schema),
                        "config": {
                            "syncMode": sync_mode,
                            "destinationSyncMode": dest_mode,
                            "cursorField": list(s["cursor_field"])
                            if s
                            else list(schema.default_cursor),
                            "primaryKey": [list(p) for p in s["primary_key"]]
                            if s
                            else [list(p) for p in schema.primary_key],
                            "aliasName": schema.name,
                            "selected": s is not None,
                            "suggested": True,
                            "fieldSelectionEnabled": False,
                        },
                    }
                )
            out: dict[str, Any] = {
                "connectionId": cs.id,
                "name": cs.name,
                "namespaceDefinition": (
                    "customformat"
                    if cs.namespace_definition == "custom_format"
                    else cs.namespace_definition
                ),
                "prefix": cs.prefix,
                "sourceId": cs.source,
                "destinationId": cs.destination,
                "operationIds": [],
                "syncCatalog": {"streams": catalog},
                "scheduleType": cs.schedule_type,
                "status": cs.status,
                "breakingChange": False,
                "notifySchemaChanges": False,
                "notifySchemaChangesByEmail": False,
                "nonBreakingChangesPreference": (
                    "disable" if cs.non_breaking == "disable_connection" else cs.non_breaking
                ),
                "created_at": cs.created_at,
                "backfillPreference": "disabled",
                "workspaceId": cs.workspace_id,
                "tags": list(cs.tags),
            }
            if cs.namespace_format:
                out["namespaceFormat"] = cs.namespace_format
            if cs.schedule_type == "cron" and cs.cron_expression:
                out["scheduleData"] = {
                    "cron": {"cronExpression": cs.cron_expression, "cronTimeZone": "UTC"}
                }
            elif cs.schedule_type == "basic":
                units, _, unit = (
                    (cs.basic_timing or "Every 24 HOURS").removeprefix("Every ").partition(" ")
                )
                out["scheduleData"] = {
                    "basicSchedule": {"timeUnit": unit.lower(), "units": int(units or 24)}
                }
                out["schedule"] = {"timeUnit": unit.lower(), "units": int(units or 24)}
            return out

    def config_sync(self, connection_id: str) -> dict[str, Any]:
        job = self._new_job(connection_id, "sync")
        with self._lock:
            return job_info(job)

    def job_info(self, job_id: int) -> dict[str, Any]:
        with self._lock:
            return job_info(self._job(job_id))

    def job_debug_info(self, job_id: int) -> dict[str, Any]:
        with self._lock:
            job = self._job(job_id)
            cs = self._connections.get(job.connection_id)
            src = self._sources.get(cs.source) if cs else None
            dst = self._destinations.get(cs.destination) if cs else None
            sdef = _source_def(src)
            ddef = _DEST_DEFS[dst.type if dst else "duckdb"]
            return {
                "job": {
                    "id": job.id,
                    "configType": job.config_type,
                    "configId": job.connection_id,
                    "status": job.status,
                    "airbyteVersion": self.settings.airbyte_version,
                    "sourceDefinition": {
                        "sourceDefinitionId": sdef[1],
                        "name": sdef[0].title(),
                        "dockerRepository": sdef[2],
                        "dockerImageTag": sdef[3],
                    },
                    "destinationDefinition": {
                        "destinationDefinitionId": ddef[1],
                        "name": ddef[0].title(),
                        "dockerRepository": ddef[2],
                        "dockerImageTag": ddef[3],
                        "documentationUrl": f"https://docs.airbyte.com/integrations/"
                        f"destinations/{ddef[0]}",
                    },
                },
                "attempts": [attempt_info(a) for a in job.attempts],
                "workflowState": {"running": job.status in ACTIVE},
            }

    def list_job_infos(
        self,
        *,
        config_id: str | None,
        config_types: list[str],
        statuses: list[str] | None = None,
        page_size: int = 200,
        row_offset: int = 0,
        order_desc: bool = True,
    ) -> dict[str, Any]:
        with self._lock:
            jobs = [
                j
                for j in self._jobs.values()
                if (config_id is None or j.connection_id == str(config_id))
                and j.config_type in set(config_types)
                and (not statuses or j.status in set(statuses))
            ]
            jobs.sort(key=lambda j: (j.created_at, j.id), reverse=order_desc)
            page = jobs[row_offset : row_offset + page_size]
            return {
                "jobs": [
                    {"job": job_read(j), "attempts": [attempt_read(a) for a in j.attempts]}
                    for j in page
                ],
                "totalJobCount": len(jobs),
            }

    def cancel_job_info(self, job_id: int) -> dict[str, Any]:
        job = self._cancel(job_id)
        with self._lock:
            return job_info(job)

    def _sync_job_read(
        self, config_type: str, config_id: str, started: float, error: str | None
    ) -> dict[str, Any]:
        ended = time.time()
        out: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "configType": config_type,
            "configId": config_id,
            "createdAt": int(started),
            "endedAt": int(ended),
            "succeeded": True,
            "connectorConfigurationUpdated": False,
            "logType": "formatted",
            "logs": {"logLines": [f"{config_type}: {'failed: ' + error if error else 'ok'}"]},
        }
        return out

    def _check_source_error(self, src: Source) -> str | None:
        if src.check_error:
            return src.check_error
        if src.type == "airbyte":
            return self._connectors.check(src)
        if src.type == "file":
            for s in datagen.source_streams(src, self._schema_fault(src)):
                if s.path is None:
                    continue
                try:
                    datagen.read_file_rows(self.world.resolve_path(s.path))
                except SourceReadError as exc:
                    return str(exc)
        return None

    def _discover_error(self, src: Source) -> str | None:
        """Before a discover: a real connector discovers now (the catalog may have changed)."""
        if src.type == "airbyte":
            return src.check_error or self._connectors.refresh(src)
        return self._check_source_error(src)

    def check_source(self, source_id: str) -> dict[str, Any]:
        started = time.time()
        with self._lock:
            src = self._source(source_id)
        error = self._check_source_error(src)
        return self._check_read("check_connection_source", str(source_id), started, error)

    def _check_read(
        self, config_type: str, config_id: str, started: float, error: str | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": "failed" if error else "succeeded",
            "jobInfo": self._sync_job_read(config_type, config_id, started, error),
        }
        if error:
            out["message"] = error
        return out

    def check_destination(self, destination_id: str) -> dict[str, Any]:
        started = time.time()
        with self._lock:
            self._destination(destination_id)
        error = None
        try:
            self._writer(str(destination_id)).check()
        except DestinationWriteError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a driver failing to connect is a failed check
            error = f"{type(exc).__name__}: {exc}"
        return self._check_read("check_connection_destination", str(destination_id), started, error)

    def discover_schema(self, source_id: str) -> dict[str, Any]:
        started = time.time()
        with self._lock:
            src = self._source(source_id)
        error = self._discover_error(src)
        job = self._sync_job_read("discover_schema", str(source_id), started, error)
        if error:
            job["succeeded"] = False
            job["failureReason"] = _failure("source", "config_error", error)
            return {"jobInfo": job}
        with self._lock:
            streams = []
            current = self._catalog(src)
            self._discovers[src.name] = self._discovers.get(src.name, 0) + 1
            for schema in current:
                incr = schema.supports_incremental and bool(schema.default_cursor)
                streams.append(
                    {
                        "stream": self._airbyte_stream(src, schema),
                        "config": {
                            "syncMode": "incremental" if incr else "full_refresh",
                            "destinationSyncMode": "append" if incr else "overwrite",
                            "cursorField": list(schema.default_cursor),
                            "primaryKey": [list(p) for p in schema.primary_key],
                            "aliasName": schema.name,
                            "selected": True,
                            "suggested": True,
                            "fieldSelectionEnabled": False,
                        },
                    }
                )
        return {
            "catalog": {"streams": streams},
            "jobInfo": job,
            "catalogId": str(uuid.uuid4()),
            "breakingChange": False,
        }

    # ------------------------------------------------------------------ applications
    @property
    def token_ttl_seconds(self) -> int:
        return self._token_ttl

    @token_ttl_seconds.setter
    def token_ttl_seconds(self, value: int) -> None:
        with self._lock:
            self._token_ttl = int(value)
            self._mark_dirty()

    @staticmethod
    def _app_dict(a: _AppState) -> dict[str, Any]:
        return {
            "id": a.id,
            "name": a.name,
            "clientId": a.client_id,
            "clientSecret": a.client_secret,
            "createdAt": a.created_at,
        }

    def verify_client(self, client_id: str, client_secret: str) -> bool:
        with self._lock:
            apps = list(self._apps.values())
        ok = False
        for a in apps:
            same_id = hmac.compare_digest(a.client_id.encode(), str(client_id).encode())
            same_secret = hmac.compare_digest(a.client_secret.encode(), str(client_secret).encode())
            ok = ok or (same_id and same_secret)
        return ok

    def list_applications(self) -> list[dict[str, Any]]:
        with self._lock:
            apps = sorted(self._apps.values(), key=lambda a: (a.created_at, a.id))
            return [self._app_dict(a) for a in apps]

    def create_application(self, name: str) -> dict[str, Any]:
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("name is required")
        with self._lock:
            app = _AppState(
                id=str(uuid.uuid4()),
                name=name,
                client_id=str(uuid.uuid4()),
                client_secret=secrets.token_urlsafe(32),
                created_at=int(time.time()),
            )
            self._apps[app.id] = app
            self._mark_dirty()
            return self._app_dict(app)

    def get_application(self, application_id: str) -> dict[str, Any]:
        with self._lock:
            app = self._apps.get(str(application_id))
            if app is None:
                raise NotFound("application", str(application_id))
            return self._app_dict(app)

    def delete_application(self, application_id: str) -> dict[str, Any]:
        with self._lock:
            app = self._apps.pop(str(application_id), None)
            if app is None:
                raise NotFound("application", str(application_id))
            self._deleted_apps.add(app.id)
            self._mark_dirty()
            return self._app_dict(app)

    # ------------------------------------------------------------------ admin
    def terminal_times(self) -> dict[int, float]:
        with self._lock:
            return {j.id: j.terminal_at for j in self._jobs.values() if j.terminal_at is not None}

    def set_engine_faults(self, faults: dict[str, Any]) -> None:
        """Replace the ``jobs`` and/or ``schema`` sections given; an ``http`` key is ignored."""
        if not isinstance(faults, dict):
            raise BadRequest("faults must be an object")
        data = {k: v for k, v in faults.items() if k != "http"}
        try:
            parsed = EngineFaults.model_validate(data)
        except ValidationError as exc:
            raise BadRequest(
                "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            ) from None
        with self._lock:
            if "jobs" in data:
                self._faults.jobs = parsed.jobs
            if "schema" in data:
                unknown = [n for n in parsed.schema_ if n not in self._sources_by_name]
                if unknown:
                    raise BadRequest(f"schema: unknown source(s) {unknown}")
                self._faults.schema_ = parsed.schema_

    def faults_snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self._faults.model_dump(mode="json", by_alias=True)

    def _table_ref(self, cs: ConnState, stream: str) -> TableRef:
        """Where a stream lands: ``<prefix><stream>``, in a schema only on PostgreSQL."""
        dst = self._destinations[cs.destination]
        schema = None
        if dst.type == "postgres":
            src_ns = self._sources[cs.source].namespace
            if cs.namespace_definition == "custom_format" and cs.namespace_format:
                schema = cs.namespace_format.replace("${SOURCE_NAMESPACE}", src_ns or "public")
            elif cs.namespace_definition == "source":
                schema = src_ns
        return TableRef(name=f"{cs.prefix}{stream}", schema=schema)

    def destination_counts(self, connection_id: str) -> dict[str, int]:
        with self._lock:
            cs = self._conn(connection_id)
            refs = {s["name"]: self._table_ref(cs, s["name"]) for s in self._configured_streams(cs)}
        writer = self._writer(cs.destination)
        return {name: writer.count(ref) for name, ref in refs.items()}

    def destination_rows(
        self, connection_id: str, stream: str, order_by: str | None = None
    ) -> list[dict[str, Any]]:
        """Every row of a stream's destination table as dicts (tests, debugging)."""
        with self._lock:
            cs = self._conn(connection_id)
            ref = self._table_ref(cs, stream)
        writer = self._writer(cs.destination)
        cols = writer.columns(ref)
        if cols is None:
            return []
        tail = f"ORDER BY {order_by}" if order_by else ""
        return [dict(zip(cols, r, strict=False)) for r in writer.select(ref, tail)]

    # ------------------------------------------------------------------ job runner
    def _finish(self, job: Job, status: str, now: float) -> None:
        """Move a job to a terminal status (caller holds the lock)."""
        job.status = status
        job.updated_at = now
        job.terminal_at = time.time()
        self._mark_dirty(urgent=True)

    def _wait(self, seconds: float, job_id: int, honour_cancel: bool = True) -> None:
        """Sleep, waking early to stop or to notice a cancel."""
        deadline = time.monotonic() + seconds
        while True:
            if self._stop.is_set():
                raise _Stopped
            if honour_cancel:
                with self._lock:
                    if self._jobs[job_id].status == "cancelled":
                        raise _Cancelled
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._stop.wait(min(left, 0.02))

    def _run_job(self, job_id: int) -> None:
        try:
            self._run_job_inner(job_id)
        except _Stopped:
            return
        except Exception as exc:  # noqa: BLE001 - a bug must fail the job, not kill silently
            with self._lock:
                job = self._jobs[job_id]
                if not job.terminal:
                    if job.attempts and job.attempts[-1].status == "running":
                        att = job.attempts[-1]
                        att.status = "failed"
                        att.ended_at = att.updated_at = time.time()
                        att.failure = _failure(
                            "airbyte_platform", "system_error", f"Sandbox engine error: {exc}"
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
            if job.job_type in ("reset", "clear") or _WRITE_KIND[mode].startswith("overwrite"):
                # Clears and truncating syncs start a new generation (Airbyte's refreshes).
                st["generation"] = int(st["generation"]) + 1
            plan.generation = int(st["generation"])
            if job.job_type == "sync":
                plan.cursor_start = st["cursor"] if incremental else None
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
            with self._lock:
                job = self._jobs[job_id]
                if job.terminal:
                    return
                cs = self._connections.get(job.connection_id)
                now = time.time()
                if cs is None:
                    self._finish(job, "failed", now)
                    return
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
            try:
                self._run_attempt(job, attempt, cs, faults)
            except _Cancelled:
                self._cleanup_staging(job, cs)
                return
            except _AttemptFailed as exc:
                with self._lock:
                    now = time.time()
                    if job.status == "cancelled":
                        return
                    attempt.status = "failed"
                    attempt.ended_at = attempt.updated_at = now
                    attempt.failure = exc.failure
                    attempt.logs.append(f"attempt failed: {exc.failure['externalMessage']}")
                    job.updated_at = now
                    last = len(job.attempts) >= self.settings.max_attempts
                    if last:
                        self._finish(job, "failed", now)
                    else:
                        job.status = "incomplete"
                        self._mark_dirty()
                if last:
                    self._cleanup_staging(job, cs)
                    return
                try:
                    self._wait(self.settings.attempt_backoff_seconds, job_id)
                except _Cancelled:
                    self._cleanup_staging(job, cs)
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

    def _run_attempt(self, job: Job, attempt: Attempt, cs: ConnState, faults: JobFaults) -> None:
        try:
            with self._writer(cs.destination).session():
                if job.job_type == "sync" and self._sources[cs.source].type == "airbyte":
                    from luigi_airbyte.sandbox.connectors.sync import connector_sync_attempt

                    connector_sync_attempt(self, job, attempt, cs)
                elif job.job_type == "sync":
                    self._sync_attempt(job, attempt, cs, faults)
                else:
                    self._clear_attempt(job, attempt, cs)
        except DestinationWriteError as exc:  # e.g. the database file cannot be opened
            raise _AttemptFailed(_failure("destination", "system_error", str(exc))) from None

    def _pace(self, cs: ConnState) -> tuple[float | None, float | None]:
        duration = cs.job_duration_seconds
        if duration is None:
            duration = self.settings.job_duration_seconds
        rps = cs.records_per_second or self.settings.records_per_second
        return duration, rps

    def _clear_attempt(self, job: Job, attempt: Attempt, cs: ConnState) -> None:
        writer = self._writer(cs.destination)
        for p in job.streams:
            self._check_cancel(job)
            try:
                writer.truncate(TableRef(p.table, p.schema))
            except DestinationWriteError as exc:
                raise _AttemptFailed(_failure("destination", "system_error", str(exc))) from None
            with self._lock:
                st = self._stream_state.setdefault(cs.id, {}).setdefault(
                    p.name, {"cursor": None, "generation": p.generation}
                )
                st["cursor"] = None
                self._mark_dirty()
        duration, _ = self._pace(cs)
        self._wait(min(duration or 0.0, 1.0) if duration else 0.0, job.id)

    def _check_cancel(self, job: Job, honour: bool = True) -> None:
        if self._stop.is_set():
            raise _Stopped
        if honour:
            with self._lock:
                if job.status == "cancelled":
                    raise _Cancelled

    def _cleanup_staging(self, job: Job, cs: ConnState | None) -> None:
        if cs is None or job.job_type != "sync":
            return
        writer = self._writer(cs.destination)
        for p in job.streams:
            if _WRITE_KIND[p.sync_mode].startswith("overwrite"):
                with contextlib.suppress(DestinationWriteError):
                    writer.drop(TableRef(self._staging_name(job, p), p.schema))

    @staticmethod
    def _staging_name(job: Job, p: StreamPlan) -> str:
        return f"_airbyte_tmp_{job.id}_{p.table}"

    def _sync_attempt(self, job: Job, attempt: Attempt, cs: ConnState, faults: JobFaults) -> None:
        src = self._sources[cs.source]
        writer = self._writer(cs.destination)
        honour_cancel = not faults.ignore_cancel
        fail_this = attempt.number < faults.fail_attempts
        lose_checkpoints = fail_this and faults.duplicate_on_retry

        # Read: the same epoch and cursor every attempt, so a retry re-reads the same records.
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
                raise _AttemptFailed(_failure("source", "config_error", str(exc))) from None
            if faults.zero_records:
                records = []
            work.append((p, schema, records))
        # every stream's whole read; a retry resumes incremental streams at their checkpoint
        work = self._restart_full_refresh(job, work, writer, retry=attempt.number > 0)

        total = sum(len(r) for _, _, r in work)
        duration, rps = self._pace(cs)
        chunk = self.settings.chunk_size
        if duration or rps:
            chunk = min(chunk, max(1, math.ceil(total / 20)))
        n_chunks = max(1, sum(math.ceil(len(r) / chunk) for _, _, r in work))
        per_chunk = (duration or 0.0) / n_chunks
        budget = math.floor(total * faults.fail_after) if fail_this else None

        if faults.never_finish:
            while True:
                self._wait(0.05, job.id, honour_cancel)

        processed = 0
        for p, schema, records in work:
            kind = _WRITE_KIND[p.sync_mode]
            final = TableRef(p.table, p.schema)
            target = (
                TableRef(self._staging_name(job, p), p.schema)
                if kind.startswith("overwrite")
                else final
            )
            dedup = (
                Dedup(tuple(p.primary_key), p.cursor_field or self._cursor_of(schema))
                if (kind in ("dedup", "overwrite_dedup") and p.primary_key)
                else None
            )
            names = schema.column_names
            try:
                writer.ensure_table(target, schema.columns)
            except DestinationWriteError as exc:
                raise _AttemptFailed(_failure("destination", "system_error", str(exc))) from None
            counters = attempt.streams[p.name]
            for start in range(0, max(len(records), 1), chunk):
                batch = records[start : start + chunk]
                if budget is not None and processed + len(batch) > budget:
                    batch = batch[: budget - processed]
                self._check_cancel(job, honour_cancel)
                if batch:
                    self._write_batch(
                        job,
                        attempt,
                        p,
                        counters,
                        writer,
                        target,
                        names,
                        batch,
                        dedup if kind == "dedup" else None,
                        faults,
                        lose_checkpoints,
                        cs,
                    )
                    processed += len(batch)
                if budget is not None and processed >= budget:
                    self._wait(per_chunk, job.id, honour_cancel)
                    # The batch in flight when the attempt dies was emitted, never committed.
                    in_flight = records[start + len(batch) : start + len(batch) + chunk]
                    with self._lock:
                        counters.emitted += len(in_flight)
                        counters.bytes_emitted += sum(datagen.record_bytes(r) for r in in_flight)
                    raise _AttemptFailed(_fault_failure(faults, attempt))
                if rps and batch:
                    self._wait(max(per_chunk, len(batch) / rps), job.id, honour_cancel)
                else:
                    self._wait(per_chunk, job.id, honour_cancel)
                if not records:
                    break
        if budget is not None:  # nothing to read at all, the attempt still fails
            raise _AttemptFailed(_fault_failure(faults, attempt))
        if not work:
            self._wait(duration or 0.0, job.id, honour_cancel)
        # Success: overwrite modes swap their staging tables in now, as a truncate refresh does.
        for p, schema, _ in work:
            kind = _WRITE_KIND[p.sync_mode]
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
                    raise _AttemptFailed(
                        _failure("destination", "system_error", str(exc))
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
                if _WRITE_KIND[p.sync_mode].startswith("overwrite"):
                    writer.truncate(TableRef(self._staging_name(job, p), p.schema))
                else:
                    writer.delete_sync(TableRef(p.table, p.schema), job.id)
            except DestinationWriteError as exc:
                raise _AttemptFailed(_failure("destination", "system_error", str(exc))) from None
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
        extracted = datetime.now(timezone.utc).replace(tzinfo=None)
        meta = json.dumps({"sync_id": job.id, "changes": []})
        rows = [
            [r.get(n) for n in names] + [str(uuid.uuid4()), extracted, meta, p.generation]
            for r in keep
        ]
        cols = [
            *names,
            "_airbyte_raw_id",
            "_airbyte_extracted_at",
            "_airbyte_meta",
            "_airbyte_generation_id",
        ]
        try:
            writer.insert(target, cols, rows, dedup)
        except DestinationWriteError as exc:
            raise _AttemptFailed(_failure("destination", "system_error", str(exc))) from None
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


__all__ = ["MASK", "PUBLIC_TYPES", "TERMINAL", "ConnState", "Engine"]


class _LazyJobResponses(Sequence[dict[str, Any]]):
    """Jobs rendered to JobResponse only when read (``page_response`` slices one page)."""

    def __init__(self, jobs: list[Any]) -> None:
        self._jobs = jobs

    def __len__(self) -> int:
        return len(self._jobs)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [job_response(j) for j in self._jobs[index]]
        return job_response(self._jobs[index])
