"""Validation of ``PATCH /connections/{id}`` values, as the public API applies it.

Malformed values (an unknown enum) are a 400, like the rest of the sandbox; values that
are well formed but that Airbyte cannot use (a cron expression Quartz rejects, a selected
field the stream does not have, field selection that leaves out the cursor or the primary
key) are a 422 with Airbyte's wording, so a client can show the user Airbyte's message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from luigi_airbyte.sandbox.datagen import StreamSchema
from luigi_airbyte.sandbox.errors import BadRequest, Unprocessable

__all__ = ["NON_BREAKING", "check_patch_values", "selected_fields_of"]

NON_BREAKING = ("ignore", "disable_connection", "propagate_columns", "propagate_fully")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/#LW-]+$")
_RANGES = ((0, 59), (0, 59), (0, 23))  # seconds, minutes, hours


def _cron_problem(expression: str) -> str | None:
    parts = expression.split()
    if parts and parts[-1] == "UTC":
        parts = parts[:-1]
    if len(parts) not in (6, 7):
        return (
            f"Invalid cron expression: {expression!r} has {len(parts)} fields; a Quartz cron "
            "expression has 6 or 7 (seconds minutes hours day-of-month month day-of-week [year])"
        )
    for part in parts:
        if not _CRON_FIELD.match(part):
            return f"Invalid cron expression: {expression!r}: illegal characters in {part!r}"
    for part, (low, high) in zip(parts[:3], _RANGES, strict=False):
        for number in re.findall(r"\d+", part.split("/")[0]):
            if not low <= int(number) <= high:
                return f"Invalid cron expression: {expression!r}: {number} is out of range"
    if "?" not in (parts[3], parts[5]):
        return (
            f"Invalid cron expression: {expression!r}: support for specifying both a "
            "day-of-week AND a day-of-month parameter is not implemented; use ? in one"
        )
    return None


def selected_fields_of(stream: Mapping[str, Any]) -> list[list[str]] | None:
    """The ``selectedFields`` of a StreamConfiguration as paths; None when absent."""
    raw = stream.get("selectedFields")
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise BadRequest("selectedFields must be a list of {fieldPath: [...]} objects")
    out: list[list[str]] = []
    for item in raw:
        path = item.get("fieldPath") if isinstance(item, Mapping) else None
        if not isinstance(path, list) or not path or not all(isinstance(p, str) for p in path):
            raise BadRequest("each selectedFields entry needs a non-empty fieldPath list")
        out.append(list(path))
    return out


def _check_stream(stream: Mapping[str, Any], schema: StreamSchema) -> None:
    fields = selected_fields_of(stream)
    if not fields:
        return
    name = schema.name
    columns = set(schema.column_names)
    unknown = [p for p in fields if p[0] not in columns]
    if unknown:
        raise Unprocessable(
            f"Invalid selected field(s) for stream {name}: {unknown}. The stream's fields "
            f"are: {sorted(columns)}."
        )
    chosen = {p[0] for p in fields}
    cursor = stream.get("cursorField") or list(schema.default_cursor)
    mode = str(stream.get("syncMode") or "")
    if mode.startswith("incremental") and cursor and cursor[0] not in chosen:
        raise Unprocessable(
            f"Cursor field {cursor} of stream {name} must be selected when field selection "
            "is enabled."
        )
    keys = stream.get("primaryKey") or [list(k) for k in schema.primary_key]
    if "dedup" in mode:
        missing = [k for k in keys if k and k[0] not in chosen]
        if missing:
            raise Unprocessable(
                f"Primary key field(s) {missing} of stream {name} must be selected when "
                "field selection is enabled."
            )


def check_patch_values(patch: Any, catalog: Sequence[StreamSchema]) -> None:
    """Raise ``BadRequest`` (400) or ``Unprocessable`` (422) for values Airbyte refuses."""
    if not isinstance(patch, Mapping):
        return  # the caller reports a non-object body
    behaviour = patch.get("nonBreakingSchemaUpdatesBehavior")
    if behaviour is not None and behaviour not in NON_BREAKING:
        raise BadRequest(f"Invalid nonBreakingSchemaUpdatesBehavior: {behaviour!r}")
    if "prefix" in patch and patch["prefix"] is not None and not isinstance(patch["prefix"], str):
        raise BadRequest("prefix must be a string")
    schedule = patch.get("schedule")
    if isinstance(schedule, Mapping):
        stype = schedule.get("scheduleType")
        if stype == "basic":
            raise BadRequest("Invalid scheduleType: 'basic' (a PATCH takes manual or cron)")
        expression = schedule.get("cronExpression")
        if stype == "cron" and isinstance(expression, str):
            problem = _cron_problem(expression)
            if problem:
                raise Unprocessable(problem)
    configs = patch.get("configurations")
    streams = configs.get("streams") if isinstance(configs, Mapping) else None
    if isinstance(streams, list):
        schemas = {s.name: s for s in catalog}
        for stream in streams:
            if isinstance(stream, Mapping) and stream.get("name") in schemas:
                _check_stream(stream, schemas[str(stream["name"])])
