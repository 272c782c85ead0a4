"""The sandbox world: the Airbyte instance the sandbox pretends to be, declared in one YAML file.

A world is validated completely before an engine sees it, so a bad file never yields a
half-configured sandbox. Every problem is reported with its field path and a fix, e.g.
``connections[2].streams[0].sync_mode: 'foo' is not one of [...]``.

Ids are explicit UUIDs or uuid5 values derived from names, so a restarted sandbox serves the
same ids and a client's stored ids stay valid.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from luigi_airbyte.sandbox.errors import WorldError
from luigi_airbyte.sandbox.world_checks import cross_check
from luigi_airbyte.vocabulary import (
    SYNC_MODES as SYNC_MODES,
)  # engine, views and tests read it here
from luigi_airbyte.vocabulary import SyncMode

ColumnType = Literal["integer", "number", "string", "timestamp", "boolean"]

#: uuid5 namespace for ids derived from names; never change it (ids would change with it).
ID_NAMESPACE = uuid.UUID("5b0c5ad1-3f43-4e7e-9a39-5a2d1b7f0c11")


def derived_id(kind: str, name: str) -> str:
    """Stable id for a named resource: the same world gives the same ids after a restart."""
    return str(uuid.uuid5(ID_NAMESPACE, f"{kind}:{name}"))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=False)


def _check_uuid(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError(f"{value!r} is not a UUID (omit it to derive one from the name)") from None


# --------------------------------------------------------------------------- sources


class Column(_Model):
    """One business column of a stream."""

    name: str = Field(min_length=1)
    type: ColumnType = "string"


def _columns(value: Any) -> Any:
    """Accept ``[id, name]`` as shorthand for ``[{name: id}, {name: name}]``."""
    if isinstance(value, list):
        return [{"name": v} if isinstance(v, str) else v for v in value]
    return value


def _str_list(value: Any) -> Any:
    """Accept ``updated_at`` as shorthand for ``[updated_at]``."""
    return [value] if isinstance(value, str) else value


def _pk(value: Any) -> Any:
    """Accept ``id``, ``[id, tenant]`` or Airbyte's ``[[id], [tenant]]`` for a primary key."""
    if isinstance(value, str):
        return [[value]]
    if isinstance(value, list):
        return [[v] if isinstance(v, str) else v for v in value]
    return value


class SourceStream(_Model):
    """A stream of a source: generated (size/growth/seed) or read from a file (path)."""

    name: str = Field(min_length=1)
    # generator
    size: int = Field(default=100, ge=0)
    growth_per_sync: int = Field(default=10, ge=0)
    updates_per_sync: int | None = Field(default=None, ge=0)
    seed: int | None = None
    columns: list[Column] | None = None
    # file
    path: str | None = None
    # catalog
    primary_key: list[list[str]] | None = None
    cursor_field: list[str] | None = None
    source_defined_cursor: bool = False

    _v_columns = field_validator("columns", mode="before")(_columns)
    _v_cursor = field_validator("cursor_field", mode="before")(_str_list)
    _v_pk = field_validator("primary_key", mode="before")(_pk)


class Source(_Model):
    name: str = Field(min_length=1)
    id: str | None = None
    workspace: str | None = None
    type: Literal["generator", "file", "airbyte"]
    namespace: str | None = None  # the source's schema, e.g. "public" for a Postgres source
    streams: list[SourceStream] = Field(default_factory=list)
    configuration: dict[str, Any] = Field(default_factory=dict)
    check_error: str | None = None  # make check_connection fail with this message
    # a real connector (`type: airbyte`, sandbox/connectors/): one of pip, executable, command
    connector: str | None = None  # e.g. source-faker
    pip: str | list[str] | None = None  # requirement(s), e.g. airbyte-source-faker==7.2.1
    pip_overrides: list[str] = Field(default_factory=list)  # replace the connector's own pins
    executable: str | None = None
    command: list[str] | None = None
    config: dict[str, Any] = Field(default_factory=dict)  # secrets as env:/file: references
    timeout_seconds: float = Field(default=600.0, gt=0)  # silence that fails an attempt

    _v_id = field_validator("id")(_check_uuid)


# --------------------------------------------------------------------------- destinations


class Destination(_Model):
    name: str = Field(min_length=1)
    id: str | None = None
    workspace: str | None = None
    type: Literal["duckdb", "sqlite", "postgres"]
    path: str | None = None  # duckdb / sqlite file
    url: str | None = None  # any SQLAlchemy URL (postgres, or sqlite:///...)
    configuration: dict[str, Any] = Field(default_factory=dict)

    _v_id = field_validator("id")(_check_uuid)


# --------------------------------------------------------------------------- connections


class Schedule(_Model):
    type: Literal["manual", "cron", "basic"] = "manual"
    cron_expression: str | None = None
    basic_timing: str | None = None  # e.g. "Every 24 HOURS"


class ConnectionStream(_Model):
    name: str = Field(min_length=1)
    sync_mode: SyncMode = "full_refresh_overwrite"
    cursor_field: list[str] | None = None
    primary_key: list[list[str]] | None = None

    _v_cursor = field_validator("cursor_field", mode="before")(_str_list)
    _v_pk = field_validator("primary_key", mode="before")(_pk)


class Connection(_Model):
    name: str = Field(min_length=1)
    id: str | None = None
    source: str
    destination: str
    status: Literal["active", "inactive", "deprecated", "locked"] = "active"
    schedule: Schedule = Field(default_factory=Schedule)
    namespace_definition: Literal["source", "destination", "custom_format"] = "destination"
    namespace: str | None = None  # namespaceFormat (custom_format), the schema where supported
    prefix: str = ""
    streams: list[ConnectionStream] | None = None  # None = every source stream
    job_duration_seconds: float | None = Field(default=None, ge=0)
    records_per_second: float | None = Field(default=None, gt=0)

    _v_id = field_validator("id")(_check_uuid)


# --------------------------------------------------------------------------- misc


class Workspace(_Model):
    name: str = Field(min_length=1)
    id: str | None = None

    _v_id = field_validator("id")(_check_uuid)


class Application(_Model):
    name: str = Field(min_length=1)
    id: str | None = None
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)

    _v_id = field_validator("id")(_check_uuid)


class Settings(_Model):
    token_ttl_seconds: int = Field(default=900, gt=0)
    records_per_second: float | None = Field(default=None, gt=0)
    job_duration_seconds: float | None = Field(default=None, ge=0)
    max_attempts: int = Field(default=3, ge=1)
    attempt_backoff_seconds: float = Field(default=0.0, ge=0)
    chunk_size: int = Field(default=500, ge=1)
    max_concurrent_jobs: int = Field(default=16, ge=1)
    airbyte_version: str = "1.7.0"
    # Airbyte since mid-2026: a POST /jobs while the connection has a job queued before
    # its first attempt answers 200 with that job's id (no 409, no second job).
    queued_dedupe: bool = False
    # How a job id Airbyte does not know is answered on GET/DELETE /jobs/{id}: 404, or the
    # 409 "Job is not currently running" of Airbyte's ConfigClientErrorHandler path.
    unknown_job_status: Literal[404, 409] = 404


class JobFaults(_Model):
    """Faults a sync job suffers; keyed by connection name (or "*") under ``faults.jobs``."""

    fail_attempts: int = Field(default=0, ge=0)
    fail_after: float = Field(default=0.5, ge=0, le=1)  # share of records moved before failing
    failure_message: str = "Something went wrong in the connector. See the logs for more details."
    zero_records: bool = False
    commit_shortfall: float = Field(default=0.0, ge=0, le=1)
    duplicate_on_retry: bool = False
    never_finish: bool = False
    ignore_cancel: bool = False
    # The next N POST /jobs time out: the job is created, but the answer is a 500
    # "Timed out waiting for a sync job to be created" (Airbyte's IllegalStateException).
    create_timeouts: int = Field(default=0, ge=0)
    # A job still queued (no worker slot) this many seconds after it was created is
    # cancelled and replaced by a newer, scheduled job, as Airbyte's scheduler does.
    replace_queued_after: float | None = Field(default=None, ge=0)


class SchemaFault(_Model):
    """Schema drift on one source; keyed by source name under ``faults.schema``."""

    add_streams: list[SourceStream] = Field(default_factory=list)
    remove_streams: list[str] = Field(default_factory=list)
    add_columns: dict[str, list[Column]] = Field(default_factory=dict)
    remove_columns: dict[str, list[str]] = Field(default_factory=dict)
    # The change appears only after this many discovers of the source: the source's schema
    # then differs between two discover calls, as when a table is altered overnight.
    after_discovers: int = Field(default=0, ge=0)

    @field_validator("add_columns", mode="before")
    @classmethod
    def _v_add_columns(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _columns(v) for k, v in value.items()}
        return value


class HttpFault(_Model):
    """An HTTP-level fault; declared here so a world validates whole, applied by the HTTP layer."""

    endpoint: str = "*"  # "POST /jobs", "GET /jobs/{jobId}", or "*"
    status: Literal[500, 502, 503, 429] = 503
    rate: float | None = Field(default=None, ge=0, le=1)
    nth: list[int] | None = None
    retry_after: float | None = Field(default=None, ge=0)
    latency_ms: int | None = Field(default=None, ge=0)
    drop_connection: bool = False
    seed: int = 0

    @field_validator("endpoint")
    @classmethod
    def _v_endpoint(cls, value: str) -> str:
        if value == "*":
            return value
        method, _, path = value.partition(" ")
        if method not in {"GET", "POST", "PATCH", "DELETE", "PUT", "*"} or not path.startswith("/"):
            raise ValueError(f"{value!r} is not '*' or '<METHOD> /path', e.g. 'POST /jobs'")
        return value

    @field_validator("nth")
    @classmethod
    def _v_nth(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(n < 1 for n in value):
            raise ValueError("nth counts requests from 1")
        return value


class EngineFaults(_Model):
    """The engine-level part of ``faults`` (what ``Engine.set_engine_faults`` accepts)."""

    jobs: dict[str, JobFaults] = Field(default_factory=dict)
    schema_: dict[str, SchemaFault] = Field(default_factory=dict, alias="schema")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Faults(EngineFaults):
    http: list[HttpFault] = Field(default_factory=list)


class World(_Model):
    workspaces: list[Workspace] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    destinations: list[Destination] = Field(default_factory=list)
    connections: list[Connection] = Field(default_factory=list)
    applications: list[Application] = Field(default_factory=list)
    settings: Settings = Field(default_factory=Settings)
    faults: Faults = Field(default_factory=Faults)

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _source_name: str = PrivateAttr(default="<dict>")

    @property
    def base_dir(self) -> Path:
        """Directory that relative paths (files, databases) are resolved against."""
        return self._base_dir

    @property
    def source_name(self) -> str:
        return self._source_name

    def resolve_path(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self._base_dir / p)

    # ids ------------------------------------------------------------------
    def workspace_id(self, ws: Workspace) -> str:
        return ws.id or derived_id("workspace", ws.name)

    def source_id(self, src: Source) -> str:
        return src.id or derived_id("source", src.name)

    def destination_id(self, dst: Destination) -> str:
        return dst.id or derived_id("destination", dst.name)

    def connection_id(self, conn: Connection) -> str:
        return conn.id or derived_id("connection", conn.name)

    def application_id(self, app: Application) -> str:
        return app.id or derived_id("application", app.name)

    def workspace_of(self, workspace_name: str | None) -> Workspace:
        if workspace_name is None:
            return self.workspaces[0]
        return next(w for w in self.workspaces if w.name == workspace_name)


# --------------------------------------------------------------------------- validation


def _loc(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<root>"


def _format_error(err: Any) -> str:
    loc = _loc(tuple(err["loc"]))
    kind = err["type"]
    value = err.get("input")
    if kind == "literal_error":
        expected = str(err.get("ctx", {}).get("expected", "")).replace(" or ", ", ")
        return f"{loc}: {value!r} is not one of [{expected}]"
    if kind == "missing":
        return f"{loc}: required field is missing (fix: add it)"
    if kind == "extra_forbidden":
        return f"{loc}: unknown field (fix: remove it or check the spelling)"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return (
        f"{loc}: {msg} (got {value!r})" if not isinstance(value, (dict, list)) else f"{loc}: {msg}"
    )


def _raw_reference_problems(d: dict[str, Any]) -> list[str]:
    """Connection references checked on raw data, so one bad field does not hide them."""
    problems: list[str] = []

    def names(key: str) -> set[str]:
        items = d.get(key)
        if not isinstance(items, list):
            return set()
        return {str(i["name"]) for i in items if isinstance(i, dict) and "name" in i}

    sources, destinations = names("sources"), names("destinations")
    conns = d.get("connections")
    for i, c in enumerate(conns if isinstance(conns, list) else []):
        if not isinstance(c, dict):
            continue
        if "source" in c and sources and c["source"] not in sources:
            problems.append(f"connections[{i}].source: unknown source {c['source']!r}")
        if "destination" in c and destinations and c["destination"] not in destinations:
            problems.append(
                f"connections[{i}].destination: unknown destination {c['destination']!r}"
            )
    return problems


def world_from_dict(d: Any, source: str = "<dict>", *, base_dir: str | Path | None = None) -> World:
    """Validate a world given as plain data; raises WorldError listing every problem."""
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise WorldError(source, [f"<root>: expected a mapping, got {type(d).__name__}"])
    try:
        world = World.model_validate(d)
    except ValidationError as exc:
        problems = [_format_error(e) for e in exc.errors()]
        problems += _raw_reference_problems(d)
        raise WorldError(source, problems) from None
    world._base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
    world._source_name = source
    problems = cross_check(world)
    if problems:
        raise WorldError(source, problems)
    return world


def yaml_loader(*, pure: bool = False) -> Any:
    """ruamel's safe loader, on the C parser where ruamel.yaml.clib is installed.

    The C parser is libyaml's scanner, stricter than YAML 1.2 in places (it refuses
    ``{url: postgresql://h/db}``, a ``:`` in a plain scalar of a flow mapping), so a
    document it refuses is read again with ``pure=True``, whose answer is authoritative.

    The C parser reads the same YAML 1.2 (and its errors keep line and column); it never
    reports a ``%YAML`` directive, so the version is fixed at 1.2, which is what ruamel's
    resolver would find anyway, without its per-scalar version lookup (a third of the
    time of a 1,000-connection world).
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.parser import Parser
    from ruamel.yaml.resolver import VersionedResolver

    class _Yaml12Resolver(VersionedResolver):
        @property
        def processing_version(self) -> Any:
            return (1, 2)

    yaml = YAML(typ="safe", pure=pure)
    if yaml.Parser is not Parser:  # the C parser
        yaml.Resolver = _Yaml12Resolver
    return yaml


def load_world(path: str | Path) -> World:
    """Read and validate a YAML world file; relative paths in it are relative to the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorldError(str(p), [f"<file>: cannot read: {exc.strerror or exc}"]) from None
    from ruamel.yaml.error import YAMLError

    try:
        data = yaml_loader().load(text)
    except YAMLError:
        try:  # libyaml refuses some valid YAML 1.2: the pure parser decides
            data = yaml_loader(pure=True).load(text)
        except YAMLError as exc:
            raise WorldError(str(p), [f"<yaml>: not valid YAML: {exc}"]) from None
    return world_from_dict(data, source=str(p), base_dir=p.resolve().parent)


DEMO_CLIENT_ID = "sandbox-demo-client"
DEMO_CLIENT_SECRET = "sandbox-demo-secret"  # a fixed credential of a local fake


def demo_world(data_dir: str | Path | None = None) -> World:
    """The built-in demo: two sources into one DuckDB warehouse, jobs that take ~1.5 s.

    The warehouse file lives in ``data_dir`` (a fresh temporary directory if not given).
    """
    base = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="lab-sandbox-"))
    base.mkdir(parents=True, exist_ok=True)
    return _demo_world_from(demo_world_data(), base)


def demo_world_data() -> dict[str, Any]:
    """The demo world as plain data (what ``quickstart`` writes to world.yaml)."""
    data: dict[str, Any] = {
        "workspaces": [{"name": "Default Workspace"}],
        "sources": _demo_sources(),
        "destinations": [{"name": "Warehouse", "type": "duckdb", "path": "warehouse.duckdb"}],
        "connections": _demo_connections(),
        "applications": [
            {
                "name": "Demo application",
                "client_id": DEMO_CLIENT_ID,
                "client_secret": DEMO_CLIENT_SECRET,
            },
        ],
        "settings": {"job_duration_seconds": 1.5},
    }
    return data


def _demo_sources() -> list[dict[str, Any]]:
    """The demo's two generator sources."""
    return [
        {
            "name": "Postgres CRM",
            "type": "generator",
            "namespace": "public",
            "configuration": {
                "host": "crm.internal",
                "port": 5432,
                "database": "crm",
                "username": "airbyte",
                "password": "crm-secret",
            },
            "streams": [
                {"name": "users", "size": 200, "growth_per_sync": 20, "seed": 1},
                {"name": "orders", "size": 500, "growth_per_sync": 50, "seed": 2},
            ],
        },
        {
            "name": "Events API",
            "type": "generator",
            "configuration": {"base_url": "https://events.example.com", "api_key": "evt-key"},
            "streams": [
                {
                    "name": "events",
                    "size": 1000,
                    "growth_per_sync": 100,
                    "seed": 3,
                    "updates_per_sync": 0,
                    "source_defined_cursor": True,
                },
            ],
        },
    ]


def _demo_connections() -> list[dict[str, Any]]:
    """The demo's two connections into the warehouse."""
    return [
        {
            "name": "Postgres CRM → Warehouse",
            "source": "Postgres CRM",
            "destination": "Warehouse",
            "prefix": "crm_",
            "streams": [
                {
                    "name": "users",
                    "sync_mode": "incremental_deduped_history",
                    "cursor_field": ["updated_at"],
                    "primary_key": [["id"]],
                },
                {
                    "name": "orders",
                    "sync_mode": "incremental_append",
                    "cursor_field": ["updated_at"],
                    "primary_key": [["id"]],
                },
            ],
        },
        {
            "name": "Events API → Warehouse",
            "source": "Events API",
            "destination": "Warehouse",
            "prefix": "events_",
            "schedule": {"type": "cron", "cron_expression": "0 0 * * * ?"},
            "streams": [{"name": "events", "sync_mode": "full_refresh_append"}],
        },
    ]


def _demo_world_from(data: dict[str, Any], base: Path) -> World:
    return world_from_dict(data, source="<demo>", base_dir=base)
