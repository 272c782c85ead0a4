"""The Airbyte protocol as the sandbox needs it: message lines, catalogs, failures.

A connector prints one JSON object per line (``RECORD``, ``STATE``, ``TRACE``, ``LOG``,
``SPEC``, ``CATALOG``, ``CONNECTION_STATUS``, ``CONTROL``). Anything else on stdout is a
protocol violation and fails the attempt with the offending line quoted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from luigi_airbyte.sandbox.datagen import StreamSchema
from luigi_airbyte.sandbox.jobstate import failure_reason
from luigi_airbyte.sandbox.world import SourceStream

MESSAGE_TYPES = frozenset(
    {"RECORD", "STATE", "TRACE", "LOG", "SPEC", "CATALOG", "CONNECTION_STATUS", "CONTROL"}
)
#: Airbyte's failureType values that a connector's TRACE error may carry
_FAILURE_TYPES = {"config_error", "system_error", "transient_error"}
HEARTBEAT_DOC = "https://docs.airbyte.com/understanding-airbyte/heartbeats"


class ProtocolError(Exception):
    """A line on the connector's stdout is not an Airbyte protocol message."""


def parse_line(line: str) -> dict[str, Any] | None:
    """One stdout line as a message; None for a blank line; ProtocolError for garbage."""
    text = line.strip()
    if not text:
        return None
    try:
        msg = json.loads(text)
    except ValueError:
        raise ProtocolError(_garbage(text)) from None
    if not isinstance(msg, dict) or msg.get("type") not in MESSAGE_TYPES:
        raise ProtocolError(_garbage(text))
    return msg


def _garbage(text: str) -> str:
    shown = text if len(text) <= 200 else text[:200] + "..."
    return f"the source printed a line that is not an Airbyte protocol message: {shown!r}"


# --------------------------------------------------------------------------- failures


def failure(
    ftype: str,
    external: str,
    internal: str | None = None,
    *,
    origin: str = "source",
    stacktrace: str | None = None,
    retryable: bool = True,
) -> dict[str, Any]:
    """An Airbyte FailureReason (the shape of attempt.failureSummary.failures[])."""
    return failure_reason(origin, ftype, external, internal, retryable, stacktrace=stacktrace)


def trace_failure(trace: dict[str, Any]) -> dict[str, Any]:
    """A TRACE ERROR message as Airbyte reports it: origin source, the connector's type."""
    err = trace.get("error") or {}
    ftype = str(err.get("failure_type") or "system_error")
    if ftype not in _FAILURE_TYPES:
        ftype = "system_error"
    message = str(err.get("message") or "Something went wrong in the connector.")
    return failure(
        ftype,
        message,
        str(err.get("internal_message") or message),
        stacktrace=err.get("stack_trace"),
        retryable=ftype != "config_error",
    )


def exit_failure(code: int, stderr_tail: str) -> dict[str, Any]:
    return failure(
        "system_error",
        f"Source process exited with non-zero exit code {code}",
        f"Source process exited with non-zero exit code {code}. Last stderr: {stderr_tail}"
        if stderr_tail
        else None,
    )


def heartbeat_failure(seconds: float) -> dict[str, Any]:
    t = f"{seconds:g} seconds"
    return failure(
        "heartbeat_timeout",
        f"Airbyte detected that the Source didn't send any records in the last {t}, "
        f"exceeding the configured {t} threshold. Airbyte will try reading again on the "
        f"next sync. Please see {HEARTBEAT_DOC} for more info.",
        f"The source sent no message for {t}; the sandbox killed it.",
    )


# --------------------------------------------------------------------------- catalogs


def _column_type(prop: Any) -> str:
    """A JSON-schema property as a sandbox column type; objects/arrays land as JSON text."""
    if not isinstance(prop, dict):
        return "string"
    raw = prop.get("type", "string")
    types = [raw] if isinstance(raw, str) else [t for t in raw if t != "null"]
    kind = types[0] if len(types) == 1 else "string"
    if kind in ("integer", "number", "boolean"):
        return str(kind)
    return "string"


@dataclass(frozen=True)
class DiscoveredStream:
    """A stream of a connector's CATALOG: the raw Airbyte stream and its sandbox schema."""

    raw: dict[str, Any]
    schema: StreamSchema


def catalog_streams(catalog: dict[str, Any]) -> list[DiscoveredStream]:
    out = []
    for raw in catalog.get("streams", []):
        props = (raw.get("json_schema") or {}).get("properties") or {}
        columns = tuple((str(name), _column_type(p)) for name, p in props.items())
        pk = tuple(
            tuple(str(k) for k in key) for key in raw.get("source_defined_primary_key") or []
        )
        cursor = tuple(str(c) for c in raw.get("default_cursor_field") or [])
        schema = StreamSchema(
            name=str(raw["name"]),
            columns=columns,
            primary_key=pk,
            default_cursor=cursor,
            source_defined_cursor=bool(raw.get("source_defined_cursor")),
            spec=SourceStream(name=str(raw["name"])),
        )
        out.append(DiscoveredStream(raw=raw, schema=schema))
    return out


def record_value(value: Any) -> Any:
    """A record field as the writers take it: nested objects and arrays as JSON text."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value
