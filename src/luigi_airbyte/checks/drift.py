"""Drift: does the connection in Airbyte still match what the pipeline file expects?

Someone changes a sync mode in the UI, a source drops a column, a stream gets
deselected: the sync still "succeeds", and the damage shows up days later downstream.
This module diffs a ``Connection`` against the expectations, and (when given) against
what the source offers (``GET /streams``) and its discovered schema, and says for each
difference what differs and where to fix it: in the Airbyte UI or in the pipeline file.

``diff_connection`` returns a ``DriftReport`` (the full diff, JSON-ready);
``DriftReport.to_results()`` turns it into one ``CheckResult`` per stream, plus one for
the connection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from luigi_airbyte.airbyte.models import (
    Connection,
    DiscoveredStream,
    StreamConfig,
    StreamProperties,
)
from luigi_airbyte.checks.drift_types import (
    Difference,
    DriftReport,
    ExpectedConnection,
    ExpectedStream,
)
from luigi_airbyte.checks.result import Severity
from luigi_airbyte.vocabulary import SYNC_MODE_PARTS

__all__ = [
    "SYNC_MODE_LABELS",
    "Difference",
    "DriftReport",
    "ExpectedConnection",
    "ExpectedStream",
    "diff_connection",
]

#: The Airbyte UI's label of each sync mode ("Incremental | Append + Deduped").
SYNC_MODE_LABELS: Mapping[str, str] = {mode: p.label for mode, p in SYNC_MODE_PARTS.items()}
_MAX_LISTED = 10
# Differences that live in Airbyte's connection settings (not in the source): a PATCH of
# the connection, i.e. `luigi-airbyte apply`, puts them back.
AIRBYTE_SIDE = frozenset(
    {
        "status",
        "schedule_type",
        "cron_expression",
        "namespace_definition",
        "namespace_format",
        "prefix",
        "non_breaking_schema_updates_behavior",
        "selected",
        "missing_stream",
        "sync_mode",
        "cursor",
        "primary_key",
        "columns_not_selected",
    }
)


def _label(mode: str | None) -> str:
    if mode is None:
        return "(none)"
    return f"{mode} ({SYNC_MODE_LABELS[mode]})" if mode in SYNC_MODE_LABELS else mode


def _path(path: Sequence[str]) -> str:
    return ".".join(path) if path else "(none)"


def _keys(keys: Sequence[Sequence[str]]) -> str:
    return "[" + ", ".join(_path(k) for k in keys) + "]" if keys else "(none)"


def _listed(names: Sequence[str]) -> str:
    more = f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else ""
    return ", ".join(names[:_MAX_LISTED]) + more


def _find(items: Sequence[Any], name: str, namespace: str | None, attr: str) -> list[Any]:
    return [
        i
        for i in items
        if getattr(i, attr) == name and (namespace is None or i.namespace == namespace)
    ]


class _Differ:
    """Collects differences for one connection; one method per kind of check."""

    def __init__(self, connection: Connection) -> None:
        self.conn = connection
        self.label = connection.name or connection.connection_id
        self.found: list[Difference] = []

    def add(
        self,
        stream: str | None,
        kind: str,
        message: str,
        fix: str,
        *,
        expected: Any = None,
        actual: Any = None,
        severity: Severity = "error",
    ) -> None:
        self.found.append(Difference(stream, kind, message, fix, expected, actual, severity))

    def ui(self, stream: str, what: str) -> str:
        return (
            f"in the Airbyte UI open connection {self.label!r} → Schema → stream {stream!r} "
            f"and {what}"
        )

    # --- connection level -------------------------------------------------------------

    def connection(self, exp: ExpectedConnection) -> None:
        c = self.conn
        if exp.status is not None and c.status.value != exp.status.lower():
            reason = f" ({c.status_reason})" if c.status_reason else ""
            self.add(
                None,
                "status",
                f"connection {self.label!r} is {c.status.value}{reason}, expected {exp.status}.",
                f"set it to {exp.status} in the Airbyte UI (connection toggle), or PATCH "
                f"/connections/{c.connection_id} with status={exp.status}.",
                expected=exp.status,
                actual=c.status.value,
            )
        self._setting(
            "schedule_type",
            "schedule type",
            exp.schedule_type,
            c.schedule_type,
            "Settings → Schedule type (manual when luigi-airbyte triggers the syncs)",
        )
        if exp.cron_expression is not None and not _same_cron(
            exp.cron_expression, c.cron_expression
        ):
            self.add(
                None,
                "cron_expression",
                f"cron expression is {c.cron_expression!r}, expected {exp.cron_expression!r}.",
                "change it under Settings → Schedule in the Airbyte UI, or the "
                "expectation in the pipeline file.",
                expected=exp.cron_expression,
                actual=c.cron_expression,
            )
        self._setting(
            "namespace_definition",
            "destination namespace",
            _ns(exp.namespace_definition),
            _ns(c.namespace_definition),
            "Settings → Destination namespace",
        )
        self._setting(
            "namespace_format",
            "namespace format",
            exp.namespace_format,
            c.namespace_format,
            "Settings → Destination namespace (custom format)",
        )
        self._setting("prefix", "stream prefix", exp.prefix, c.prefix, "Settings → Stream prefix")
        self._setting(
            "non_breaking_schema_updates_behavior",
            "schema-change behaviour",
            exp.non_breaking_schema_updates_behavior,
            c.non_breaking_schema_updates_behavior,
            "Settings → Detect and propagate schema changes",
        )

    def _setting(
        self, kind: str, label: str, expected: str | None, actual: str | None, where: str
    ) -> None:
        if expected is None or expected == actual:
            return
        self.add(
            None,
            kind,
            f"{label} is {actual!r}, expected {expected!r}.",
            f"change it in the Airbyte UI ({where}), or the expectation in the "
            "pipeline file if the new value is intended.",
            expected=expected,
            actual=actual,
        )

    # --- one expected stream ------------------------------------------------------------

    def stream(
        self,
        name: str,
        exp: ExpectedStream,
        props: Sequence[StreamProperties] | None,
        discovered: Sequence[DiscoveredStream] | None,
    ) -> None:
        configs = _find(self.conn.streams, name, exp.namespace, "name")
        prop = _one(_find(props, name, exp.namespace, "stream_name")) if props is not None else None
        if len(configs) > 1:
            spaces = ", ".join(sorted(str(c.namespace) for c in configs))
            self.add(
                name,
                "ambiguous_stream",
                f"stream {name!r} is selected in several namespaces ({spaces}).",
                f"set namespace for {name!r} under expect.streams in the pipeline file.",
            )
            return
        config: StreamConfig | None = configs[0] if configs else None
        if not exp.selected:
            if config is not None:
                self.add(
                    name,
                    "selected",
                    f"stream {name!r} is synced, but the pipeline expects it not to be.",
                    self.ui(name, "deselect it") + "; or set selected: true in the pipeline file.",
                    expected=False,
                    actual=True,
                )
            return
        if config is None:
            self._missing(name, props, prop)
        else:
            self._expectation(name, exp, config, prop)
            if props is not None:
                self._catalog(name, config, prop)
        if discovered is not None:
            self._discovered(name, exp, config, discovered)
        self._columns(name, exp, config, prop, discovered)

    def _missing(
        self, name: str, props: Sequence[StreamProperties] | None, prop: StreamProperties | None
    ) -> None:
        if props is not None and prop is None:
            offered = sorted({p.stream_name for p in props})
            self.add(
                name,
                "not_offered",
                f"the source does not offer a stream named {name!r} "
                f"(it offers: {_listed(offered) or 'none'}).",
                "fix the stream name under expect.streams in the pipeline file, or check "
                "the source's configuration in Airbyte.",
            )
            return
        self.add(
            name,
            "missing_stream",
            f"stream {name!r} is not selected in connection {self.label!r}.",
            self.ui(name, "enable it") + "; or remove it from expect.streams in the pipeline file.",
            expected=True,
            actual=False,
        )

    def _expectation(
        self, name: str, exp: ExpectedStream, cfg: StreamConfig, prop: StreamProperties | None
    ) -> None:
        if exp.sync_mode is not None and cfg.sync_mode != exp.sync_mode:
            self._stream_differs(
                name, "sync_mode", "syncs as", "sync mode", _label, exp.sync_mode, cfg.sync_mode
            )
        cursor = cfg.cursor_field
        if not cursor and prop is not None and prop.source_defined_cursor:
            cursor = prop.default_cursor_field
        if exp.cursor_path is not None and cursor != exp.cursor_path:
            self._stream_differs(
                name, "cursor", "uses cursor", "cursor field", _path, exp.cursor_path, cursor
            )
        keys = cfg.primary_key
        if not keys and prop is not None:
            keys = prop.source_defined_primary_key
        if exp.key_paths is not None and set(keys) != set(exp.key_paths):
            self._stream_differs(
                name, "primary_key", "has primary key", "primary key", _keys, exp.key_paths, keys
            )

    def _stream_differs(
        self,
        name: str,
        kind: str,
        says: str,
        setting: str,
        show: Callable[[Any], str],
        expected: Any,
        actual: Any,
    ) -> None:
        """A stream's ``kind`` (also its key under expect.streams) differs from the file."""
        self.add(
            name,
            kind,
            f"stream {name!r} {says} {show(actual)}, the pipeline expects {show(expected)}.",
            self.ui(name, f"set the {setting} to {show(expected)}") + "; or "
            f"change expect.streams.{name}.{kind} in the pipeline file.",
            expected=expected,
            actual=actual,
        )

    def _catalog(self, name: str, cfg: StreamConfig, prop: StreamProperties | None) -> None:
        """Validate the configured stream against what the source and destination offer."""
        if prop is None:
            self.add(
                name,
                "not_offered",
                f"stream {name!r} is selected, but the source no longer offers it.",
                f"refresh the source schema of connection {self.label!r} in the Airbyte UI "
                "and review the stream; or remove it from the pipeline file.",
            )
            return
        mode = cfg.sync_mode
        if mode and prop.sync_modes and mode not in prop.sync_modes:
            self._unsupported_mode(
                name,
                mode,
                prop.sync_modes,
                f"sync mode {_label(mode)} of stream {name!r} is not supported by this "
                f"source and destination (supported: {', '.join(prop.sync_modes)}).",
            )
        fields = set(prop.property_fields)
        if mode and mode.startswith("incremental") and not prop.source_defined_cursor:
            if not cfg.cursor_field:
                self.add(
                    name,
                    "missing_cursor",
                    f"stream {name!r} is incremental but has no cursor field.",
                    self.ui(name, "choose a cursor field") + ".",
                )
            elif fields and cfg.cursor_field not in fields:
                self.add(
                    name,
                    "cursor_not_in_schema",
                    f"cursor {_path(cfg.cursor_field)} of stream {name!r} is not a field "
                    "of the stream.",
                    self.ui(name, "choose an existing cursor field") + ".",
                    actual=cfg.cursor_field,
                )
        keys = cfg.primary_key or prop.source_defined_primary_key
        if mode and "dedup" in mode and not keys:
            self.add(
                name,
                "dedup_without_pk",
                f"stream {name!r} deduplicates ({_label(mode)}) but has no primary key.",
                self.ui(name, "set a primary key, or use a non-deduplicating mode") + ".",
            )
        missing = [k for k in cfg.primary_key if fields and k not in fields]
        if missing:
            self.add(
                name,
                "pk_not_in_schema",
                f"primary key field(s) {_keys(missing)} of stream {name!r} are not fields "
                "of the stream.",
                self.ui(name, "fix the primary key") + ".",
                actual=missing,
            )

    def _discovered(
        self,
        name: str,
        exp: ExpectedStream,
        cfg: StreamConfig | None,
        discovered: Sequence[DiscoveredStream],
    ) -> None:
        disc = _one(_find(discovered, name, exp.namespace, "name"))
        if disc is None:
            self.add(
                name,
                "not_discovered",
                f"the source's discovered schema has no stream {name!r}.",
                "check the source in Airbyte (permissions, renamed table); or remove the "
                "stream from the pipeline file.",
            )
            return
        mode = cfg.sync_mode if cfg is not None else None
        source_mode = "incremental" if mode and mode.startswith("incremental") else "full_refresh"
        if mode and disc.supported_sync_modes and source_mode not in disc.supported_sync_modes:
            self._unsupported_mode(
                name,
                mode,
                disc.supported_sync_modes,
                f"the source reads stream {name!r} only as "
                f"{', '.join(disc.supported_sync_modes)}, but it syncs as {_label(mode)}.",
            )

    def _unsupported_mode(
        self, name: str, mode: str, supported: Sequence[str], message: str
    ) -> None:
        """The stream syncs as ``mode``, which is not ``supported`` (by what ``message`` says:
        the source and destination's ``GET /streams``, or the source's discovered schema)."""
        self.add(
            name,
            "unsupported_sync_mode",
            message,
            self.ui(name, "pick a supported sync mode") + ".",
            expected=list(supported),
            actual=mode,
        )

    def _columns(
        self,
        name: str,
        exp: ExpectedStream,
        cfg: StreamConfig | None,
        prop: StreamProperties | None,
        discovered: Sequence[DiscoveredStream] | None,
    ) -> None:
        if exp.columns is None:
            return
        wanted = list(dict.fromkeys(exp.columns))
        disc = _one(_find(discovered, name, exp.namespace, "name")) if discovered else None
        available: list[str] | None = None
        if disc is not None:
            available = list(disc.columns)
        elif prop is not None and prop.property_fields:
            available = list(dict.fromkeys(p[0] for p in prop.property_fields if p))
        if available is not None:
            gone = [c for c in wanted if c not in available]
            if gone:
                self.add(
                    name,
                    "missing_columns",
                    f"stream {name!r} no longer has column(s) {_listed(gone)} in the source.",
                    "check the source (renamed or dropped columns) and update downstream "
                    f"models; then update expect.streams.{name}.columns in the pipeline file.",
                    expected=wanted,
                    actual=available,
                )
            new = [c for c in available if c not in wanted]
            if new:
                self.add(
                    name,
                    "new_columns",
                    f"schema change: stream {name!r} has new column(s) {_listed(new)}.",
                    f"add them to expect.streams.{name}.columns in the pipeline file if they "
                    "are expected (and refresh the connection's schema in Airbyte).",
                    expected=wanted,
                    actual=available,
                    severity="warning",
                )
        if cfg is not None and cfg.selected_fields:
            selected = {f[0] for f in cfg.selected_fields if f}
            unselected = [c for c in wanted if c not in selected]
            if unselected:
                self.add(
                    name,
                    "columns_not_selected",
                    f"column(s) {_listed(unselected)} of stream {name!r} are not selected in "
                    "the connection.",
                    self.ui(name, "select those fields") + ".",
                    expected=wanted,
                    actual=sorted(selected),
                )

    # --- streams nobody expected ------------------------------------------------------

    def extra(self, name: str) -> None:
        self.add(
            name,
            "unexpected_stream",
            f"stream {name!r} is synced by connection {self.label!r} but not listed in the "
            "pipeline file.",
            self.ui(name, "deselect it") + f"; or add {name!r} to expect.streams.",
        )


def _one(items: Sequence[Any]) -> Any:
    return items[0] if len(items) == 1 else None


def _ns(value: str | None) -> str | None:
    return "custom_format" if value == "customformat" else value


def _same_cron(expected: str, actual: str | None) -> bool:
    """Whitespace-insensitive; Airbyte appends the time zone (``0 0 12 * * ? UTC``)."""
    if actual is None:
        return False
    e, a = " ".join(expected.split()), " ".join(actual.split())
    return a == e or a.rsplit(" ", 1)[0] == e


def diff_connection(
    connection: Connection,
    expected: Mapping[str, ExpectedStream],
    stream_properties: Sequence[StreamProperties] | None = None,
    discovered: Sequence[DiscoveredStream] | None = None,
    *,
    strict: bool = False,
    expect_connection: ExpectedConnection | None = None,
    apply_hint: str | None = None,
) -> DriftReport:
    """Diff the connection against the expectations; see the module docstring.

    ``apply_hint`` is the command that restores the intended configuration (``luigi-airbyte
    apply FILE --connection NAME``); differences in Airbyte's settings name it as the fix.
    """
    differ = _Differ(connection)
    differ.connection(expect_connection or ExpectedConnection())
    for name, exp in expected.items():
        differ.stream(name, exp, stream_properties, discovered)
    extras = sorted({s.name for s in connection.streams} - set(expected))
    if strict:
        for name in extras:
            differ.extra(name)
    if apply_hint:
        differ.found = [
            replace(
                d, fix=f"run `{apply_hint}` to put back what the pipeline file intends; or {d.fix}"
            )
            if d.kind in AIRBYTE_SIDE
            else d
            for d in differ.found
        ]
    checked = (*expected, *extras) if strict else tuple(expected)
    return DriftReport(
        connection_id=connection.connection_id,
        connection_name=connection.name,
        streams=tuple(checked),
        differences=tuple(differ.found),
        extra_streams=tuple(extras),
    )
