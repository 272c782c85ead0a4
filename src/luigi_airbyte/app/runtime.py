"""Wire the working parts (client, store, event bus, alerts, secrets) from resolved settings.

One ``Runtime`` per process: the CLI builds it from its flags, Luigi tasks look it up by
pipeline-file path (``luigi_airbyte.tasks.context``), and a forked worker gets a fresh
copy with ``for_this_process()`` so it never shares HTTP connections or a database
engine with its parent. Secrets are resolved here, only when a part needs them, and each
resolved value is registered with the redactor before it can reach a log line.

Per-run costs are paid once per process tree (``prepare``): the token, the config-API
probe, the workspace and the one connection listing live in a ``RunShared`` that a forked
worker inherits in memory (the token is never written anywhere), so a task process never
mints a token, probes or lists connections itself. The recent successes of every
connection (freshness) come from one ``GET /jobs`` listing per workspace, also shared.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from luigi_airbyte.airbyte import (
    AirbyteClient,
    AirbyteClientCredentials,
    BasicAuth,
    BearerToken,
    Connection,
    OIDCClientCredentials,
)
from luigi_airbyte.airbyte.models import Job, JobStatus
from luigi_airbyte.app.connection_index import ConnectionIndex
from luigi_airbyte.errors import ConfigError, Problem, StoreError
from luigi_airbyte.observe import (
    AlertRouter,
    Emitter,
    EventBus,
    JsonLinesSink,
    Owners,
    Redactor,
    default_redactor,
    sink_from_uri,
)
from luigi_airbyte.observe.events import Event
from luigi_airbyte.pipeline._loader import load_pipeline_file
from luigi_airbyte.pipeline._models import BasicAuth as BasicAuthModel
from luigi_airbyte.pipeline._models import BearerAuth, ClientCredentialsAuth, OidcAuth, PipelineFile
from luigi_airbyte.pipeline._steps import SyncEachStep, SyncStep
from luigi_airbyte.pipeline._types import looks_like_uuid
from luigi_airbyte.pipeline.graph import Graph, build_graph
from luigi_airbyte.pipeline.settings import ResolvedSettings, resolve_settings
from luigi_airbyte.secrets import SecretRef, SecretResolver
from luigi_airbyte.store import Store
from luigi_airbyte.store.engine import with_password

if TYPE_CHECKING:
    from luigi_airbyte.app.execute import StepExecutor

logger = logging.getLogger(__name__)


_UNSET: Any = object()
FRESH_LISTING_CAP = 5000
"""Jobs read from one workspace's recent-successes listing before falling back to asking
per connection (a busy workspace with a long window would otherwise page for ages)."""


@dataclass
class _Recent:
    since: datetime
    ends: dict[str, datetime | None]  # connection id -> end of its last data success
    complete: bool  # False: the listing was capped; unknown connections ask on their own


@dataclass
class RunShared:
    """What one process tree pays for once per run, inherited by forked workers.

    Never written to disk: a child sees the parent's memory (the token included).
    """

    auth: Any = _UNSET  # httpx.Auth | None once built
    config_api: Any = _UNSET  # str | None once probed
    workspace_id: str | None = None
    workspace_known: bool = False
    visible: list[Connection] | None = None
    connections: dict[str, Connection] = field(default_factory=dict)
    recent: dict[str, _Recent] = field(default_factory=dict)  # workspace id -> listing
    complete: set[tuple[str, ...]] = field(default_factory=set)  # tasks found complete
    other_listings: dict[str, list[Connection]] = field(default_factory=dict)
    workspaces: list[Any] | None = None
    prepare_failed: bool = False
    prepared: bool = False
    watch_socket: str | None = None  # the host's job watcher (app/watcher.py)
    visible_index: ConnectionIndex | None = None  # ``visible``, indexed once
    seen_jobs: dict[str, Any] = field(default_factory=dict)  # workspace -> app/seen_jobs.py


class StoreEventSink:
    """Writes events that carry a ``run_id`` into the metadata store's events table.

    ``hold()`` collects the calling thread's events instead, for a caller that writes them
    in its own transaction; other threads' events are written as they come.
    """

    name = "store"

    def __init__(self, store: Store) -> None:
        self.store = store
        self._local = threading.local()

    def hold(self) -> list[Event]:
        held: list[Event] = []
        self._local.held = held
        return held

    def release(self) -> None:
        self._local.held = None

    def emit(self, event: Event) -> None:
        run_id = str(event.fields.get("run_id") or "")
        if not run_id:
            return
        held: list[Event] | None = getattr(self._local, "held", None)
        if held is not None:
            held.append(event)
            return
        fields = {k: v for k, v in event.fields.items() if k != "run_id"}
        try:
            self.store.add_event(run_id, event.name, event.level, fields, at=event.at)
        except Exception as exc:  # noqa: BLE001 - an event must never break a run
            logger.debug("could not store event %s: %s", event.name, exc)


class Runtime:
    """Everything a run needs, built lazily from ``settings`` and the pipeline file."""

    def __init__(
        self,
        settings: ResolvedSettings,
        pipeline_file: PipelineFile | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        redactor: Redactor | None = None,
        sync_overrides: Mapping[str, Any] | None = None,
        event_sinks: tuple[Emitter, ...] = (),
        shared: RunShared | None = None,
    ) -> None:
        self.settings = settings
        self.shared = shared if shared is not None else RunShared()
        self.store_sink: StoreEventSink | None = None
        self.pipeline_file = pipeline_file
        self.transport = transport
        self.redactor = redactor if redactor is not None else default_redactor()
        self.sync_overrides = dict(sync_overrides or {})
        self.extra_sinks = event_sinks
        self.resolver = SecretResolver()
        self._lock = threading.RLock()
        self._client: AirbyteClient | None = None
        self._store: Store | None = None
        self._bus: EventBus | None = None
        self._router: AlertRouter | None = None
        self._graphs: dict[str, Graph] = {}
        self._widest: timedelta | None = None
        self._executor: StepExecutor | None = None
        self._lineage: Any = None
        self._pid = os.getpid()

    # --- construction --------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        pipeline_file: str | os.PathLike[str] = "",
        *,
        cli: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Runtime:
        """Load the pipeline file (if any) and resolve settings; raises ConfigError (exit 3)."""
        pf = load_pipeline_file(pipeline_file) if str(pipeline_file) else None
        settings = resolve_settings(cli=cli, pipeline_file=pf, env=env)
        return cls(settings, pf, **kwargs)

    def for_this_process(self) -> Runtime:
        """A copy for a forked worker: same settings, per-run state (token, config-API
        probe, connection listing), graphs and store (checked once; it takes its own
        connections after a fork, see ``luigi_airbyte.store.database``), fresh HTTP
        connections."""
        if os.getpid() == self._pid:
            return self
        child = Runtime(
            self.settings,
            self.pipeline_file,
            transport=self.transport,
            redactor=self.redactor,
            sync_overrides=self.sync_overrides,
            event_sinks=self.extra_sinks,
            shared=self.shared,
        )
        child._store, child._graphs = self._store, self._graphs
        return child

    def prepare(self) -> None:
        """Pay the per-run costs now, before Luigi forks workers: one token, the config-API
        probe, the workspace and one listing of its connections. Children inherit them."""
        if self.shared.prepared:  # asked again for every task built: a flag after the first
            return
        client = self.client()
        self._visible_connections()  # the first request also mints the token
        if self.shared.config_api is _UNSET:
            self.shared.config_api = client.config_api_url()
        self.shared.prepared = True

    def close(self) -> None:
        if self._executor is not None and self._store is not None:
            try:
                self._executor.flush_notes()
            except Exception as exc:  # noqa: BLE001 - closing must not fail on a note
                logger.warning("could not record skipped steps: %s", exc)
        with self._lock:
            if self._lineage is not None:
                self._lineage.close()
                self._lineage = None
            if self._bus is not None:
                self._bus.close()
            if self._client is not None:
                self._client.close()
            if self._store is not None:
                self._store.close()
            self._bus = self._client = self._store = None
            self._router = None

    # --- secrets -------------------------------------------------------------------------

    def secret(self, ref: SecretRef | str) -> str:
        """Resolve a reference (or pass a plain value through) and register it for redaction."""
        if isinstance(ref, SecretRef):
            value = self.resolver.resolve(ref).reveal()
            self.redactor.register(value)
            return value
        return ref

    def _secret_getter(self, ref: SecretRef | str) -> Callable[[], str]:
        # A callable, so a rotated credential is picked up on the next token fetch.
        return lambda: self.secret(ref)

    def redact(self, text: str) -> str:
        return str(self.redactor.redact(text))

    def resolve_env(self, env: Mapping[str, SecretRef | str]) -> dict[str, str]:
        return {k: self.secret(v) for k, v in env.items()}

    # --- paths ---------------------------------------------------------------------------

    def _file_relative(self, key: str, value: str) -> Path:
        path = Path(value).expanduser()
        source = self.settings.source(key) if key in self.settings else self._pf_source()
        from_file = source.startswith(("pipeline", str(self._pf_source())))
        if not path.is_absolute() and self.pipeline_file is not None and from_file:
            return self.pipeline_file.resolve_path(value)
        return path.resolve()

    def _pf_source(self) -> str:
        return self.pipeline_file.source if self.pipeline_file is not None else "<none>"

    @property
    def state_dir(self) -> Path:
        return self._file_relative("state_dir", str(self.settings.state_dir))

    # --- parts ---------------------------------------------------------------------------

    def auth(self) -> httpx.Auth | None:
        """The run's credential, built once per process tree (its token lives in it)."""
        with self._lock:
            if self.shared.auth is _UNSET:
                self.shared.auth = self._new_auth()
            auth: httpx.Auth | None = self.shared.auth
            return auth

    def _new_auth(self) -> httpx.Auth | None:
        auth = self.settings.auth
        if isinstance(auth, ClientCredentialsAuth):
            return AirbyteClientCredentials(
                self.secret(auth.client_id),
                self._secret_getter(auth.client_secret),
                auth.token_url,
                source=str(auth.client_secret),
            )
        if isinstance(auth, OidcAuth):
            return OIDCClientCredentials(
                auth.token_url,
                self.secret(auth.client_id),
                self._secret_getter(auth.client_secret),
                scope=auth.scope,
                audience=auth.audience,
                source=str(auth.client_secret),
            )
        if isinstance(auth, BearerAuth):
            return BearerToken(self._secret_getter(auth.token), source=str(auth.token))
        if isinstance(auth, BasicAuthModel):
            return BasicAuth(
                self.secret(auth.username),
                self._secret_getter(auth.password),
                source=str(auth.password),
            )
        return None

    def client(self) -> AirbyteClient:
        with self._lock:
            if self._client is None:
                probed = self.shared.config_api
                self._client = AirbyteClient(
                    url=self.settings.airbyte_url,
                    auth=self.auth(),
                    # Probed once by the run's first process: a child does not probe again.
                    config_api_url=(self.settings.config_api_url if probed is _UNSET else probed),
                    transport=self.transport,
                )
                if self.shared.visible:
                    self._client.remember_connections(self.shared.visible)
            return self._client

    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                try:
                    self._store = Store(self.store_url(), state_dir=self.state_dir).open()
                except StoreError as exc:  # a URL from a reference is a secret, all of it
                    text = self.redact(str(exc))
                    if text != str(exc):
                        raise StoreError(text) from None
                    raise
            return self._store

    def use_store(self, store: Store) -> None:
        """Use ``store`` instead of opening one (a dry run's empty one: it creates none)."""
        self._store = store

    def store_url(self) -> str:
        raw = self.settings.store_url
        if self.settings.source("store.url").startswith("default"):
            return f"sqlite:///{self.state_dir / 'metadata.db'}"
        url = self.secret(raw)
        password_ref = self.settings.get("store.password")
        if password_ref is not None:
            url = with_password(url, self.secret(password_ref), "store.url")
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                url = f"sqlite:///{self._file_relative('store.url', path)}"
        return url

    def bus(self) -> EventBus:
        with self._lock:
            if self._bus is None:
                bus = EventBus(redactor=self.redactor)
                self.store_sink = StoreEventSink(self.store())
                bus.add(self.store_sink, background=False)
                events_file = self.state_dir / "events.jsonl"
                events_file.parent.mkdir(parents=True, exist_ok=True)
                bus.add(JsonLinesSink(events_file), name="jsonl")
                for uri in self._event_uris():
                    bus.add(self._route_sink(uri), name=uri.split(":", 1)[0])
                for sink in self.extra_sinks:
                    bus.add(sink, background=False)
                self._bus = bus
            return self._bus

    def _event_uris(self) -> tuple[str, ...]:
        pf = self.pipeline_file
        uris = getattr(pf, "events", None) if pf is not None else None
        return tuple(uris or ())

    def _route_sink(self, uri: str) -> Any:
        """A sink for a route; a reference after the scheme (webhook:env:HOOK) is resolved."""
        scheme, _, rest = uri.partition(":")
        if rest.startswith(("env:", "file:", "aws-sm:", "vault:")):
            uri = f"{scheme}:{self.secret(SecretRef.parse(rest))}"
        base = self.pipeline_file.base_dir if self.pipeline_file is not None else None
        return sink_from_uri(uri, redactor=self.redactor, base_dir=base)

    def router(self) -> AlertRouter:
        with self._lock:
            if self._router is None:
                owners: dict[str, tuple[str, ...]] = {}
                if self.pipeline_file is not None:
                    owners = {k: tuple(v.alerts) for k, v in self.pipeline_file.owners.items()}
                self._router = AlertRouter(
                    Owners(owners),
                    sink_factory=self._route_sink,
                    events=self.bus(),
                    redactor=self.redactor,
                )
            return self._router

    def graph(self, pipeline: str) -> Graph:
        with self._lock:
            if pipeline not in self._graphs:
                if self.pipeline_file is None:
                    need = f"pipeline {pipeline!r} needs a pipeline file"
                    problem = Problem("cli", "pipeline", need, "pass the pipeline file path")
                    raise ConfigError([problem])
                model = self.pipeline_file.pipeline(pipeline)
                expand = None
                if any(isinstance(step, SyncEachStep) for step in model.steps):
                    expand = self._expander(model.name, model.steps)
                self._graphs[pipeline] = build_graph(model, expand)
            return self._graphs[pipeline]

    def _expander(
        self, pipeline: str, steps: tuple[Any, ...]
    ) -> Callable[[SyncEachStep], list[SyncStep]]:
        """Expands a ``sync_each`` step from the run's one connection listing."""
        pf = self.pipeline_file
        assert pf is not None

        def expand(step: SyncEachStep) -> list[SyncStep]:
            index = steps.index(step)
            field_ = f"pipelines.{pipeline}.steps[{index}]"

            def problem(suffix: str, message: str, fix: str) -> ConfigError:
                where = field_ + suffix
                line = pf.line_of(where) or pf.line_of(field_)
                return ConfigError([Problem(pf.source, where, message, fix, line=line)])

            try:
                members = step.expand(self.connections_in(step.workspace))
            except ValueError as exc:
                raise problem(
                    ".overrides",
                    str(exc),
                    "use the exact name (or id) of a connection the selection matches; "
                    "`luigi-airbyte validate --online` lists them",
                ) from None
            if not members:
                raise problem(
                    ".select",
                    f"step {step.name!r} selects no connection"
                    + (f" in workspace {step.workspace!r}" if step.workspace else ""),
                    "widen select (name globs, tags, status: any) or check the workspace",
                )
            return members

        return expand

    def connections_in(self, workspace: str | None) -> list[Connection]:
        """The connections of a workspace (name or id; None: the run's workspace), from the
        run's one listing; another workspace is listed once and kept for the run."""
        listed = self._visible_connections()
        if workspace is None:
            return listed
        wanted = workspace
        if not looks_like_uuid(workspace):
            known = {w.name: w.workspace_id for w in self._workspaces()}
            if workspace not in known:
                raise ConfigError(
                    [
                        Problem(
                            self._pf_source(),
                            "workspace",
                            f"no workspace named {workspace!r} is visible to this credential",
                            f"use one of: {', '.join(known) or '(none)'}",
                        )
                    ]
                )
            wanted = known[workspace]
        if self.workspace_id() is not None and self.workspace_id() != wanted:
            with self._lock:
                other = self.shared.other_listings.get(wanted)
            if other is None:
                other = list(self.client().list_connections([wanted]))
                with self._lock:
                    self.shared.other_listings[wanted] = other
            return other
        return [c for c in listed if c.workspace_id == wanted]

    def _workspaces(self) -> list[Any]:
        with self._lock:
            cached = self.shared.workspaces
        if cached is None:
            cached = self.client().list_workspaces()
            with self._lock:
                self.shared.workspaces = cached
        return cached

    def connection(self, name_or_id: str) -> Connection:
        """Resolve a connection by name or id once per process tree.

        Names and ids are looked up in the run's one listing of the workspace's
        connections; only an id the listing does not hold is fetched on its own.
        """
        with self._lock:
            found = self.shared.connections.get(name_or_id)
        if found is None:
            if looks_like_uuid(name_or_id):
                found = self._visible_index(self.shared.visible or []).with_id(name_or_id)
                if found is None:
                    found = self.client().get_connection(name_or_id)
            else:  # none or several of that name: resolve_connection's error names them
                visible = self._visible_connections()
                found = self._visible_index(visible).only_named(name_or_id)
                if found is None:
                    found = self.client().resolve_connection(
                        name_or_id, workspace_id=self.workspace_id(), visible=visible
                    )
            with self._lock:
                self.shared.connections[name_or_id] = found
        return found

    def _visible_index(self, visible: list[Connection]) -> ConnectionIndex:
        with self._lock:
            index = self.shared.visible_index
            if index is None or index.listing is not visible:
                index = self.shared.visible_index = ConnectionIndex.of(visible)
            return index

    def connection_id_or_blank(self, name_or_id: str) -> str:
        """The id of a connection from the run's listing, or "" when it cannot be resolved
        now (the task then resolves it itself and reports the error where it belongs)."""
        if not name_or_id or self.shared.prepare_failed:
            return ""
        try:
            self.prepare()
        except Exception as exc:  # noqa: BLE001 - the task reports Airbyte's error itself
            logger.debug("per-run resolution failed: %s", exc)
            self.shared.prepare_failed = True  # do not retry for every task of the run
            return ""
        try:
            return self.connection(name_or_id).connection_id
        except Exception as exc:  # noqa: BLE001 - resolution errors surface in the task
            logger.debug("connection %r not resolved ahead of the tasks: %s", name_or_id, exc)
            return ""

    def connections(self) -> list[Connection]:
        """The run's one listing of the workspace's connections."""
        return list(self._visible_connections())

    def _visible_connections(self) -> list[Connection]:
        with self._lock:
            cached = self.shared.visible
        if cached is None:
            workspace = self.workspace_id()
            cached = list(self.client().list_connections([workspace] if workspace else None))
            with self._lock:
                self.shared.visible = cached
        return cached

    def workspace_id(self) -> str | None:
        """The configured workspace as an id (a name is looked up once per process tree)."""
        ws = self.settings.workspace
        if ws is None or looks_like_uuid(ws):
            return ws
        with self._lock:
            if self.shared.workspace_known:
                return self.shared.workspace_id
        found = next((w.workspace_id for w in self.client().list_workspaces() if w.name == ws), ws)
        with self._lock:
            self.shared.workspace_id, self.shared.workspace_known = found, True
        return found

    def last_success_end(self, conn: Connection, window: timedelta) -> datetime | None:
        """When ``conn``'s last succeeded data job (sync or refresh) ended, if within the last
        ``window``; None when it did not succeed within it (or never).

        One ``GET /jobs?workspaceIds=…&status=succeeded&updatedAtStart=…`` listing per
        workspace and page answers every connection of the run; the widest freshness window
        of the pipeline file is listed, so later steps reuse it.
        """
        from luigi_airbyte.checks.freshness import last_success_end

        ws = conn.workspace_id or (self.workspace_id() or "")
        since = datetime.now(timezone.utc) - max(window, self._widest_freshness())
        with self._lock:
            recent = self.shared.recent.get(ws)
        needed = datetime.now(timezone.utc) - window
        if recent is None or recent.since > needed:
            recent = self._list_recent(ws, since)
            with self._lock:
                self.shared.recent[ws] = recent
        if conn.connection_id in recent.ends:
            return recent.ends[conn.connection_id]
        if recent.complete:
            return None
        jobs = self.client().list_jobs(
            conn.connection_id,
            status=JobStatus.SUCCEEDED,
            updated_at_start=needed,
            order_by="updatedAt|DESC",
            max_items=20,
        )
        return last_success_end(list(jobs))

    def _list_recent(self, workspace: str, since: datetime) -> _Recent:
        from luigi_airbyte.checks.freshness import last_success_end

        jobs = list(
            self.client().list_jobs(
                workspace_ids=[workspace] if workspace else None,
                status=JobStatus.SUCCEEDED,
                updated_at_start=since,
                order_by="updatedAt|DESC",
                max_items=FRESH_LISTING_CAP,
            )
        )
        by_connection: dict[str, list[Job]] = {}
        for job in jobs:
            by_connection.setdefault(job.connection_id, []).append(job)
        ends = {cid: last_success_end(found) for cid, found in by_connection.items()}
        return _Recent(since, ends, complete=len(jobs) < FRESH_LISTING_CAP)

    def _widest_freshness(self) -> timedelta:
        if self._widest is None:
            self._widest = self._find_widest_freshness()
        return self._widest

    def _find_widest_freshness(self) -> timedelta:
        pf = self.pipeline_file
        widest = timedelta(0)
        if pf is None:
            return widest
        for pipeline in pf.pipelines.values():
            for step in pipeline.steps:
                windows = [vars(step).get("freshness")]  # a model's fields: no AttributeError
                windows += [o.freshness for o in vars(step).get("overrides", {}).values()]
                for window in windows:
                    if isinstance(window, timedelta):
                        widest = max(widest, window)
        return widest

    def warehouse_url(self, name: str | None) -> str:
        pf = self.pipeline_file
        warehouses = pf.warehouses if pf is not None else {}
        if name is None:
            if len(warehouses) != 1:
                raise ConfigError(
                    [
                        Problem(
                            self._pf_source(),
                            "warehouses",
                            f"a check needs a warehouse but the file defines {len(warehouses)}",
                            "name one with `warehouse:` in the check",
                        )
                    ]
                )
            name = next(iter(warehouses))
        wh = warehouses[name]
        url = self.secret(wh.url)
        if wh.password is not None:
            url = with_password(url, self.secret(wh.password), f"warehouses.{name}.url")
        for prefix in ("duckdb:///", "sqlite:///"):
            if url.startswith(prefix) and not url.startswith(prefix + "/"):
                rel = url.removeprefix(prefix)
                if rel and rel != ":memory:" and pf is not None:
                    url = prefix + str(pf.resolve_path(rel))
        return url

    def lineage(self) -> Any:
        """The OpenLineage emitter the pipeline file asks for (``lineage:``), or None."""
        target = self.pipeline_file.lineage if self.pipeline_file is not None else None
        if target is None:
            return None
        from luigi_airbyte.observe.lineage import LineageEmitter

        with self._lock:
            if self._lineage is None:
                if target == "console":
                    self._lineage = LineageEmitter.to_console(redactor=self.redactor)
                else:
                    path = self._file_relative("lineage", target.removeprefix("file:"))
                    path.parent.mkdir(parents=True, exist_ok=True)
                    self._lineage = LineageEmitter.to_file(str(path), redactor=self.redactor)
            return self._lineage

    def airbyte_resource(self) -> str:
        """The Luigi resource that caps concurrent syncs on this Airbyte instance.

        Pipelines on one Airbyte share it; give each Airbyte its own (``airbyte.resource``)
        so a busy instance does not hold back syncs on another.
        """
        return self.settings.resource

    def executor(self) -> StepExecutor:
        from luigi_airbyte.app.execute import StepExecutor

        with self._lock:
            if self._executor is None:
                self._executor = StepExecutor(self)
            return self._executor
