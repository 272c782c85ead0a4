"""What the sandbox's sources contain: catalogs and records, seeded and deterministic.

A generator stream is a table that changes once per sync ("epoch"): at epoch 0 it holds
``size`` rows, and every later epoch adds ``growth_per_sync`` rows and updates
``updates_per_sync`` existing ones (a new version with a newer cursor), so incremental syncs
see only new and changed rows and dedup has real work. The same seed and epoch always give the
same rows, which is what makes a retried attempt re-send exactly the same records.

File streams are CSV or JSON-lines files, re-read on every sync.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from luigi_airbyte.sandbox.world import Column, SchemaFault, Source, SourceStream, World

Record = dict[str, Any]

_DEFAULT_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "users": [
        ("id", "integer"),
        ("name", "string"),
        ("email", "string"),
        ("updated_at", "timestamp"),
    ],
    "orders": [
        ("id", "integer"),
        ("user_id", "integer"),
        ("amount", "number"),
        ("updated_at", "timestamp"),
    ],
    "events": [("id", "integer"), ("kind", "string"), ("at", "timestamp")],
}
_GENERIC_COLUMNS = [
    ("id", "integer"),
    ("name", "string"),
    ("value", "number"),
    ("updated_at", "timestamp"),
]
_FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Margaret",
    "Niklaus",
    "Radia",
    "Dennis",
    "Sophie",
    "Linus",
    "Katherine",
    "John",
]
_LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Hamilton",
    "Wirth",
    "Perlman",
    "Ritchie",
    "Wilson",
    "Torvalds",
    "Johnson",
    "Backus",
]
_KINDS = ["page_view", "click", "signup", "purchase", "logout"]
_JSON_TYPES = {
    "integer": "integer",
    "number": "number",
    "string": "string",
    "boolean": "boolean",
    "timestamp": "string",
}


class SourceReadError(Exception):
    """A source cannot be read (missing file, bad cursor); the attempt fails with this message."""


@dataclass(frozen=True)
class StreamSchema:
    """One stream of a source's catalog, after schema faults."""

    name: str
    columns: tuple[tuple[str, str], ...]  # (name, ColumnType)
    primary_key: tuple[tuple[str, ...], ...]
    default_cursor: tuple[str, ...]
    source_defined_cursor: bool
    spec: SourceStream = field(compare=False)

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]

    @property
    def supports_incremental(self) -> bool:
        return bool(self.default_cursor) or any(
            t in ("timestamp", "integer") for _, t in self.columns
        )

    def json_schema(self) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for name, typ in self.columns:
            prop: dict[str, Any] = {"type": ["null", _JSON_TYPES[typ]]}
            if typ == "timestamp":
                prop["format"] = "date-time"
                prop["airbyte_type"] = "timestamp_without_timezone"
            props[name] = prop
        return {
            "type": "object",
            "$schema": "http://json-schema.org/draft-07/schema#",
            "properties": props,
        }


# --------------------------------------------------------------------------- catalog


def _generator_columns(spec: SourceStream) -> list[tuple[str, str]]:
    if spec.columns is not None:
        return [(c.name, c.type) for c in spec.columns]
    return list(_DEFAULT_COLUMNS.get(spec.name, _GENERIC_COLUMNS))


def _infer_type(values: Sequence[Any]) -> str:
    seen = [v for v in values if v is not None and v != ""]
    if not seen:
        return "string"
    if all(isinstance(v, bool) for v in seen):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in seen):
        return "integer"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in seen):
        return "number"
    if all(isinstance(v, str) for v in seen):
        for conv, typ in ((int, "integer"), (float, "number")):
            try:
                for v in seen:
                    conv(v)
            except ValueError:
                continue
            return typ
    return "string"


def _convert(value: Any, typ: str) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    if typ == "integer":
        return int(value)
    if typ == "number":
        return float(value)
    if typ == "boolean":
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
    return value if isinstance(value, str) else str(value)


def read_file_rows(path: Path) -> tuple[list[tuple[str, str]], list[Record]]:
    """Columns (with inferred types) and typed rows of a CSV or JSON-lines file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceReadError(f"Could not read file {path}: {exc.strerror or exc}") from None
    raw: list[dict[str, Any]] = []
    names: list[str] = []
    if path.suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        names = list(reader.fieldnames or [])
        raw = [dict(r) for r in reader]
    else:
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SourceReadError(f"{path}:{lineno}: not valid JSON: {exc.msg}") from None
            if not isinstance(obj, dict):
                raise SourceReadError(f"{path}:{lineno}: a JSON-lines record must be an object")
            for k in obj:
                if k not in names:
                    names.append(k)
            raw.append(obj)
    cols = [(n, _infer_type([r.get(n) for r in raw])) for n in names]
    rows = [{n: _convert(r.get(n), t) for n, t in cols} for r in raw]
    return cols, rows


def _apply_column_faults(
    cols: list[tuple[str, str]], stream: str, fault: SchemaFault | None
) -> list[tuple[str, str]]:
    if fault is None:
        return cols
    removed = set(fault.remove_columns.get(stream, []))
    out = [c for c in cols if c[0] not in removed]
    names = {c[0] for c in out}
    out += [(c.name, c.type) for c in fault.add_columns.get(stream, []) if c.name not in names]
    return out


def source_streams(source: Source, fault: SchemaFault | None) -> list[SourceStream]:
    """The source's streams after added / removed streams."""
    streams = list(source.streams)
    if fault is not None:
        removed = set(fault.remove_streams)
        streams = [s for s in streams if s.name not in removed]
        names = {s.name for s in streams}
        streams += [s for s in fault.add_streams if s.name not in names]
    return streams


def stream_schema(
    world: World, source: Source, spec: SourceStream, fault: SchemaFault | None
) -> StreamSchema:
    """The catalog entry of one stream; file streams peek at the file (empty if unreadable)."""
    if source.type == "file" and spec.path:
        try:
            cols, _ = read_file_rows(world.resolve_path(spec.path))
        except SourceReadError:
            cols = [(c.name, c.type) for c in spec.columns or []]
    else:
        cols = _generator_columns(spec)
    cols = _apply_column_faults(cols, spec.name, fault)
    names = [c for c, _ in cols]
    if spec.primary_key is not None:
        pk = tuple(tuple(p) for p in spec.primary_key)
    else:
        pk = (("id",),) if "id" in names else ()
    if spec.cursor_field is not None:
        cursor: tuple[str, ...] = tuple(spec.cursor_field)
    elif source.type == "generator":
        ts = [c for c, t in cols if t == "timestamp"]
        pref = [c for c in ("updated_at", "at") if c in ts]
        cursor = tuple((pref or ts)[:1])
    else:
        cursor = ()
    return StreamSchema(
        name=spec.name,
        columns=tuple(cols),
        primary_key=pk,
        default_cursor=cursor,
        source_defined_cursor=spec.source_defined_cursor,
        spec=spec,
    )


def catalog(world: World, source: Source, fault: SchemaFault | None) -> list[StreamSchema]:
    return [stream_schema(world, source, s, fault) for s in source_streams(source, fault)]


# --------------------------------------------------------------------------- generator


def _seed(spec: SourceStream) -> int:
    if spec.seed is not None:
        return spec.seed
    return sum(ord(c) * (i + 1) for i, c in enumerate(spec.name))


def updates_per_sync(spec: SourceStream) -> int:
    if spec.updates_per_sync is not None:
        return spec.updates_per_sync
    return spec.growth_per_sync // 2


def rows_at(spec: SourceStream, epoch: int) -> int:
    return spec.size + epoch * spec.growth_per_sync


def _created_epoch(spec: SourceStream, row_id: int) -> int:
    if row_id <= spec.size or spec.growth_per_sync == 0:
        return 0
    return math.ceil((row_id - spec.size) / spec.growth_per_sync)


def last_changes(spec: SourceStream, epoch: int) -> dict[int, int]:
    """row id -> epoch of its latest version, for the table as it is at ``epoch``."""
    seed = _seed(spec)
    versions = {i: _created_epoch(spec, i) for i in range(1, rows_at(spec, epoch) + 1)}
    per = updates_per_sync(spec)
    for e in range(1, epoch + 1):
        n = rows_at(spec, e - 1)
        k = min(per, n)
        if k:
            rng = random.Random(f"{seed}:{spec.name}:updates:{e}")
            for row_id in rng.sample(range(1, n + 1), k):
                versions[row_id] = e
    return versions


def epoch_cursor(epoch_time: float, row_id: int) -> datetime:
    """Cursor of a row version written at an epoch: inside the second before the epoch time.

    Epoch times are at least a second apart, so a later epoch's cursors are always greater.
    """
    base = datetime.fromtimestamp(math.floor(epoch_time) - 1, tz=timezone.utc).replace(tzinfo=None)
    return base + timedelta(microseconds=row_id % 1_000_000)


def _value(
    name: str,
    typ: str,
    rng: random.Random,
    row_id: int,
    version: int,
    cursor: datetime,
    created: datetime,
    is_cursor: bool,
) -> Any:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    if name == "id":
        return row_id if typ == "integer" else str(row_id)
    if typ == "integer":
        return rng.randint(1, 200) if name.endswith("_id") else rng.randint(0, 10_000)
    if typ == "number":
        return round(rng.uniform(5, 500), 2)
    if typ == "boolean":
        return rng.random() < 0.5
    if typ == "timestamp":
        return cursor if is_cursor else created
    if "email" in name:
        return f"{first}.{last}{row_id}@example.com".lower()
    if "name" in name:
        return f"{first} {last}"
    if name in ("kind", "type", "status", "event"):
        return rng.choice(_KINDS)
    return f"{name}-{row_id}-v{version}"


def generate_rows(schema: StreamSchema, epoch: int, epoch_times: Sequence[float]) -> list[Record]:
    """Every row of a generator stream as the table is at ``epoch`` (latest versions)."""
    spec = schema.spec
    seed = _seed(spec)
    cursor_col = schema.default_cursor[0] if schema.default_cursor else None
    rows: list[Record] = []
    for row_id, version in last_changes(spec, epoch).items():
        rng = random.Random(f"{seed}:{spec.name}:{row_id}:{version}")
        cursor = epoch_cursor(epoch_times[version], row_id)
        created = epoch_cursor(epoch_times[_created_epoch(spec, row_id)], row_id)
        rows.append(
            {
                name: _value(name, typ, rng, row_id, version, cursor, created, name == cursor_col)
                for name, typ in schema.columns
            }
        )
    return rows


# --------------------------------------------------------------------------- reading


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, value)
    if isinstance(value, datetime):
        return (2, value)
    return (3, str(value))


def encode_cursor(value: Any) -> dict[str, Any] | None:
    """Cursor state as JSON: datetimes keep their type across a restart."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return {"t": "ts", "v": value.isoformat()}
    return {"t": "raw", "v": value}


def decode_cursor(state: dict[str, Any] | None) -> Any:
    if not state:
        return None
    if state.get("t") == "ts":
        return datetime.fromisoformat(str(state["v"]))
    return state.get("v")


def read_records(
    world: World,
    source: Source,
    schema: StreamSchema,
    *,
    epoch: int,
    epoch_times: Sequence[float],
    cursor_field: str | None,
    cursor_after: Any,
) -> list[Record]:
    """The records one sync emits for a stream, in emission order.

    Incremental reads (``cursor_field`` set) return rows whose cursor is greater than
    ``cursor_after``, ordered by cursor so a checkpoint's cursor is the last committed row's.
    """
    if source.type == "file":
        assert schema.spec.path is not None
        _, raw = read_file_rows(world.resolve_path(schema.spec.path))
        names = [c for c, _ in schema.columns]
        rows = [{n: r.get(n) for n in names} for r in raw]
    else:
        rows = generate_rows(schema, epoch, epoch_times)
    pk = [p[0] for p in schema.primary_key]
    if cursor_field is not None:
        if cursor_field not in schema.column_names:
            raise SourceReadError(
                f"Cursor field {cursor_field!r} is not a column of stream {schema.name!r}"
            )
        after = _sort_key(cursor_after) if cursor_after is not None else None
        rows = [
            r
            for r in rows
            if r.get(cursor_field) is not None
            and (after is None or _sort_key(r[cursor_field]) > after)
        ]
        rows.sort(key=lambda r: (_sort_key(r[cursor_field]), [_sort_key(r.get(k)) for k in pk]))
    elif pk and source.type == "generator":
        rows.sort(key=lambda r: [_sort_key(r.get(k)) for k in pk])
    return rows


def record_bytes(record: Record) -> int:
    """Serialized size of a record as the platform would count it."""
    return len(json.dumps(record, default=str, separators=(",", ":")).encode())


__all__ = [
    "Column",
    "Record",
    "SourceReadError",
    "StreamSchema",
    "catalog",
    "decode_cursor",
    "encode_cursor",
    "generate_rows",
    "read_records",
    "record_bytes",
    "source_streams",
    "stream_schema",
]
