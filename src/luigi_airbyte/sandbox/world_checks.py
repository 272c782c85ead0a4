"""Checks on a parsed world that pydantic cannot make field by field.

One function per concern: unique names and ids, workspace references, source streams, real
connectors, destinations, connections (references, then their streams) and faults.
``cross_check`` runs them all in that order; each problem names its field and the fix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from luigi_airbyte.sandbox.world import Connection, Source, World

_T = TypeVar("_T")


def cross_check(world: World) -> list[str]:
    """References and uniqueness: what pydantic cannot see field by field."""
    return [
        *uniqueness_problems(world),
        *workspace_problems(world),
        *source_stream_problems(world),
        *connector_problems(world),
        *destination_problems(world),
        *connection_problems(world),
        *fault_problems(world),
    ]


def _placed(kind: str, items: Sequence[_T]) -> Iterator[tuple[str, _T]]:
    """Each item with where it stands in the world file: ``sources[0]``, ``sources[1]``..."""
    for i, item in enumerate(items):
        yield f"{kind}[{i}]", item


def _dupes(kind: str, names: list[str], ids: list[str]) -> list[str]:
    problems: list[str] = []
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in seen:
            problems.append(
                f"{kind}[{i}].name: {n!r} is also the name of {kind}[{seen[n]}] "
                "(fix: names must be unique)"
            )
        seen.setdefault(n, i)
    seen_ids: dict[str, int] = {}
    for i, n in enumerate(ids):
        if n in seen_ids and names[i] != names[seen_ids[n]]:
            problems.append(
                f"{kind}[{i}].id: {n} is also the id of {kind}[{seen_ids[n]}] "
                "(fix: ids must be unique)"
            )
        seen_ids.setdefault(n, i)
    return problems


def uniqueness_problems(world: World) -> list[str]:
    """Names and ids unique within each kind; client ids unique across applications."""
    problems: list[str] = []
    if not world.workspaces:
        problems.append("workspaces: at least one workspace is needed (fix: add `- name: Default`)")
    w, s, d, c, a = (
        world.workspaces,
        world.sources,
        world.destinations,
        world.connections,
        world.applications,
    )
    problems += _dupes("workspaces", [x.name for x in w], [world.workspace_id(x) for x in w])
    problems += _dupes("sources", [x.name for x in s], [world.source_id(x) for x in s])
    problems += _dupes("destinations", [x.name for x in d], [world.destination_id(x) for x in d])
    problems += _dupes("connections", [x.name for x in c], [world.connection_id(x) for x in c])
    problems += _dupes("applications", [x.name for x in a], [world.application_id(x) for x in a])
    seen_clients: dict[str, int] = {}
    for i, app in enumerate(a):
        if app.client_id in seen_clients:
            other = seen_clients[app.client_id]
            problems.append(f"applications[{i}].client_id: also used by applications[{other}]")
        seen_clients.setdefault(app.client_id, i)
    return problems


def workspace_problems(world: World) -> list[str]:
    """Sources and destinations name a workspace that exists."""
    problems: list[str] = []
    ws_names = {w.name for w in world.workspaces}
    placed: list[tuple[str, list[str | None]]] = [
        ("sources", [s.workspace for s in world.sources]),
        ("destinations", [d.workspace for d in world.destinations]),
    ]
    for kind, workspaces in placed:
        for i, ws in enumerate(workspaces):
            if ws is not None and ws not in ws_names:
                problems.append(
                    f"{kind}[{i}].workspace: unknown workspace {ws!r} "
                    f"(fix: one of {sorted(ws_names)})"
                )
    return problems


def source_stream_problems(world: World) -> list[str]:
    """A source's streams: unique names, paths that fit the type, keys that are columns."""
    problems: list[str] = []
    for src_where, src in _placed("sources", world.sources):
        names: set[str] = set()
        for where, st in _placed(f"{src_where}.streams", src.streams):
            if st.name in names:
                problems.append(f"{where}.name: duplicate stream {st.name!r}")
            names.add(st.name)
            if src.type == "file" and not st.path:
                problems.append(f"{where}.path: a file source stream needs a path (CSV or .jsonl)")
            if (
                src.type == "file"
                and st.path
                and not st.path.endswith((".csv", ".jsonl", ".ndjson"))
            ):
                problems.append(f"{where}.path: {st.path!r} must end with .csv, .jsonl or .ndjson")
            if src.type == "generator" and st.path:
                problems.append(f"{where}.path: only file sources read files (fix: remove path)")
            if st.columns is not None:
                cols = [c.name for c in st.columns]
                if len(set(cols)) != len(cols):
                    problems.append(f"{where}.columns: duplicate column names")
                for pk in st.primary_key or []:
                    if pk[0] not in cols:
                        problems.append(f"{where}.primary_key: {pk[0]!r} is not a column")
                for cf in st.cursor_field or []:
                    if cf not in cols:
                        problems.append(f"{where}.cursor_field: {cf!r} is not a column")
    return problems


def connector_problems(world: World) -> list[str]:
    """A real-connector source names its connector and exactly one way to run it."""
    problems: list[str] = []
    for where, src in _placed("sources", world.sources):
        ways = [k for k in ("pip", "executable", "command") if getattr(src, k)]
        if src.type != "airbyte":
            for key in [*ways, *(["connector"] if src.connector else [])]:
                problems.append(f"{where}.{key}: only `type: airbyte` sources run a connector")
            continue
        if not src.connector:
            problems.append(f"{where}.connector: required for type airbyte (e.g. source-faker)")
        if len(ways) != 1:
            problems.append(
                f"{where}: set exactly one of pip, executable, command (got {ways or 'none'}) "
                "(fix: e.g. `pip: airbyte-source-faker==7.2.1`)"
            )
        if src.streams:
            problems.append(f"{where}.streams: a connector's streams come from its discover")
    return problems


def destination_problems(world: World) -> list[str]:
    """Each destination type has the path or URL it needs."""
    problems: list[str] = []
    for where, dst in _placed("destinations", world.destinations):
        if dst.type in ("duckdb", "sqlite") and not (dst.path or dst.url):
            problems.append(f"{where}.path: a {dst.type} destination needs a file path")
        if dst.type == "postgres" and not dst.url:
            problems.append(f"{where}.url: a postgres destination needs a SQLAlchemy URL")
        if dst.type == "duckdb" and dst.url:
            problems.append(f"{where}.url: duckdb takes `path`, not `url`")
    return problems


def connection_problems(world: World) -> list[str]:
    """Connections: known source and destination, a complete schedule and namespace."""
    problems: list[str] = []
    sources = {s.name: s for s in world.sources}
    destinations = {d.name for d in world.destinations}
    for where, conn in _placed("connections", world.connections):
        conn_src = sources.get(conn.source)
        if conn_src is None:
            problems.append(
                f"{where}.source: unknown source {conn.source!r} "
                f"(fix: one of {sorted(sources)[:10]})"
            )
        if conn.destination not in destinations:
            problems.append(
                f"{where}.destination: unknown destination {conn.destination!r} "
                f"(fix: one of {sorted(destinations)[:10]})"
            )
        if conn.schedule.type == "cron" and not conn.schedule.cron_expression:
            problems.append(f"{where}.schedule.cron_expression: required for a cron schedule")
        if conn.namespace_definition == "custom_format" and not conn.namespace:
            problems.append(
                f"{where}.namespace: required when namespace_definition is custom_format"
            )
        if conn_src is not None:
            problems += connection_stream_problems(where, conn, conn_src)
    return problems


def connection_stream_problems(where: str, conn: Connection, conn_src: Source) -> list[str]:
    """A connection's streams exist in its source, once each, with the cursor and key they need."""
    if conn.streams is None or conn_src.type == "airbyte":
        return []  # a connector's streams are checked against its discover
    problems: list[str] = []
    by_name = {s.name: s for s in conn_src.streams}
    seen: set[str] = set()
    for sw, cs in _placed(f"{where}.streams", conn.streams):
        if cs.name in seen:
            problems.append(f"{sw}.name: stream {cs.name!r} is configured twice")
        seen.add(cs.name)
        ss = by_name.get(cs.name)
        if ss is None:
            problems.append(
                f"{sw}.name: source {conn_src.name!r} has no stream {cs.name!r} "
                f"(fix: one of {sorted(by_name)})"
            )
            continue
        needs_cursor = cs.sync_mode.startswith("incremental") and conn_src.type == "file"
        if needs_cursor and not (cs.cursor_field or ss.cursor_field):
            problems.append(
                f"{sw}.cursor_field: incremental sync of a file stream needs a cursor "
                "(fix: set cursor_field here or on the source stream)"
            )
        needs_pk = "dedup" in cs.sync_mode and conn_src.type == "file"
        if needs_pk and not (cs.primary_key or ss.primary_key):
            problems.append(
                f"{sw}.primary_key: {cs.sync_mode} needs a primary key "
                "(fix: set primary_key here or on the source stream)"
            )
    return problems


def fault_problems(world: World) -> list[str]:
    """Faults name a connection (or ``*``) and a source that exist."""
    problems: list[str] = []
    known = {c.name for c in world.connections} | {
        world.connection_id(c) for c in world.connections
    }
    for name in world.faults.jobs:
        if name != "*" and name not in known:
            problems.append(
                f"faults.jobs.{name}: unknown connection (fix: a connection name or '*')"
            )
    sources = {s.name for s in world.sources}
    for name in world.faults.schema_:
        if name not in sources:
            problems.append(f"faults.schema.{name}: unknown source")
    return problems
