"""The sandbox engine's state and its persistence: what a fake Airbyte instance holds.

``EngineState`` holds the world's resources as they are now (connections with their
PATCHes, applications), the jobs with their indexes, per-stream cursors and generations,
and the state file (load, snapshot, atomic flush). It also answers lookups (404s) and
reads catalogs. The job runner (``runner.py``) and the API-shaped views (``views.py``)
build on it; ``engine.py`` puts the three together.

All state sits behind one RLock; database writes and sleeps happen outside it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import luigi_airbyte.sandbox.datagen as datagen
from luigi_airbyte.sandbox.connectors.hub import ConnectorHub
from luigi_airbyte.sandbox.datagen import StreamSchema
from luigi_airbyte.sandbox.destinations import (
    TableRef,
    Writer,
    make_writer,
)
from luigi_airbyte.sandbox.errors import (
    Conflict,
    NotFound,
    SandboxError,
)
from luigi_airbyte.sandbox.jobstate import (
    ACTIVE,
    Job,
    failure_reason,
)
from luigi_airbyte.sandbox.world import (
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

BASE_CREATED_AT = 1_704_067_200  # 2024-01-01T00:00:00Z: world resources get fixed createdAt
STATE_VERSION = 1

WRITE_KIND = {
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
class AppState:
    id: str
    name: str
    client_id: str
    client_secret: str
    created_at: int
    from_world: bool = False


class EngineState:
    """The state of one fake Airbyte instance over a validated World, and its state file."""

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
        # Airbyte's HydrateAggregatedStats flag (on by default): job listings of the config
        # API carry each job's aggregatedStats and streamAggregatedStats only while it is on
        self.hydrate_aggregated_stats = True
        self._discovers: dict[str, int] = {}  # source name -> discover calls (schema faults)

        self._faults = EngineFaults.model_validate(
            {"jobs": dict(world.faults.jobs), "schema": dict(world.faults.schema_)}
        )
        self._writers: dict[str, Writer] = {}
        self._index_world(world)
        self._init_jobs()
        if self.state_path is not None and self.state_path.exists():
            self._load_state()
        # real connectors (type: airbyte): env built, spec checked, before any catalog is read
        self._connectors = ConnectorHub(world)
        # connection id -> the catalog it was configured with (config API syncCatalog); a
        # source's catalog is read once here, not once per connection
        by_source: dict[str, list[StreamSchema]] = {}
        self._stored: dict[str, list[StreamSchema]] = {}
        for cid, cs in self._connections.items():
            if cs.source not in by_source:
                by_source[cs.source] = self._catalog(self._sources[cs.source])
            self._stored[cid] = by_source[cs.source]

    def _index_world(self, world: World) -> None:
        """The world's resources by id (and name), connections and applications as state."""
        self._workspaces = {world.workspace_id(w): w for w in world.workspaces}
        self._sources: dict[str, Source] = {world.source_id(s): s for s in world.sources}
        self._sources_by_name = {s.name: s for s in world.sources}
        self._destinations: dict[str, Destination] = {
            world.destination_id(d): d for d in world.destinations
        }
        self._dest_by_name = {d.name: d for d in world.destinations}
        self._source_index = {world.source_id(s): i for i, s in enumerate(world.sources)}
        self._dest_index = {world.destination_id(d): i for i, d in enumerate(world.destinations)}
        self._connections: dict[str, ConnState] = {}
        self._patched: set[str] = set()  # connections changed by PATCH (persisted whole)
        for i, c in enumerate(world.connections):
            cs = self._conn_from_world(c, i)
            self._connections[cs.id] = cs
        # connection ids in listing order (createdAt, id); createdAt never changes
        self._conn_order = sorted(
            self._connections, key=lambda cid: (self._connections[cid].created_at, cid)
        )
        # (workspace ids, include deleted, tag ids) -> matching ids; cleared by a PATCH
        self._listing_cache: dict[tuple[frozenset[str], bool, frozenset[str]], list[str]] = {}
        self._apps: dict[str, AppState] = {}
        for i, a in enumerate(world.applications):
            app = self._app_from_world(a, i)
            self._apps[app.id] = app

    def _init_jobs(self) -> None:
        self._jobs: dict[int, Job] = {}
        # connection id -> its job ids, oldest first: listing or checking one connection's
        # jobs costs that connection's history, not every job
        self._jobs_by_conn: dict[str, list[int]] = {}
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

    def _add_job(self, job: Job) -> None:
        """Store a job and index it by connection (caller holds the lock)."""
        self._jobs[job.id] = job
        self._jobs_by_conn.setdefault(job.connection_id, []).append(job.id)

    def _connection_jobs(self, connection_id: str) -> list[Job]:
        """The jobs of one connection, oldest first (caller holds the lock)."""
        return [self._jobs[j] for j in self._jobs_by_conn.get(connection_id, ())]

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
            created_at=BASE_CREATED_AT + index,
            job_duration_seconds=c.job_duration_seconds,
            records_per_second=c.records_per_second,
        )

    def _app_from_world(self, a: Application, index: int) -> AppState:
        return AppState(
            id=self.world.application_id(a),
            name=a.name,
            client_id=a.client_id,
            client_secret=a.client_secret,
            created_at=BASE_CREATED_AT + index,
            from_world=True,
        )

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
                self._apps[a["id"]] = AppState(**a)
        for cid, override in data.get("connections", {}).items():
            if cid in self._connections:
                self._connections[cid] = ConnState(**override)
                self._patched.add(cid)
        if "token_ttl_seconds" in data:
            self._token_ttl = int(data["token_ttl_seconds"])
        for jd in data.get("jobs", []):
            job = Job.from_dict(jd)
            self._add_job(job)
            if job.status in ACTIVE:
                self._waiting.add(job.id)
            if job.status in ACTIVE and job.attempts and job.attempts[-1].status == "running":
                # The process died under this attempt: like a lost worker, the attempt fails
                # and the job carries on with the next one.
                job.attempts[-1].fail(
                    now,
                    failure_reason(
                        "airbyte_platform",
                        "heartbeat_timeout",
                        "The sandbox restarted while this attempt was running.",
                    ),
                    "attempt interrupted by a sandbox restart",
                )
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

    def _conn(self, connection_id: str) -> ConnState:
        return _found(self._connections, str(connection_id), "connection")

    def _source(self, source_id: str) -> Source:
        return _found(self._sources, str(source_id), "source")

    def _destination(self, destination_id: str) -> Destination:
        return _found(self._destinations, str(destination_id), "destination")

    def _job(self, job_id: int) -> Job:
        return _found(self._jobs, int(job_id), "job")

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

    def _source_workspace(self, src: Source) -> str:
        return self.world.workspace_id(self.world.workspace_of(src.workspace))

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

    def _flush_new_job(self) -> None:
        """A client holds the id as soon as it is returned: persist it before answering."""
        if self.state_path is not None:
            with contextlib.suppress(OSError):
                self.flush()

    def _known_job(self, job_id: int) -> Job:
        """A job by id for the public API; an unknown id is a 404, or with
        ``settings.unknown_job_status: 409`` the 409 "Job is not currently running"."""
        try:
            return self._job(job_id)
        except NotFound:
            if self.settings.unknown_job_status == 409:
                raise Conflict("state-conflict", "Job is not currently running") from None
            raise

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

    def _finish(self, job: Job, status: str, now: float) -> None:
        """Move a job to a terminal status (caller holds the lock)."""
        job.status = status
        job.updated_at = now
        job.terminal_at = time.time()
        self._mark_dirty(urgent=True)

    @property
    def token_ttl_seconds(self) -> int:
        return self._token_ttl

    @token_ttl_seconds.setter
    def token_ttl_seconds(self, value: int) -> None:
        with self._lock:
            self._token_ttl = int(value)
            self._mark_dirty()


_K = TypeVar("_K")
_V = TypeVar("_V")


def _found(items: Mapping[_K, _V], key: _K, kind: str) -> _V:
    """``items[key]``, or the 404 Airbyte answers for a ``kind`` it does not know."""
    found = items.get(key)
    if found is None:
        raise NotFound(kind, str(key))
    return found
