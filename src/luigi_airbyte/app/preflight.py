"""Preflight: prove a run can work before any sync starts.

``run_preflight`` (what ``run`` calls) checks, in order, and reports every failure at once
(exit 4): each secret reference the steps use resolves; Airbyte answers; a token can be
minted; every connection exists and is active; every warehouse a check queries is
reachable. A missing credential is found here, at 6 p.m. in CI, not at 2 a.m. halfway
through the nightly run.

``full_preflight`` (``luigi-airbyte preflight``) checks everything tonight's run needs and
returns one line per check instead of raising: every secret reference in the file, the
token, the connections, each source's and destination's ``check_connection`` through the
config API (connector credentials stay in Airbyte), every warehouse, every alert route of
the owners involved, and drift (``plan``). Exit 4 on any failure, 6 when drift is the only
one.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from luigi_airbyte.airbyte import Connection, ConnectionStatus
from luigi_airbyte.checks import open_warehouse
from luigi_airbyte.checks.warehouse import duckdb_file_problem, duckdb_path
from luigi_airbyte.errors import (
    AirbyteError,
    AuthenticationError,
    LuigiAirbyteError,
    PreflightError,
    SecretError,
)
from luigi_airbyte.exit_codes import for_preflight
from luigi_airbyte.pipeline._steps import CheckStep, CommandStep, DbtStep, SparkStep, SyncStep
from luigi_airbyte.pipeline.graph import Graph
from luigi_airbyte.secrets import SecretRef

if TYPE_CHECKING:
    from luigi_airbyte.airbyte import AirbyteClient
    from luigi_airbyte.app.runtime import Runtime

logger = logging.getLogger(__name__)

CheckKind = Literal["secret", "airbyte", "connection", "connector", "warehouse", "route", "drift"]
_REF_PREFIXES = ("env:", "file:", "aws-sm:", "vault:")
_ROUTE_TIMEOUT = 5.0


@dataclass(frozen=True)
class PreflightCheck:
    name: str
    ok: bool
    detail: str
    kind: CheckKind = "airbyte"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "ok": self.ok, "detail": self.detail}


def preflight_exit_code(checks: Sequence[PreflightCheck]) -> int:
    """0 when every check passed, 6 when drift is the only failure, 4 otherwise."""
    return for_preflight(c.kind for c in checks if not c.ok)


# What to do about a connection that cannot sync, by its status.
_STATUS_FIX: dict[ConnectionStatus | None, str] = {
    ConnectionStatus.DEPRECATED: (
        "it was deleted in Airbyte and cannot be enabled again: point the step at a live "
        "connection (luigi-airbyte connections list -f FILE shows them) or remove the step"
    ),
    ConnectionStatus.LOCKED: (
        "Airbyte locked it (see the reason); resolve that in Airbyte or remove the step"
    ),
    None: "enable it in Airbyte or remove the step",
}


def _refs(value: Any) -> Iterator[SecretRef]:
    if isinstance(value, SecretRef):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _refs(v)


class _Checks:
    """The checks, each recording one line; shared by ``run`` and ``preflight``."""

    def __init__(self, runtime: Runtime, graphs: Sequence[Graph]) -> None:
        self.rt = runtime
        self.graphs = graphs
        self.checks: list[PreflightCheck] = []
        self.connections: dict[str, Connection] = {}

    def record(self, name: str, ok: bool, detail: str, kind: CheckKind) -> None:
        self.checks.append(PreflightCheck(name, ok, detail, kind))

    def record_error(self, name: str, exc: BaseException, kind: CheckKind) -> bool:
        """A failed check whose detail is the error's message (redacted); returns False."""
        self.record(name, False, self.rt.redact(str(exc)), kind)
        return False

    def probe(
        self,
        name: str,
        kind: CheckKind,
        check: Callable[[], tuple[bool, str]],
        errors: type[LuigiAirbyteError] = LuigiAirbyteError,
    ) -> None:
        """Record one check's line: what ``check()`` answers (ok, detail), or the error
        that kept it from answering (one of ``errors``)."""
        try:
            ok, detail = check()
        except errors as exc:
            self.record_error(name, exc, kind)
        else:
            self.record(name, ok, detail, kind)

    @property
    def failed(self) -> bool:
        return any(not c.ok for c in self.checks)

    def nodes(self) -> Iterator[Any]:
        for graph in self.graphs:
            yield from graph

    # secrets -----------------------------------------------------------------------------

    def step_secret_problems(self) -> list[str]:
        problems: list[str] = []
        for node in self.nodes():
            for ref in _refs(_step_env(node.step)):
                try:
                    self.rt.secret(ref)
                except SecretError as exc:
                    problems.append(f"step {node.name!r}: {exc}")
        return problems

    def all_secrets(self) -> None:
        """Every reference the file and settings use, one line each (never the value)."""
        seen: set[str] = set()
        for where, ref in self._every_ref():
            key = str(ref)
            if key in seen:
                continue
            seen.add(key)
            try:
                self.rt.secret(ref)
            except SecretError as exc:
                self.record(f"secret {key}", False, f"{where}: {exc}", "secret")
            else:
                self.record(f"secret {key}", True, f"{where}: resolves", "secret")

    def _every_ref(self) -> Iterator[tuple[str, SecretRef]]:
        auth = self.rt.settings.auth
        for name in type(auth).model_fields:
            value = getattr(auth, name)
            if isinstance(value, SecretRef):
                yield f"airbyte.auth.{name}", value
        pf = self.rt.pipeline_file
        if pf is not None:
            for name, wh in pf.warehouses.items():
                for field_name in ("url", "password"):
                    value = getattr(wh, field_name)
                    if isinstance(value, SecretRef):
                        yield f"warehouses.{name}.{field_name}", value
        for node in self.nodes():
            for ref in _refs(_step_env(node.step)):
                yield f"step {node.name!r}", ref

    # Airbyte ---------------------------------------------------------------------------------

    def airbyte(self) -> bool:
        client = self.rt.client()
        url = self.rt.settings.airbyte_url
        try:
            healthy = client.health()
        except SecretError as exc:  # the credential itself cannot be read
            return self.record_error("airbyte.token", exc, "airbyte")
        except AuthenticationError as exc:  # it answered, but no token for this credential
            self.record("airbyte.health", True, f"{url} answered", "airbyte")
            return self.record_error("airbyte.token", exc, "airbyte")
        except LuigiAirbyteError as exc:
            return self.record_error("airbyte.health", exc, "airbyte")
        self.record(
            "airbyte.health",
            healthy,
            f"{url} answered" if healthy else f"{url} is not reachable or not healthy",
            "airbyte",
        )
        if not healthy:
            return False
        try:
            workspaces = client.list_workspaces()
        except LuigiAirbyteError as exc:
            return self.record_error("airbyte.token", exc, "airbyte")
        self.record(
            "airbyte.token",
            True,
            f"token minted, credential accepted ({len(workspaces)} workspaces)",
            "airbyte",
        )
        return True

    def sync_connections(self) -> list[str]:
        seen: list[str] = []
        for node in self.nodes():
            if node.kind == "sync" and node.connection not in seen:
                seen.append(node.connection)
        return seen

    def connections_active(self) -> None:
        for ref in self.sync_connections():
            name = f"connection {ref!r}"
            self.probe(name, "connection", partial(self._connection_active, ref), AirbyteError)

    def _connection_active(self, ref: str) -> tuple[bool, str]:
        conn = self.rt.connection(ref)
        self.connections[ref] = conn
        active = conn.status is ConnectionStatus.ACTIVE
        reason = f" ({conn.status_reason})" if conn.status_reason else ""
        fix = "" if active else f"; {_STATUS_FIX.get(conn.status, _STATUS_FIX[None])}"
        return active, f"{conn.connection_id} is {conn.status.value}{reason}{fix}"

    def connectors(self) -> None:
        """Each source and destination passes Airbyte's own check (config API)."""
        client = self.rt.client()
        done: set[str] = set()
        for ref, conn in self.connections.items():
            for kind, cid in (("source", conn.source_id), ("destination", conn.destination_id)):
                if not cid or cid in done:
                    continue
                done.add(cid)
                name = f"{kind} {cid} (of {ref!r})"
                self.probe(name, "connector", partial(self._connector, client, kind, cid))

    def _connector(self, client: AirbyteClient, kind: str, cid: str) -> tuple[bool, str]:
        result = client.check_source(cid) if kind == "source" else client.check_destination(cid)
        if result is None:
            return True, "not checked: Airbyte's config API is not available"
        if result.succeeded:
            return True, "check_connection succeeded"
        message = self.rt.redact(result.message or "no message")
        return False, f"check_connection failed: {message}; fix the {kind} in Airbyte"

    # warehouses and routes -------------------------------------------------------------------

    def used_warehouses(self) -> set[str | None]:
        used: set[str | None] = set()
        for node in self.nodes():
            step = node.step
            if isinstance(step, CheckStep) and step.sql is not None:
                used.add(step.sql.warehouse)
            if node.implicit == "counts" and isinstance(step, SyncStep) and step.counts is not None:
                used.add(step.counts.warehouse)
            if isinstance(step, CheckStep) and step.counts is not None:
                used.add(step.counts.warehouse)
        return used

    def warehouses(self, names: Iterable[str | None]) -> None:
        pf = self.rt.pipeline_file
        if pf is None:
            return
        for name in sorted(set(names), key=lambda n: n or ""):
            label = f"warehouse {name or next(iter(pf.warehouses), '?')!r}"
            self.probe(label, "warehouse", partial(self._warehouse, name))

    def _warehouse(self, name: str | None) -> tuple[bool, str]:
        wh_url = self.rt.warehouse_url(name)
        if _file_not_created_yet(wh_url):
            return True, "file does not exist yet; the first sync creates it"
        duckdb_file = duckdb_path(wh_url)
        if duckdb_file not in (None, "", ":memory:"):
            # Never opened here: a sync of this run, or of one beside it, may be writing it.
            problem = duckdb_file_problem(str(duckdb_file))
            if problem is not None:
                fix = "point its url at the file the DuckDB destination writes"
                return False, self.rt.redact(f"{problem}; {fix}")
            return True, "a DuckDB file (header read; not opened while syncs may write it)"
        try:
            wh = open_warehouse(wh_url)
            try:
                wh.scalar("select 1")
            finally:
                wh.close()
        except LuigiAirbyteError:
            raise  # its own message and fix (``probe`` records it)
        except Exception as exc:  # noqa: BLE001 - any driver error means unreachable
            return False, self.rt.redact(f"{type(exc).__name__}: {exc}")
        return True, "reachable"

    def routes(self) -> None:
        """The alert routes of every owner the pipelines alert, reachable without sending."""
        pf = self.rt.pipeline_file
        if pf is None:
            return
        roles: set[str] = set()
        for graph in self.graphs:
            pipeline = pf.pipeline(graph.pipeline)
            roles.add(pipeline.owner)
            roles.update(n.owner for n in graph if n.owner)
        seen: set[str] = set()
        for role in sorted(roles):
            owner = pf.owners.get(role)
            for route in owner.alerts if owner is not None else ():
                if route in seen:
                    continue
                seen.add(route)
                ok, detail = self._route(route)
                self.record(f"route {_display(route)}", ok, f"owner {role!r}: {detail}", "route")

    def _route(self, route: str) -> tuple[bool, str]:
        scheme, _, target = route.partition(":")
        if target.startswith(_REF_PREFIXES):
            try:
                target = self.rt.secret(SecretRef.parse(target))
            except SecretError as exc:
                return False, f"its reference does not resolve: {exc}"
        if scheme == "console":
            return True, "console"
        if scheme == "jsonl":
            return _writable(self._path(target))
        if scheme in ("webhook", "slack"):
            return _tcp_reachable(target)
        return True, f"not checked ({scheme}: a test send would create resources)"

    def _path(self, target: str) -> Path:
        path = Path(target).expanduser()
        pf = self.rt.pipeline_file
        if not path.is_absolute() and pf is not None:
            return pf.resolve_path(target)
        return path

    # drift -----------------------------------------------------------------------------------

    def drift(self) -> None:
        from luigi_airbyte.app.plan import make_plan, plan_targets

        pf = self.rt.pipeline_file
        if pf is None:
            return
        pipelines = {g.pipeline: pf.pipeline(g.pipeline).steps for g in self.graphs}
        targets = plan_targets(pipelines, source=pf.source)
        for cp in make_plan(self.rt, targets, str(pf.source)).connections:
            name = f"drift {cp.connection!r}"
            if cp.status == "error":
                self.record(name, False, f"Airbyte could not be asked: {cp.error}", "airbyte")
            elif cp.status == "in_sync":
                self.record(name, True, "matches the file's expect:", "drift")
            else:
                parts = [c.message for c in cp.changes if c.action != "refresh"]
                parts += [s.message for s in cp.source_changes]
                parts += [f"{b.message} (fix: {b.fix})" for b in cp.blockers]
                fix = (
                    f"; fix: luigi-airbyte apply {pf.source} --connection {cp.connection!r}"
                    if cp.patch is not None
                    else ""
                )
                self.record(name, False, "; ".join(parts) + fix, "drift")


def _step_env(step: Any) -> dict[str, Any]:
    if isinstance(step, DbtStep):
        return dict(step.dbt.env)
    if isinstance(step, SparkStep):
        return dict(step.spark.env)
    if isinstance(step, CommandStep):
        return dict(step.command.env)
    return {}


def _display(route: str) -> str:
    """The route as written, safe to print: a reference (``webhook:env:HOOK``) names where
    the URL is kept, not the URL; a written URL keeps its scheme and host only."""
    from luigi_airbyte.observe.sinks.uri import display_uri

    if route.partition(":")[2].startswith(_REF_PREFIXES):
        return route
    return display_uri(route)


def _writable(path: Path) -> tuple[bool, str]:
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.is_dir() and os.access(parent, os.W_OK) and not path.is_dir():
        return True, "writable"
    return False, f"cannot write {path}: {parent} is not a writable directory"


def _tcp_reachable(url: str) -> tuple[bool, str]:
    """Open (and close) a TCP connection to the URL's host: no request, so no alert."""
    import httpx

    from luigi_airbyte.observe.sinks.base import safe_url

    try:
        parsed = httpx.URL(url)
    except Exception:  # noqa: BLE001 - a malformed URL is unreachable
        return False, "not a URL"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.host, port), timeout=_ROUTE_TIMEOUT):
            pass
    except OSError as exc:
        return False, f"{safe_url(url)} is not reachable: {exc.strerror or exc}"
    return True, f"{parsed.host}:{port} accepts connections"


def run_preflight(runtime: Runtime, graph: Graph) -> list[PreflightCheck]:
    """Run the run's preflight checks; raise ``PreflightError`` (or ``SecretError``) on failure."""
    c = _Checks(runtime, [graph])
    secret_problems = c.step_secret_problems()
    if secret_problems:
        raise SecretError(
            "preflight: secret references could not be resolved:\n  - "
            + "\n  - ".join(secret_problems)
        )
    if c.airbyte():
        c.connections_active()
    if runtime.pipeline_file is not None:
        c.warehouses(c.used_warehouses())
    failures = [f"{x.name}: {x.detail}" for x in c.checks if not x.ok]
    if failures:
        raise PreflightError(
            "preflight failed; no sync was started:\n  - " + "\n  - ".join(failures)
        )
    return c.checks


def full_preflight(runtime: Runtime, graphs: Sequence[Graph]) -> list[PreflightCheck]:
    """Every check tonight's run needs, one line each; never raises for a failed check."""
    c = _Checks(runtime, graphs)
    c.all_secrets()
    if c.airbyte():
        c.connections_active()
        c.connectors()
    pf = runtime.pipeline_file
    if pf is not None:
        c.warehouses(pf.warehouses)
    c.routes()
    if not any(not x.ok and x.kind == "airbyte" for x in c.checks):
        c.drift()
    return c.checks


def _file_not_created_yet(url: str) -> bool:
    """A DuckDB/SQLite warehouse file appears with the first sync into it."""
    for prefix in ("duckdb:///", "sqlite:///"):
        if url.startswith(prefix):
            path = url.removeprefix(prefix).split("?", 1)[0]
            return bool(path) and path != ":memory:" and not Path(path).exists()
    return False
