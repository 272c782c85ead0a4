"""CloudWatch Logs sink: events buffered and sent with ``PutLogEvents`` in valid batches.

A batch holds at most 10,000 events and 1,048,576 bytes (each event counts its UTF-8
message plus 26 bytes), is sorted by timestamp and spans less than 24 hours. An event
larger than 256 KiB is replaced by a small JSON stub saying so (a cut JSON line is useless).
The error codes in ``RETRYABLE_CODES`` (throttling, service unavailable, internal failure)
and botocore's connection and timeout errors are retried, waiting as
``luigi_airbyte.backoff`` says (equal jitter); other errors are not.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from luigi_airbyte.backoff import Backoff
from luigi_airbyte.observe.events import Event
from luigi_airbyte.observe.sinks.base import DeliveryError, SinkError

__all__ = ["CloudWatchLogsSink", "batch_log_events"]

logger = logging.getLogger(__name__)

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_EVENT_BYTES = 262_144
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000 - 1
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
    }
)
INSTALL_HINT = "CloudWatch Logs needs boto3: pip install 'luigi-airbyte[aws]'"

LogEvent = tuple[int, str]  # (timestamp in ms, message)


def _require_boto3() -> Any:
    try:
        import boto3
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return boto3


def default_stream_name() -> str:
    """``<host>-<pid>-<UTC start>``: unique per process, sortable, no ':' or '*'."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    host = socket.gethostname().replace(":", "-").replace("*", "-") or "host"
    return f"{host}-{os.getpid()}-{stamp}"


def _size(message: str) -> int:
    return len(message.encode("utf-8")) + EVENT_OVERHEAD_BYTES


def batch_log_events(
    events: list[LogEvent],
    *,
    max_events: int = MAX_BATCH_EVENTS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> list[list[LogEvent]]:
    """Split events into ``PutLogEvents`` batches: sorted, size-, count- and span-limited."""
    batches: list[list[LogEvent]] = []
    current: list[LogEvent] = []
    size = 0
    for ev in sorted(events, key=lambda e: e[0]):
        ev_size = _size(ev[1])
        if current and (
            len(current) >= max_events
            or size + ev_size > max_bytes
            or ev[0] - current[0][0] > MAX_BATCH_SPAN_MS
        ):
            batches.append(current)
            current, size = [], 0
        current.append(ev)
        size += ev_size
    if current:
        batches.append(current)
    return batches


class CloudWatchLogsSink:
    """Sends events to a CloudWatch Logs group/stream, creating both if missing.

    ``client`` is any boto3 ``logs`` client (moto in tests); without one, a client is made
    on first use from the default AWS credential chain and ``region``.
    """

    prefers_background = True

    def __init__(
        self,
        log_group: str,
        log_stream: str | None = None,
        client: Any = None,
        region: str | None = None,
        *,
        create: bool = True,
        retention_days: int | None = None,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_batch_events: int = MAX_BATCH_EVENTS,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        buffer_limit: int = 100_000,
    ) -> None:
        if not log_group:
            raise SinkError("a CloudWatch log group name is required")
        if client is None:
            _require_boto3()  # fail at configuration time, not at the first event
        self.log_group = log_group
        self.log_stream = log_stream or default_stream_name()
        self.region = region
        self.name = f"cloudwatch:{log_group}/{self.log_stream}"
        self.create = create
        self.retention_days = retention_days
        self.backoff = backoff or Backoff(attempts=5, base=0.2, cap=5.0)
        self.max_batch_events = min(max_batch_events, MAX_BATCH_EVENTS)
        self.max_batch_bytes = min(max_batch_bytes, MAX_BATCH_BYTES)
        self.buffer_limit = buffer_limit
        self._client = client
        self._sleep = sleep
        self._lock = threading.RLock()
        self._buffer: list[LogEvent] = []
        self._buffer_bytes = 0
        self._ready = False
        self.sent = 0
        self.dropped = 0

    # -- plumbing -----------------------------------------------------------------------

    def _logs(self) -> Any:
        if self._client is None:
            self._client = _require_boto3().client("logs", region_name=self.region)
        return self._client

    def _call(self, op: str, **kwargs: Any) -> Any:
        """Call a client operation, retrying ``RETRYABLE_CODES`` and connection errors."""
        from botocore.exceptions import BotoCoreError, ClientError

        attempts = max(1, self.backoff.attempts)
        for attempt in range(1, attempts + 1):
            try:
                return getattr(self._logs(), op)(**kwargs)
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code not in RETRYABLE_CODES or attempt == attempts:
                    raise
                reason = code
            except BotoCoreError as exc:
                if attempt == attempts:
                    raise
                reason = type(exc).__name__
            delay = self.backoff.delay(attempt)
            logger.info(
                "CloudWatch %s on %s: attempt %d/%d failed (%s); retrying in %.2fs",
                op,
                self.log_group,
                attempt,
                attempts,
                reason,
                delay,
            )
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _ensure_destination(self) -> None:
        """Create the group and stream; 'already exists' is success (other writers race us)."""
        if self._ready or not self.create:
            self._ready = True
            return
        from botocore.exceptions import ClientError

        def tolerate(op: str, **kwargs: Any) -> bool:
            try:
                self._call(op, **kwargs)
                return True
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                    raise
                return False

        created = tolerate("create_log_group", logGroupName=self.log_group)
        if created and self.retention_days:
            self._call(
                "put_retention_policy",
                logGroupName=self.log_group,
                retentionInDays=self.retention_days,
            )
        tolerate("create_log_stream", logGroupName=self.log_group, logStreamName=self.log_stream)
        self._ready = True

    def _put(self, batch: list[LogEvent]) -> None:
        from botocore.exceptions import ClientError

        for recreate in (True, False):
            self._ensure_destination()
            try:
                resp = self._call(
                    "put_log_events",
                    logGroupName=self.log_group,
                    logStreamName=self.log_stream,
                    logEvents=[{"timestamp": ts, "message": msg} for ts, msg in batch],
                )
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code == "ResourceNotFoundException" and recreate and self.create:
                    self._ready = False  # deleted under us: create again, once
                    continue
                raise
            rejected = (resp or {}).get("rejectedLogEventsInfo")
            if rejected:
                logger.warning(
                    "CloudWatch rejected some events in %s (too old, too new or expired): %s",
                    self.log_group,
                    rejected,
                )
            self.sent += len(batch)
            return

    # -- sink API -------------------------------------------------------------------------

    def _message(self, event: Event) -> str:
        msg = json.dumps(event.to_dict(), default=str, ensure_ascii=False, separators=(",", ":"))
        if _size(msg) > MAX_EVENT_BYTES:
            msg = json.dumps(
                {
                    "event": event.name,
                    "at": event.at.isoformat(),
                    "level": event.level,
                    "truncated": True,
                    "original_bytes": len(msg.encode("utf-8")),
                }
            )
        return msg

    def emit(self, event: Event) -> None:
        msg = self._message(event)
        ts = int(event.at.timestamp() * 1000)
        with self._lock:
            self._buffer.append((ts, msg))
            self._buffer_bytes += _size(msg)
            full = (
                len(self._buffer) >= self.max_batch_events
                or self._buffer_bytes >= self.max_batch_bytes
            )
        if full:
            self.flush()

    def flush(self) -> None:
        """Send everything buffered; on failure keep the unsent events and raise."""
        with self._lock:
            pending, self._buffer, self._buffer_bytes = self._buffer, [], 0
            if not pending:
                return
            batches = batch_log_events(
                pending, max_events=self.max_batch_events, max_bytes=self.max_batch_bytes
            )
            for i, batch in enumerate(batches):
                try:
                    self._put(batch)
                except Exception as exc:
                    unsent = [ev for b in batches[i:] for ev in b]
                    self._requeue(unsent)
                    raise DeliveryError(
                        f"could not write {len(unsent)} events to CloudWatch Logs group "
                        f"{self.log_group!r} stream {self.log_stream!r} "
                        f"({type(exc).__name__}: {exc}); they stay buffered for the next flush. "
                        "Check the AWS credentials, region and logs:PutLogEvents permission",
                        sink=self.name,
                        attempts=self.backoff.attempts,
                    ) from exc

    def _requeue(self, unsent: list[LogEvent]) -> None:
        self._buffer = unsent + self._buffer
        overflow = len(self._buffer) - self.buffer_limit
        if overflow > 0:
            self.dropped += overflow
            self._buffer = self._buffer[overflow:]  # keep the newest
            logger.warning(
                "CloudWatch sink %s dropped %d buffered events (buffer limit %d)",
                self.name,
                overflow,
                self.buffer_limit,
            )
        self._buffer_bytes = sum(_size(m) for _, m in self._buffer)

    def close(self) -> None:
        self.flush()
