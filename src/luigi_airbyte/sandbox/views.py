"""The sandbox's API-shaped views: engine state rendered in Airbyte's wire shapes.

Public API shapes (camelCase, ISO strings) and Config API shapes (epoch seconds, JobRead,
syncCatalog) are built here from the state, under the caller's lock; nothing here changes
state.
"""

from __future__ import annotations

import copy
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any, overload

from luigi_airbyte.sandbox.datagen import StreamSchema
from luigi_airbyte.sandbox.jobstate import (
    ACTIVE,
    attempt_info,
    job_response,
)
from luigi_airbyte.sandbox.notifications import OFF
from luigi_airbyte.sandbox.state import BASE_CREATED_AT, AppState, ConnState, EngineState
from luigi_airbyte.sandbox.world import (
    Destination,
    Source,
)
from luigi_airbyte.vocabulary import NOTIFICATION_KINDS, SYNC_MODE_PARTS, SYNC_MODES

logger = logging.getLogger(__name__)

MASK = "**********"
SECRET_WORDS = (
    "password",
    "secret",
    "token",
    "api_key",
    "apikey",
    "credential",
    "private_key",
    "access_key",
)
SOURCE_DEFS = {
    "generator": (
        "faker",
        "dfd88b22-b603-4c3d-aad7-3701784586b1",
        "airbyte/source-faker",
        "6.2.21",
    ),
    "file": ("file", "778daa7c-feaf-4db6-96f3-70fd645acc77", "airbyte/source-file", "0.5.13"),
}
DEST_DEFS = {
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
MODE_PAIRS = {mode: (p.sync_mode, p.destination_sync_mode) for mode, p in SYNC_MODE_PARTS.items()}
DEST_MODES = (
    "full_refresh_overwrite",
    "full_refresh_overwrite_deduped",
    "full_refresh_append",
    "incremental_append",
    "incremental_deduped_history",
)


def source_def(src: Source | None) -> tuple[str, str, str, str]:
    """(sourceType, definitionId, repository, tag) of a source; a real connector names itself."""
    if src is None or src.type != "airbyte":
        return SOURCE_DEFS[src.type if src else "generator"]
    name = str(src.connector)
    known = {"source-faker": SOURCE_DEFS["generator"], "source-file": SOURCE_DEFS["file"]}
    if name in known:
        stype, def_id, repo, _ = known[name]
    else:
        stype = name.removeprefix("source-")
        def_id, repo = str(uuid.uuid5(uuid.NAMESPACE_URL, f"airbyte/{name}")), f"airbyte/{name}"
    main = src.pip if isinstance(src.pip, str) else (src.pip or [""])[0]
    version = (main or "").partition("==")[2] or "dev"
    return stype, def_id, repo, version


def mask_secrets(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: mask_secrets(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v, key) for v in value]
    if any(w in key.lower() for w in SECRET_WORDS) and value not in (None, ""):
        return MASK
    return value


class EngineViews(EngineState):
    """Renders the state in the Public and Config API shapes (caller holds the lock)."""

    def _workspace_dict(self, ws_id: str) -> dict[str, Any]:
        return {
            "workspaceId": ws_id,
            "name": self._workspaces[ws_id].name,
            "dataResidency": "auto",
            "notifications": {k: copy.deepcopy(OFF) for k in NOTIFICATION_KINDS},
        }

    def source_view(self, source_id: str) -> dict[str, Any]:
        src = self._source(source_id)
        stype, def_id, _, _ = source_def(src)
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
            "configuration": mask_secrets({**config, "sourceType": stype}),
            "createdAt": BASE_CREATED_AT + self._source_index[str(source_id)],
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
        config["destinationType"] = DEST_DEFS[dst.type][0]
        return mask_secrets(config)  # type: ignore[no-any-return]

    def destination_view(self, destination_id: str) -> dict[str, Any]:
        dst = self._destination(destination_id)
        dtype, def_id, _, _ = DEST_DEFS[dst.type]
        return {
            "destinationId": str(destination_id),
            "name": dst.name,
            "destinationType": dtype,
            "definitionId": def_id,
            "workspaceId": self.world.workspace_id(self.world.workspace_of(dst.workspace)),
            "configuration": self._dest_config(dst),
            "createdAt": BASE_CREATED_AT + self._dest_index[str(destination_id)],
        }

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

    def stream_properties_view(
        self, source_id: str, destination_id: str | None = None
    ) -> list[dict[str, Any]]:
        src = self._source(source_id)
        if destination_id is not None:
            self._destination(destination_id)
        modes = DEST_MODES if destination_id else SYNC_MODES
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

    def _sync_catalog(self, cs: ConnState) -> list[dict[str, Any]]:
        """The connection's syncCatalog streams: the stored catalog, selected or not."""
        configured = {s["name"]: s for s in self._configured_streams(cs)}
        catalog = []
        src = self._sources[cs.source]
        for schema in self._stored_catalog(cs):
            s = configured.get(schema.name)
            mode = s["sync_mode"] if s else "full_refresh_overwrite"
            sync_mode, dest_mode = MODE_PAIRS[mode]
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
        return catalog

    def config_connection_view(self, connection_id: str) -> dict[str, Any]:
        cs = self._conn(connection_id)
        catalog = self._sync_catalog(cs)
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

    def job_debug_view(self, job_id: int) -> dict[str, Any]:
        job = self._job(job_id)
        cs = self._connections.get(job.connection_id)
        src = self._sources.get(cs.source) if cs else None
        dst = self._destinations.get(cs.destination) if cs else None
        sdef = source_def(src)
        ddef = DEST_DEFS[dst.type if dst else "duckdb"]
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

    @staticmethod
    def _app_dict(a: AppState) -> dict[str, Any]:
        return {
            "id": a.id,
            "name": a.name,
            "clientId": a.client_id,
            "clientSecret": a.client_secret,
            "createdAt": a.created_at,
        }


class LazyJobResponses(Sequence[dict[str, Any]]):
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


class LazyConnections(Sequence[dict[str, Any]]):
    """Connections rendered only when read, under the engine's lock (``page_response``
    slices one page, so a page of ``GET /connections`` renders only that page)."""

    def __init__(self, views: EngineViews, ids: list[str]) -> None:
        self._views = views
        self._ids = ids

    def __len__(self) -> int:
        return len(self._ids)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyConnections | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def _render(self, cid: str) -> dict[str, Any]:
        return self._views._connection_dict(self._views._connections[cid])

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        with self._views._lock:
            if isinstance(index, slice):
                return [self._render(cid) for cid in self._ids[index]]
            return self._render(self._ids[index])
