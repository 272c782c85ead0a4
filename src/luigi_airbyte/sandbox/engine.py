"""The sandbox engine: the state of a fake Airbyte instance, and the runner that moves data.

The HTTP layer turns requests into calls here and the returned dicts into JSON; everything
here already has Airbyte's wire shape (camelCase, epoch seconds where the config API uses
them, ISO strings where the public API does).

The engine is three parts: ``state.py`` (state and persistence), ``runner.py`` (the job
runner) and ``views.py`` (the API-shaped views). ``Engine`` is the public face the HTTP
modules call: each method takes the lock, changes state through the first part and renders
through the third.
"""

from __future__ import annotations

import copy
import functools
import hmac
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, Concatenate, ParamSpec, TypeVar

from pydantic import ValidationError

import luigi_airbyte.sandbox.datagen as datagen
from luigi_airbyte.sandbox.datagen import SourceReadError
from luigi_airbyte.sandbox.destinations import (
    DestinationWriteError,
    writer_url,
)
from luigi_airbyte.sandbox.errors import (
    BadRequest,
    Conflict,
    CreateTimedOut,
    NotFound,
)
from luigi_airbyte.sandbox.jobstate import (
    PUBLIC_TYPES,
    TERMINAL,
    Job,
    failure_reason,
    job_info,
    job_read,
    job_response,
    list_job_read,
)
from luigi_airbyte.sandbox.notifications import WorkspaceNotifications
from luigi_airbyte.sandbox.patch_rules import check_patch_values, selected_fields_of
from luigi_airbyte.sandbox.runner import JobRunner
from luigi_airbyte.sandbox.state import AppState, ConnState
from luigi_airbyte.sandbox.views import MASK, EngineViews, LazyConnections, LazyJobResponses
from luigi_airbyte.sandbox.world import (
    SYNC_MODES,
    EngineFaults,
    Source,
)

logger = logging.getLogger(__name__)

_Views = TypeVar("_Views", bound=EngineViews)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _epoch(dt: datetime | None) -> float | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def _locked(
    view: Callable[Concatenate[_Views, _P], _R],
) -> Callable[Concatenate[_Views, _P], _R]:
    """A view as an ``Engine`` method that takes the lock (views expect the caller to)."""

    @functools.wraps(view)
    def method(self: _Views, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return view(self, *args, **kwargs)

    return method


class Engine(WorkspaceNotifications, JobRunner, EngineViews):
    """A fake Airbyte instance over a validated World; see the module docstring."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def list_workspaces(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._workspace_dict(w) for w in self._workspaces]

    def get_workspace(self, workspace_id: str) -> dict[str, Any]:
        with self._lock:
            if str(workspace_id) not in self._workspaces:
                raise NotFound("workspace", str(workspace_id))
            return self._workspace_dict(str(workspace_id))

    # Views with nothing to check or change first: rendered under the lock.
    get_source = _locked(EngineViews.source_view)
    get_destination = _locked(EngineViews.destination_view)
    stream_properties = _locked(EngineViews.stream_properties_view)
    config_connection = _locked(EngineViews.config_connection_view)
    job_debug_info = _locked(EngineViews.job_debug_view)

    def destination_url(self, destination_id: str) -> str:
        with self._lock:
            dst = self._destination(destination_id)
            path = self.world.resolve_path(dst.path) if dst.path else None
            return writer_url(dst.type, path=path, url=dst.url)

    def list_connections(
        self,
        workspace_ids: list[str] | None = None,
        include_deleted: bool = False,
        tag_ids: set[str] | None = None,
    ) -> Sequence[dict[str, Any]]:
        """Matching connections in listing order, rendered only when read: a page costs
        the page (the matching ids are cached until a PATCH changes a connection)."""
        key = (frozenset(workspace_ids or ()), include_deleted, frozenset(tag_ids or ()))
        with self._lock:
            ids = self._listing_cache.get(key)
            if ids is None:
                ids = [cid for cid in self._conn_order if self._listed(cid, *key)]
                if len(self._listing_cache) >= 64:
                    self._listing_cache.clear()
                self._listing_cache[key] = ids
            return LazyConnections(self, ids)

    def _listed(
        self, cid: str, wanted: frozenset[str], include_deleted: bool, tags: frozenset[str]
    ) -> bool:
        cs = self._connections[cid]
        if wanted and cs.workspace_id not in wanted:
            return False
        if not include_deleted and cs.status == "deprecated":
            return False
        return not tags or any(t.get("tagId") in tags for t in cs.tags)

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
            self._listing_cache.clear()
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
        for j in self._connection_jobs(cs.id):
            if j.job_type == "sync" and j.status in ("pending", "queued") and not j.attempts:
                return j
        return None

    def _take_create_timeout(self, cs: ConnState) -> bool:
        """Use up one of the connection's ``create_timeouts`` faults (caller holds the lock)."""
        faults = self._job_faults(cs)
        if faults.create_timeouts <= 0:
            return False
        faults.create_timeouts -= 1
        return True

    def get_job(self, job_id: int) -> dict[str, Any]:
        with self._lock:
            return job_response(self._known_job(job_id))

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
                job.attempts[-1].fail(
                    now,
                    failure_reason(
                        "airbyte_platform",
                        "manual_cancellation",
                        "The sync was cancelled.",
                        retryable=False,
                    ),
                    "cancelled by user",
                )
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
        with self._lock:
            jobs = self._matching_jobs(
                connection_id=connection_id,
                workspace_ids=workspace_ids,
                keep=lambda j: (
                    (job_type is None or j.job_type == job_type)
                    and (status is None or j.status == status)
                ),
                bounds=(created_at_start, created_at_end, updated_at_start, updated_at_end),
                order_by=order_by,
                descending=descending,
            )
            return LazyJobResponses(jobs)

    def _matching_jobs(
        self,
        *,
        connection_id: str | None,
        workspace_ids: list[str] | None,
        keep: Callable[[Job], bool],
        bounds: tuple[datetime | None, ...],
        order_by: str,
        descending: bool,
    ) -> list[Job]:
        """Under the lock: the jobs one listing shows, in its order. Whole-second bounds on
        ``createdAt`` and ``updatedAt``, inclusive, as Airbyte compares its timestamps; a
        connection's jobs come from its index, not a scan of every job."""
        lo_c, hi_c, lo_u, hi_u = (_epoch(d) for d in bounds)
        wanted_ws = set(workspace_ids or []) if connection_id is None else set()
        candidates = (
            self._jobs.values() if connection_id is None else self._connection_jobs(connection_id)
        )
        jobs = []
        for job in candidates:
            if not keep(job):
                continue
            if wanted_ws:
                cs = self._connections.get(job.connection_id)
                if cs is None or cs.workspace_id not in wanted_ws:
                    continue
            c, u = int(job.created_at), int(job.updated_at)
            if (lo_c is not None and c < lo_c) or (hi_c is not None and c > hi_c):
                continue
            if (lo_u is not None and u < lo_u) or (hi_u is not None and u > hi_u):
                continue
            jobs.append(job)
        if order_by == "createdAt":
            jobs.sort(key=lambda j: (j.created_at, j.id), reverse=descending)
        else:
            jobs.sort(key=lambda j: (int(j.updated_at), j.id), reverse=descending)
        return jobs

    def config_sync(self, connection_id: str) -> dict[str, Any]:
        job = self._new_job(connection_id, "sync")
        with self._lock:
            return job_info(job)

    def config_refresh(
        self, connection_id: str, refresh_mode: str, streams: list[str]
    ) -> dict[str, Any]:
        """``/v1/connections/refresh``: a refresh job of ``streams`` (all when empty);
        409 while a job of the connection runs, as for a sync. Answers ``JobReadResponse``."""
        job = self._new_job(connection_id, "refresh", streams=streams, refresh_mode=refresh_mode)
        with self._lock:
            cs = self._connections.get(job.connection_id)
            if cs is not None and self._take_create_timeout(cs):
                raise CreateTimedOut()
            return {"job": job_read(job)}

    def job_info(self, job_id: int) -> dict[str, Any]:
        with self._lock:
            return job_info(self._job(job_id))

    def list_job_infos(
        self,
        *,
        config_id: str | None,
        config_types: list[str],
        statuses: list[str] | None = None,
        page_size: int = 200,
        row_offset: int = 0,
        order_desc: bool = True,
        order_by: str | None = None,
        workspace_ids: list[str] | None = None,
        bounds: tuple[datetime | None, ...] = (None, None, None, None),
        whole_count: bool = True,
    ) -> dict[str, Any]:
        """``/v1/jobs/list`` and ``/v1/jobs/list_for_workspaces``: JobReadList, newest
        first by ``order_by`` (``createdAt`` unless said), as Airbyte's ``listJobsLight``
        hydrates it (``list_job_read``). ``totalJobCount`` counts every match for
        ``jobs/list`` and only the page's jobs for ``list_for_workspaces``
        (``whole_count=False``), as Airbyte's handlers do."""
        types, wanted = set(config_types), set(statuses or ())
        with self._lock:
            jobs = self._matching_jobs(
                connection_id=None if config_id is None else str(config_id),
                workspace_ids=workspace_ids,
                keep=lambda j: j.config_type in types and (not wanted or j.status in wanted),
                bounds=bounds,
                order_by=order_by or "createdAt",
                descending=order_desc,
            )
            page = jobs[row_offset : row_offset + page_size]
            return {
                "jobs": [
                    list_job_read(j, hydrate_aggregated=self.hydrate_aggregated_stats) for j in page
                ],
                "totalJobCount": len(jobs) if whole_count else len(page),
            }

    def cancel_job_info(self, job_id: int) -> dict[str, Any]:
        job = self._cancel(job_id)
        with self._lock:
            return job_info(job)

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
            job["failureReason"] = failure_reason("source", "config_error", error)
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
            app = AppState(
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


__all__ = ["MASK", "PUBLIC_TYPES", "TERMINAL", "ConnState", "Engine"]
