"""Configuration as code: ``plan`` diffs Airbyte against the file's ``expect:``, ``apply``
puts the intended configuration back.

A plan has one block per connection named by a sync step with ``expect:``:

- ``changes``: what Airbyte has that differs from what the file intends, for the fields
  the file names (stream selection, sync mode, cursor, primary key, selected fields,
  namespace, prefix, schedule, status, schema-change behaviour). ``apply`` fixes these.
- ``source_changes``: what changed *at the source* since the connection was last saved
  (the stored catalog of the config API against a fresh discover): new or removed streams
  and fields. ``apply`` accepts them by saving the streams again, as the UI's "Review
  changes" does.
- ``blockers``: what no PATCH can fix: a stream the source no longer offers, a cursor or a
  key that no longer exists. They need a change in the pipeline file (or the source).

The plan never reads a source's or a destination's configuration, so it can neither show
nor diff a secret, masked or not: every value in it is a connection setting.

``apply`` sends one ``PATCH /connections/{id}`` per connection, with every field it changes
in that one request, so a connection is either fully applied or untouched. The PATCH
replaces the stream list, so the request carries every selected stream, changed or not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from luigi_airbyte.airbyte import Connection, StoredStream, StreamConfig, StreamProperties
from luigi_airbyte.airbyte.models import DiscoveredStream
from luigi_airbyte.app.plan_model import (
    PLAN_FORMAT_VERSION,
    ApplyResult,
    Blocker,
    Change,
    ConnectionPlan,
    Json,
    Plan,
    PlanTarget,
    SourceChange,
)
from luigi_airbyte.checks.drift import SYNC_MODE_LABELS
from luigi_airbyte.checks.drift_types import ExpectedConnection, ExpectedStream
from luigi_airbyte.errors import AirbyteError, ConfigError, LuigiAirbyteError, Problem
from luigi_airbyte.pipeline._steps import Expect, StreamExpect, SyncStep

__all__ = [
    "PLAN_FORMAT_VERSION",
    "ApplyResult",
    "Blocker",
    "Change",
    "ConnectionPlan",
    "LiveConnection",
    "Plan",
    "PlanTarget",
    "SourceChange",
    "apply_command",
    "apply_plan",
    "drift_expectations",
    "make_plan",
    "plan_connection",
    "plan_targets",
]


def apply_command(pipeline_file: str, connection: str) -> str:
    """The one command that restores ``connection`` to what ``pipeline_file`` intends."""
    import shlex

    return (
        f"luigi-airbyte apply {shlex.quote(pipeline_file)} --connection {shlex.quote(connection)}"
    )


# --- targets ---------------------------------------------------------------------------------


def plan_targets(
    pipelines: Mapping[str, Iterable[Any]], *, source: str, only: str | None = None
) -> list[PlanTarget]:
    """The connections named by sync steps with ``expect:`` (``pipelines``: name -> steps).

    Two steps naming one connection must expect the same thing; ``only`` keeps the one
    connection whose reference, step name or id is ``only``.
    """
    found: dict[str, PlanTarget] = {}
    for pipeline, steps in pipelines.items():
        for step in steps:
            if not isinstance(step, SyncStep) or step.expect is None:
                continue
            ref = step.connection
            label = f"{pipeline}.{step.name}"
            seen = found.get(ref)
            if seen is None:
                found[ref] = PlanTarget(ref, (label,), step.expect)
            elif seen.expect != step.expect:
                raise ConfigError(
                    [
                        Problem(
                            source,
                            f"pipelines.{pipeline}.steps.{step.name}.expect",
                            f"connection {ref!r} has a different expect: in {seen.steps[0]}",
                            "give both steps the same expect:, or keep it on one of them",
                        )
                    ]
                )
            else:
                found[ref] = PlanTarget(ref, (*seen.steps, label), seen.expect)
    targets = list(found.values())
    if only is not None:
        targets = [
            t
            for t in targets
            if only == t.connection or any(s == only or s.endswith(f".{only}") for s in t.steps)
        ] or [t for t in targets if t.connection.lower() == only.lower()]
    return targets


def drift_expectations(expect: Expect) -> tuple[dict[str, ExpectedStream], ExpectedConnection]:
    """The drift check's view of an ``expect:`` block (the run's check and plan agree)."""
    streams = {
        name: ExpectedStream(
            sync_mode=e.sync_mode,
            cursor=list(e.cursor) if e.cursor is not None else None,
            primary_key=[list(k) for k in e.primary_key] if e.primary_key is not None else None,
            selected=e.selected if e.selected is not None else True,
        )
        for name, e in expect.streams.items()
    }
    schedule = expect.schedule
    conn = ExpectedConnection(
        status=expect.status or "active",
        schedule_type=schedule.type if schedule is not None else None,
        cron_expression=schedule.cron if schedule is not None else None,
        namespace_definition=expect.namespace,
        namespace_format=expect.namespace_format,
        prefix=expect.prefix,
        non_breaking_schema_updates_behavior=expect.schema_changes,
    )
    return streams, conn


# --- diffing one connection ------------------------------------------------------------------


def _mode(mode: str | None) -> str:
    if mode is None:
        return "(none)"
    label = SYNC_MODE_LABELS.get(mode)
    return f"{mode} ({label})" if label else mode


def _path(p: Sequence[str]) -> str:
    return ".".join(p) if p else "(none)"


def _cron(expr: str | None) -> str | None:
    """Airbyte appends the time zone (``0 0 2 * * ? UTC``); compare without it."""
    if expr is None:
        return None
    parts = expr.split()
    if parts and parts[-1] == "UTC":
        parts = parts[:-1]
    return " ".join(parts)


def _schedule_text(stype: str | None, cron: str | None) -> str:
    return f"cron {cron!r}" if stype == "cron" else str(stype or "(none)")


def _ns(value: str | None) -> str | None:
    return "custom_format" if value == "customformat" else value


@dataclass(frozen=True)
class LiveConnection:
    """What Airbyte says about one connection: its live configuration, what its source
    offers (``GET /streams``), and the source's fresh discover and the stored catalog
    (config API); None where Airbyte could not say."""

    conn: Connection
    props: Sequence[StreamProperties] | None = None
    discovered: Sequence[DiscoveredStream] | None = None
    stored: Sequence[StoredStream] | None = None


class _Planner:
    def __init__(self, target: PlanTarget, live: LiveConnection, pipeline_file: str) -> None:
        self.t = target
        self.exp = target.expect
        self.conn = conn = live.conn
        props, discovered, stored = live.props, live.discovered, live.stored
        self.props = {p.stream_name: p for p in props} if props is not None else None
        self.discovered = {d.name: d for d in discovered} if discovered is not None else None
        self.stored = {s.name: s for s in stored} if stored is not None else None
        self.file = pipeline_file
        self.plan = ConnectionPlan(
            target.connection, target.steps, conn.connection_id, conn.name or None
        )
        self.body: Json = {}
        self.send_streams = False

    def change(self, path: str, action: Any, airbyte: Any, intended: Any, message: str) -> None:
        self.plan.changes.append(Change(path, action, airbyte, intended, message))

    def block(self, stream: str | None, message: str, fix: str) -> None:
        self.plan.blockers.append(Blocker(stream, message, fix))

    # connection-level settings -------------------------------------------------------------

    def settings(self) -> None:
        c, e = self.conn, self.exp
        status = e.status or "active"
        if c.status.value != status:
            reason = f" ({c.status_reason})" if c.status_reason else ""
            self.change(
                "status",
                "update",
                c.status.value,
                status,
                f"connection is {c.status.value}{reason}; the file intends {status}",
            )
            self.body["status"] = status
        if e.schedule is not None:
            actual = (
                c.schedule_type,
                _cron(c.cron_expression) if c.schedule_type == "cron" else None,
            )
            intended = (e.schedule.type, _cron(e.schedule.cron))
            if actual != intended:
                self.change(
                    "schedule",
                    "update",
                    _schedule_text(*actual),
                    _schedule_text(*intended),
                    f"Airbyte schedules it {_schedule_text(*actual)}, the file intends "
                    f"{_schedule_text(*intended)}",
                )
                sched: Json = {"scheduleType": e.schedule.type}
                if e.schedule.cron is not None:
                    sched["cronExpression"] = e.schedule.cron
                self.body["schedule"] = sched
        simple = (
            ("namespace", "namespaceDefinition", e.namespace, _ns(c.namespace_definition)),
            ("namespace_format", "namespaceFormat", e.namespace_format, c.namespace_format),
            ("prefix", "prefix", e.prefix, c.prefix or ""),
            (
                "schema_changes",
                "nonBreakingSchemaUpdatesBehavior",
                e.schema_changes,
                c.non_breaking_schema_updates_behavior,
            ),
        )
        for path, key, intended_value, actual_value in simple:
            if intended_value is not None and intended_value != actual_value:
                self.change(
                    path,
                    "update",
                    actual_value,
                    intended_value,
                    f"{path} is {actual_value!r}, the file intends {intended_value!r}",
                )
                self.body[key] = intended_value

    # streams ---------------------------------------------------------------------------------

    def fields_of(self, stream: str) -> list[str] | None:
        """Top-level fields the source offers for ``stream`` now; None when unknown."""
        if self.discovered is not None and stream in self.discovered:
            return list(self.discovered[stream].columns)
        if self.props is not None and stream in self.props:
            fields = self.props[stream].property_fields
            return list(dict.fromkeys(f[0] for f in fields if f)) if fields else None
        return None

    def offered(self, stream: str) -> bool | None:
        if self.props is not None:
            return stream in self.props
        if self.discovered is not None:
            return stream in self.discovered
        return None

    def streams(self) -> list[Json]:
        """Diff each named stream; return the stream list the PATCH would carry."""
        current = {s.name: s for s in self.conn.streams}
        entries: dict[str, Json] = {n: _entry(s) for n, s in current.items()}
        for name, e in self.exp.streams.items():
            cfg = current.get(name)
            offered = self.offered(name)
            if e.selected is False:
                if cfg is not None:
                    self.change(
                        f"streams.{name}",
                        "deselect",
                        "selected",
                        "not selected",
                        f"stream {name!r} is synced; the file intends it not to be",
                    )
                    entries.pop(name, None)
                    self.send_streams = True
                continue
            if offered is False:
                self.block(
                    name,
                    f"stream {name!r} is not offered by the source any more",
                    f"remove it from expect.streams in {self.file} (or restore it at the "
                    "source, then refresh the source schema in Airbyte)",
                )
                continue
            if cfg is None:
                self.change(
                    f"streams.{name}",
                    "select",
                    "not selected",
                    "selected",
                    f"stream {name!r} is not synced; the file intends it to be",
                )
                entries[name] = {"name": name}
                self.send_streams = True
            self.stream(name, e, cfg, entries[name])
        return list(entries.values())

    def stream(self, name: str, e: StreamExpect, cfg: StreamConfig | None, entry: Json) -> None:
        """What differs in one stream that ``expect:`` names; ``entry`` gets the values to
        send."""
        prop = self.props.get(name) if self.props is not None else None
        fields = self.fields_of(name)
        if e.sync_mode is not None:
            self._sync_mode(name, e.sync_mode, cfg, entry)
        if e.cursor is not None:
            self._cursor(name, e.cursor, cfg, entry, prop, fields)
        if e.primary_key is not None:
            self._primary_key(name, e.primary_key, cfg, entry, prop, fields)
        if e.selected_fields is not None:
            self._selected_fields(name, e.selected_fields, cfg, entry, fields)

    def _intend(
        self,
        cfg: StreamConfig | None,
        entry: Json,
        key: str,
        value: Any,
        change: tuple[str, Any, Any, str],
    ) -> None:
        """Send ``key: value`` for this stream; a configured stream also shows the change
        (``path, airbyte, intended, message``)."""
        if cfg is not None:
            path, airbyte, intended, message = change
            self.change(path, "update", airbyte, intended, message)
        entry[key] = value
        self.send_streams = True

    def _sync_mode(self, name: str, mode: str, cfg: StreamConfig | None, entry: Json) -> None:
        actual = cfg.sync_mode if cfg is not None else None
        if actual != mode:
            message = f"stream {name!r} syncs as {_mode(actual)}, the file intends {_mode(mode)}"
            change = (f"streams.{name}.sync_mode", actual, mode, message)
            self._intend(cfg, entry, "syncMode", mode, change)

    def _cursor(
        self,
        name: str,
        cursor: tuple[str, ...],
        cfg: StreamConfig | None,
        entry: Json,
        prop: StreamProperties | None,
        fields: list[str] | None,
    ) -> None:
        actual: tuple[str, ...] = cfg.cursor_field if cfg is not None else ()
        if not actual and prop is not None and prop.source_defined_cursor:
            actual = prop.default_cursor_field
        if fields is not None and cursor[0] not in fields:
            self.block(
                name,
                f"cursor {_path(cursor)} of stream {name!r} no longer exists at the source",
                f"change expect.streams.{name}.cursor in {self.file} to an existing field "
                f"({', '.join(fields[:10])})",
            )
        elif actual != cursor:
            message = (
                f"stream {name!r} uses cursor {_path(actual)}, the file intends {_path(cursor)}"
            )
            change = (f"streams.{name}.cursor", list(actual), list(cursor), message)
            self._intend(cfg, entry, "cursorField", list(cursor), change)

    def _primary_key(
        self,
        name: str,
        key: tuple[tuple[str, ...], ...],
        cfg: StreamConfig | None,
        entry: Json,
        prop: StreamProperties | None,
        fields: list[str] | None,
    ) -> None:
        actual: tuple[tuple[str, ...], ...] = cfg.primary_key if cfg is not None else ()
        if not actual and prop is not None:
            actual = prop.source_defined_primary_key
        gone = [k for k in key if fields is not None and k and k[0] not in fields]
        if gone:
            self.block(
                name,
                f"primary key field(s) {[_path(k) for k in gone]} of stream {name!r} no "
                "longer exist at the source",
                f"change expect.streams.{name}.primary_key in {self.file}",
            )
        elif set(actual) != set(key):
            message = (
                f"stream {name!r} has primary key {[_path(k) for k in actual]}, the "
                f"file intends {[_path(k) for k in key]}"
            )
            intended = [list(k) for k in key]
            change = (f"streams.{name}.primary_key", [list(k) for k in actual], intended, message)
            self._intend(cfg, entry, "primaryKey", intended, change)

    def _selected_fields(
        self,
        name: str,
        selected: Sequence[str],
        cfg: StreamConfig | None,
        entry: Json,
        fields: list[str] | None,
    ) -> None:
        actual = (
            sorted({f[0] for f in cfg.selected_fields if f})
            if cfg is not None and cfg.selected_fields
            else None
        )
        intended = sorted(set(selected))
        gone = [f for f in intended if fields is not None and f not in fields]
        if gone:
            self.block(
                name,
                f"selected field(s) {gone} of stream {name!r} no longer exist at the source",
                f"remove them from expect.streams.{name}.selected_fields in {self.file}",
            )
        elif actual != intended:
            message = (
                f"stream {name!r} syncs "
                + (", ".join(actual) if actual else "all fields")
                + f"; the file intends {', '.join(intended)}"
            )
            shown = actual if actual is not None else "(all fields)"
            change = (f"streams.{name}.selected_fields", shown, intended, message)
            value = [{"fieldPath": [f]} for f in selected]
            self._intend(cfg, entry, "selectedFields", value, change)

    def configured_validity(self, entries: list[Json]) -> list[Json]:
        """Streams the source dropped leave the list; a cursor or key it dropped blocks."""
        kept = []
        named = self.exp.streams
        for entry in entries:
            name = str(entry["name"])
            if self.offered(name) is False:
                if name not in named:  # named ones were reported as blockers already
                    self.plan.notes.append(
                        f"stream {name!r} is selected but the source no longer offers it; "
                        "apply leaves it out"
                    )
                    self.send_streams = True
                continue
            kept.append(entry)
            fields = self.fields_of(name)
            if fields is None:
                continue
            e = named.get(name)
            mode = str(entry.get("syncMode") or "")
            prop = self.props.get(name) if self.props is not None else None
            source_cursor = prop is not None and prop.source_defined_cursor
            cursor = entry.get("cursorField") or []
            if (
                (e is None or e.cursor is None)
                and mode.startswith("incremental")
                and not source_cursor
                and cursor
                and cursor[0] not in fields
            ):
                self.block(
                    name,
                    f"cursor {_path(cursor)} of stream {name!r} no longer exists at the source",
                    f"set expect.streams.{name}.cursor in {self.file} to an existing field "
                    f"({', '.join(fields[:10])}), then apply",
                )
            keys = entry.get("primaryKey") or []
            if (e is None or e.primary_key is None) and "dedup" in mode:
                gone = [k for k in keys if k and k[0] not in fields]
                if gone:
                    self.block(
                        name,
                        f"primary key field(s) {[_path(k) for k in gone]} of stream {name!r} "
                        "no longer exist at the source",
                        f"set expect.streams.{name}.primary_key in {self.file}, then apply",
                    )
        return kept

    # source changes -------------------------------------------------------------------------

    def source(self) -> None:
        selected = {s.name for s in self.conn.streams}
        if self.stored is None or self.discovered is None:
            self.plan.notes.append(
                "source changes since the connection was saved need Airbyte's config API "
                "(stored catalog and discover); only streams the source dropped are checked"
            )
            return
        out = self.plan.source_changes
        for name in sorted(set(self.discovered) - set(self.stored)):
            out.append(
                SourceChange(
                    "stream_added", name, None, False, f"the source offers a new stream {name!r}"
                )
            )
        for name in sorted(set(self.stored) - set(self.discovered)):
            used = name in selected
            out.append(
                SourceChange(
                    "stream_removed",
                    name,
                    None,
                    used,
                    f"the source no longer offers stream {name!r}"
                    + (" (it is selected)" if used else ""),
                )
            )
        for name in sorted(set(self.stored) & set(self.discovered) & selected):
            before = self.stored[name].columns
            now = self.discovered[name].columns
            for col in [c for c in now if c not in before]:
                out.append(
                    SourceChange(
                        "field_added", name, col, False, f"new field {name}.{col} at the source"
                    )
                )
            for col in [c for c in before if c not in now]:
                out.append(
                    SourceChange(
                        "field_removed",
                        name,
                        col,
                        True,
                        f"field {name}.{col} was removed at the source",
                    )
                )

    def build(self) -> ConnectionPlan:
        self.settings()
        entries = self.streams()
        entries = self.configured_validity(entries)
        self.source()
        if self.plan.source_changes and not self.plan.blockers:
            self.change(
                "catalog",
                "refresh",
                "saved with an older source schema",
                "the source's current schema",
                "save the streams again so the connection takes the source's current schema "
                "(new streams stay unselected; new fields sync unless selected_fields limits them)",
            )
            self.send_streams = True
        if self.send_streams:
            self.body["configurations"] = {"streams": entries}
        if self.plan.changes and not self.plan.blockers:
            self.plan.patch = self.body
        return self.plan


def _entry(cfg: StreamConfig) -> Json:
    """A selected stream as it is, ready to send back unchanged."""
    out: Json = {"name": cfg.name}
    if cfg.namespace:
        out["namespace"] = cfg.namespace
    if cfg.sync_mode:
        out["syncMode"] = cfg.sync_mode
    if cfg.cursor_field:
        out["cursorField"] = list(cfg.cursor_field)
    if cfg.primary_key:
        out["primaryKey"] = [list(k) for k in cfg.primary_key]
    if cfg.selected_fields:
        out["selectedFields"] = [{"fieldPath": list(f)} for f in cfg.selected_fields]
    return out


def plan_connection(target: PlanTarget, live: LiveConnection, pipeline_file: str) -> ConnectionPlan:
    """Diff one live connection against its target (pure: no I/O)."""
    return _Planner(target, live, pipeline_file).build()


# --- with Airbyte ----------------------------------------------------------------------------


class _Airbyte:
    """What plan and apply need from Airbyte (the runtime's client and name lookup)."""

    def __init__(self, runtime: Any) -> None:
        self.rt = runtime
        self.discovered: dict[str, list[DiscoveredStream] | None] = {}  # per source: one discover

    def discover(self, source_id: str) -> list[DiscoveredStream] | None:
        if source_id not in self.discovered:
            self.discovered[source_id] = self.rt.client().discover_schema(source_id)
        return self.discovered[source_id]

    def plan(self, target: PlanTarget, pipeline_file: str) -> ConnectionPlan:
        client = self.rt.client()
        try:
            found = self.rt.connection(target.connection)
            conn = client.get_connection(found.connection_id)  # always the live configuration
            props = client.get_stream_properties(conn.source_id, conn.destination_id)
            stored = client.get_stored_catalog(conn.connection_id)
            discovered = self.discover(conn.source_id) if stored is not None else None
        except LuigiAirbyteError as exc:
            return ConnectionPlan(target.connection, target.steps, error=self.rt.redact(str(exc)))
        return plan_connection(
            target, LiveConnection(conn, props, discovered, stored), pipeline_file
        )


def make_plan(runtime: Any, targets: Sequence[PlanTarget], pipeline_file: str) -> Plan:
    """Ask Airbyte about every target; a connection Airbyte cannot answer for is an error."""
    airbyte = _Airbyte(runtime)
    return Plan(pipeline_file, [airbyte.plan(t, pipeline_file) for t in targets])


def apply_plan(
    runtime: Any,
    plan: Plan,
    *,
    on_applied: Callable[[ConnectionPlan], None] | None = None,
) -> ApplyResult:
    """One PATCH per connection with changes, in plan order; stop at the first refusal.

    A connection with blockers is skipped (its fix is in the file). A KeyboardInterrupt
    stops before the next PATCH; the one in flight, being one request, lands whole or not.
    """
    result = ApplyResult()
    if plan.errors:
        raise AirbyteError(
            "apply changed nothing: Airbyte could not be asked about "
            + "; ".join(f"{c.connection!r} ({c.error})" for c in plan.errors)
        )
    client = runtime.client()
    queue = list(plan.connections)
    while queue:
        cp = queue.pop(0)
        if cp.blockers:
            result.blocked.append(cp)
            continue
        if cp.patch is None or cp.connection_id is None:
            result.unchanged.append(cp)
            continue
        try:
            client.patch_connection(cp.connection_id, cp.patch)
        except KeyboardInterrupt:
            result.interrupted = True
            return result.stopped_at(
                cp, "interrupted while sending; run plan to see whether it landed", queue
            )
        except LuigiAirbyteError as exc:
            return result.stopped_at(cp, runtime.redact(str(exc)), queue)
        result.applied.append(cp)
        if on_applied is not None:
            on_applied(cp)
    return result
