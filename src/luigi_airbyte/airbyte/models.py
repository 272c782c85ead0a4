"""Typed, frozen views of Airbyte's payloads, parsed once at the client boundary.

Parsing is tolerant on purpose: Airbyte adds enum values (``queued`` arrived in 2026)
and the SDKs that used closed enums crashed. An unknown value becomes ``UNKNOWN`` with
a warning, and the raw string is kept so nothing is lost.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

logger = logging.getLogger(__name__)


class JobStatus(str, Enum):
    """Airbyte job status. Only SUCCEEDED, FAILED and CANCELLED are terminal."""

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    INCOMPLETE = "incomplete"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @classmethod
    def parse(cls, value: object) -> JobStatus:
        """Map a wire value to a status; anything unrecognised is UNKNOWN (never an error)."""
        if isinstance(value, str):
            try:
                return cls(value.lower())
            except ValueError:
                pass
        logger.warning("unknown Airbyte job status %r; treating it as not terminal", value)
        return cls.UNKNOWN


_TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class JobType(str, Enum):
    """Job types accepted by ``POST /jobs``."""

    SYNC = "sync"
    RESET = "reset"
    REFRESH = "refresh"
    CLEAR = "clear"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> JobType:
        if isinstance(value, str):
            v = value.lower()
            if v == "reset_connection":
                return cls.RESET
            try:
                return cls(v)
            except ValueError:
                pass
        return cls.UNKNOWN


class ConnectionStatus(str, Enum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    DEPRECATED = "deprecated"
    LOCKED = "locked"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> ConnectionStatus:
        if isinstance(value, str):
            try:
                return cls(value.lower())
            except ValueError:
                pass
        logger.warning("unknown Airbyte connection status %r", value)
        return cls.UNKNOWN


def parse_datetime(value: object) -> datetime | None:
    """Parse ISO-8601 (``...Z``) or epoch seconds into an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
        if seconds > 1e11:  # epoch milliseconds
            seconds /= 1000.0
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(value: object) -> timedelta | None:
    """Parse an ISO-8601 duration such as ``PT8H6M12S``."""
    if not isinstance(value, str):
        return None
    m = _DURATION.match(value.strip())
    if not m:
        return None
    parts = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    return timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _str_tuple(value: object) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return ()


@dataclass(frozen=True, slots=True)
class Job:
    """A job as the public API reports it (``JobResponse``)."""

    job_id: int
    status: JobStatus
    job_type: JobType
    connection_id: str
    start_time: datetime | None = None
    last_updated_at: datetime | None = None
    duration: timedelta | None = None
    bytes_synced: int | None = None
    rows_synced: int | None = None
    raw_status: str = ""

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Job:
        raw_status = data.get("status")
        return cls(
            job_id=int(data["jobId"]),
            status=JobStatus.parse(raw_status),
            job_type=JobType.parse(data.get("jobType")),
            connection_id=str(data.get("connectionId", "")),
            start_time=parse_datetime(data.get("startTime")),
            last_updated_at=parse_datetime(data.get("lastUpdatedAt")),
            duration=parse_duration(data.get("duration")),
            bytes_synced=_int_or_none(data.get("bytesSynced")),
            rows_synced=_int_or_none(data.get("rowsSynced")),
            raw_status=str(raw_status),
        )


@dataclass(frozen=True, slots=True)
class StreamStats:
    """Record and byte counts for one stream (of one attempt, or summed over a job)."""

    name: str
    namespace: str | None = None
    records_emitted: int = 0
    records_committed: int = 0
    bytes_emitted: int = 0
    bytes_committed: int = 0
    records_rejected: int = 0

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> StreamStats:
        """Accept both the flat ``StreamStats`` and the nested ``AttemptStreamStats`` shapes."""
        stats = data.get("stats") if isinstance(data.get("stats"), Mapping) else data
        assert isinstance(stats, Mapping)
        return cls(
            name=str(data.get("streamName", "")),
            namespace=data.get("streamNamespace"),
            records_emitted=_int_or_none(stats.get("recordsEmitted")) or 0,
            records_committed=_int_or_none(stats.get("recordsCommitted")) or 0,
            bytes_emitted=_int_or_none(stats.get("bytesEmitted")) or 0,
            bytes_committed=_int_or_none(stats.get("bytesCommitted")) or 0,
            records_rejected=_int_or_none(stats.get("recordsRejected")) or 0,
        )


@dataclass(frozen=True, slots=True)
class AttemptInfo:
    """One attempt of a job, from the config API."""

    number: int
    status: str
    records_emitted: int = 0
    records_committed: int = 0
    bytes_emitted: int = 0
    bytes_committed: int = 0
    streams: tuple[StreamStats, ...] = ()
    failure_message: str | None = None
    failure_origin: str | None = None
    failure_type: str | None = None
    created_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class JobStats:
    """Totals over every attempt and per stream: what a job really moved."""

    records_emitted: int = 0
    records_committed: int = 0
    bytes_emitted: int = 0
    bytes_committed: int = 0
    records_rejected: int = 0
    streams: tuple[StreamStats, ...] = ()
    attempts: tuple[AttemptInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class JobDetails:
    """A job with attempts and per-stream stats (config API ``jobs/get``); Cloud lacks it."""

    job: Job
    stats: JobStats
    failure_reason: str | None = None


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """How one selected stream of a connection is synced."""

    name: str
    namespace: str | None = None
    sync_mode: str | None = None
    cursor_field: tuple[str, ...] = ()
    primary_key: tuple[tuple[str, ...], ...] = ()
    selected_fields: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> StreamConfig:
        pk = data.get("primaryKey") or []
        fields = data.get("selectedFields") or []
        return cls(
            name=str(data.get("name", "")),
            namespace=data.get("namespace"),
            sync_mode=data.get("syncMode"),
            cursor_field=_str_tuple(data.get("cursorField")),
            primary_key=tuple(_str_tuple(k) for k in pk if isinstance(k, list)),
            selected_fields=tuple(
                _str_tuple(f.get("fieldPath")) for f in fields if isinstance(f, Mapping)
            ),
        )


@dataclass(frozen=True, slots=True)
class Connection:
    """A connection (``ConnectionResponse``)."""

    connection_id: str
    name: str
    source_id: str
    destination_id: str
    workspace_id: str
    status: ConnectionStatus
    streams: tuple[StreamConfig, ...] = ()
    schedule_type: str | None = None
    cron_expression: str | None = None
    namespace_definition: str | None = None
    namespace_format: str | None = None
    prefix: str | None = None
    non_breaking_schema_updates_behavior: str | None = None
    created_at: datetime | None = None
    status_reason: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Connection:
        schedule = data.get("schedule") or {}
        configurations = data.get("configurations") or {}
        streams = configurations.get("streams") or []
        return cls(
            connection_id=str(data["connectionId"]),
            name=str(data.get("name", "")),
            source_id=str(data.get("sourceId", "")),
            destination_id=str(data.get("destinationId", "")),
            workspace_id=str(data.get("workspaceId", "")),
            status=ConnectionStatus.parse(data.get("status")),
            streams=tuple(StreamConfig.from_api(s) for s in streams if isinstance(s, Mapping)),
            schedule_type=schedule.get("scheduleType"),
            cron_expression=schedule.get("cronExpression"),
            namespace_definition=data.get("namespaceDefinition"),
            namespace_format=data.get("namespaceFormat"),
            prefix=data.get("prefix"),
            non_breaking_schema_updates_behavior=data.get("nonBreakingSchemaUpdatesBehavior"),
            created_at=parse_datetime(data.get("createdAt")),
            status_reason=data.get("statusReason"),
        )


@dataclass(frozen=True, slots=True)
class StreamProperties:
    """What the source offers for a stream (``GET /streams``)."""

    stream_name: str
    namespace: str | None = None
    sync_modes: tuple[str, ...] = ()
    default_cursor_field: tuple[str, ...] = ()
    source_defined_cursor: bool = False
    source_defined_primary_key: tuple[tuple[str, ...], ...] = ()
    property_fields: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> StreamProperties:
        return cls(
            stream_name=str(data.get("streamName", "")),
            namespace=data.get("streamnamespace", data.get("streamNamespace")),
            sync_modes=_str_tuple(data.get("syncModes")),
            default_cursor_field=_str_tuple(data.get("defaultCursorField")),
            source_defined_cursor=bool(data.get("sourceDefinedCursorField", False)),
            source_defined_primary_key=tuple(
                _str_tuple(k) for k in (data.get("sourceDefinedPrimaryKey") or [])
            ),
            property_fields=tuple(_str_tuple(k) for k in (data.get("propertyFields") or [])),
        )


@dataclass(frozen=True, slots=True)
class Source:
    source_id: str
    name: str
    source_type: str
    workspace_id: str
    definition_id: str = ""
    configuration: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Source:
        return cls(
            source_id=str(data["sourceId"]),
            name=str(data.get("name", "")),
            source_type=str(data.get("sourceType", "")),
            workspace_id=str(data.get("workspaceId", "")),
            definition_id=str(data.get("definitionId", "")),
            configuration=dict(data.get("configuration") or {}),
        )


@dataclass(frozen=True, slots=True)
class Destination:
    destination_id: str
    name: str
    destination_type: str
    workspace_id: str
    definition_id: str = ""
    configuration: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Destination:
        return cls(
            destination_id=str(data["destinationId"]),
            name=str(data.get("name", "")),
            destination_type=str(data.get("destinationType", "")),
            workspace_id=str(data.get("workspaceId", "")),
            definition_id=str(data.get("definitionId", "")),
            configuration=dict(data.get("configuration") or {}),
        )


@dataclass(frozen=True, slots=True)
class Workspace:
    workspace_id: str
    name: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Workspace:
        return cls(workspace_id=str(data["workspaceId"]), name=str(data.get("name", "")))


@dataclass(frozen=True, slots=True)
class Application:
    """An Airbyte application: a client id and secret. The secret never appears in repr."""

    application_id: str
    name: str
    client_id: str
    client_secret: str = field(repr=False)
    created_at: datetime | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Application:
        return cls(
            application_id=str(data["id"]),
            name=str(data.get("name", "")),
            client_id=str(data.get("clientId", "")),
            client_secret=str(data.get("clientSecret", "")),
            created_at=parse_datetime(data.get("createdAt")),
        )


@dataclass(frozen=True, slots=True)
class ConnectorCheck:
    """Result of a connector check (config API ``check_connection``)."""

    succeeded: bool
    message: str = ""


@dataclass(frozen=True, slots=True)
class DiscoveredStream:
    """A stream as the source's discover reports it: its name and top-level columns."""

    name: str
    namespace: str | None = None
    columns: tuple[str, ...] = ()
    supported_sync_modes: tuple[str, ...] = ()
