"""CloudWatchLogsSink against moto: creation, batching limits, order, retries, redaction."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError

from luigi_airbyte.backoff import Backoff
from luigi_airbyte.observe import CloudWatchLogsSink, DeliveryError, Event, EventBus
from luigi_airbyte.observe.redact import Redactor
from luigi_airbyte.observe.sinks.cloudwatch import (
    EVENT_OVERHEAD_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    batch_log_events,
)


class Spy:
    """Wraps a real (moto) client: records calls and can throttle the first N puts."""

    def __init__(self, client: Any, throttle: int = 0, code: str = "ThrottlingException") -> None:
        self.client = client
        self.throttle = throttle
        self.code = code
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, op: str) -> Any:
        real = getattr(self.client, op)

        def call(**kwargs: Any) -> Any:
            self.calls.append((op, kwargs))
            if op == "put_log_events" and self.throttle > 0:
                self.throttle -= 1
                raise ClientError({"Error": {"Code": self.code, "Message": "slow down"}}, op)
            return real(**kwargs)

        return call

    def puts(self) -> list[list[dict[str, Any]]]:
        return [kw["logEvents"] for op, kw in self.calls if op == "put_log_events"]


def read_back(client: Any, group: str, stream: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {
            "logGroupName": group,
            "logStreamName": stream,
            "startFromHead": True,
        }
        if token:
            kwargs["nextToken"] = token
        resp = client.get_log_events(**kwargs)
        out.extend(resp["events"])
        if not resp["events"] or resp["nextForwardToken"] == token:
            return out
        token = resp["nextForwardToken"]


def no_sleep(_: float) -> None:
    return None


def test_events_are_readable_and_group_stream_created(aws: Any) -> None:
    sink = CloudWatchLogsSink("/luigi-airbyte/test", "run-1", client=aws, retention_days=7)
    sink.emit(Event("sync.triggered", {"connection": "crm", "job_id": 7}))
    sink.emit(Event("sync.succeeded", {"connection": "crm", "job_id": 7}))
    sink.close()
    events = read_back(aws, "/luigi-airbyte/test", "run-1")
    assert [json.loads(e["message"])["event"] for e in events] == [
        "sync.triggered",
        "sync.succeeded",
    ]
    group = aws.describe_log_groups(logGroupNamePrefix="/luigi-airbyte/test")["logGroups"][0]
    assert group["retentionInDays"] == 7


def test_creation_is_idempotent(aws: Any) -> None:
    aws.create_log_group(logGroupName="/g")
    aws.create_log_stream(logGroupName="/g", logStreamName="s")
    for n in range(2):  # two writers (or two runs) on the same group and stream
        sink = CloudWatchLogsSink("/g", "s", client=aws)
        sink.emit(Event(f"e{n}"))
        sink.flush()
    assert len(read_back(aws, "/g", "s")) == 2


def test_recreates_a_deleted_group_once(aws: Any) -> None:
    sink = CloudWatchLogsSink("/g", "s", client=aws)
    sink.emit(Event("first"))
    sink.flush()
    aws.delete_log_group(logGroupName="/g")
    sink.emit(Event("second"))
    sink.flush()
    assert [json.loads(e["message"])["event"] for e in read_back(aws, "/g", "s")] == ["second"]


def test_batches_respect_count_limit_and_all_events_arrive(aws: Any) -> None:
    spy = Spy(aws)
    sink = CloudWatchLogsSink("/g", "s", client=spy)
    base = datetime.now(timezone.utc)
    n = MAX_BATCH_EVENTS + 150
    for i in range(n):
        sink.emit(Event("tick", {"i": i}, at=base + timedelta(milliseconds=i)))
    sink.close()
    puts = spy.puts()
    assert len(puts) >= 2
    for batch in puts:
        assert len(batch) <= MAX_BATCH_EVENTS
        assert (
            sum(len(e["message"].encode()) + EVENT_OVERHEAD_BYTES for e in batch) <= MAX_BATCH_BYTES
        )
        assert [e["timestamp"] for e in batch] == sorted(e["timestamp"] for e in batch)
    stored = read_back(aws, "/g", "s")
    assert [json.loads(e["message"])["i"] for e in stored] == list(range(n))


def test_batch_splitting_by_count() -> None:
    events = [(1_700_000_000_000 + i, "x") for i in range(25_000)]
    assert [len(b) for b in batch_log_events(events)] == [10_000, 10_000, 5_000]


def test_batches_respect_byte_limit(aws: Any) -> None:
    spy = Spy(aws)
    sink = CloudWatchLogsSink("/g", "s", client=spy)
    payload = "x" * 200_000
    for i in range(12):
        sink.emit(Event("big", {"i": i, "payload": payload}))
    sink.close()
    puts = spy.puts()
    assert len(puts) >= 3
    for batch in puts:
        size = sum(len(e["message"].encode()) + EVENT_OVERHEAD_BYTES for e in batch)
        assert size <= MAX_BATCH_BYTES
    assert len(read_back(aws, "/g", "s")) == 12


def test_oversized_event_becomes_a_valid_stub(aws: Any) -> None:
    sink = CloudWatchLogsSink("/g", "s", client=aws)
    sink.emit(Event("huge", {"payload": "y" * 400_000}))
    sink.close()
    (stored,) = read_back(aws, "/g", "s")
    msg = json.loads(stored["message"])
    assert msg["event"] == "huge" and msg["truncated"] is True


def test_out_of_order_events_are_sorted(aws: Any) -> None:
    sink = CloudWatchLogsSink("/g", "s", client=aws)
    now = datetime.now(timezone.utc)
    sink.emit(Event("later", at=now))
    sink.emit(Event("earlier", at=now - timedelta(seconds=5)))
    sink.close()  # moto rejects unsorted batches, as CloudWatch does
    assert [json.loads(e["message"])["event"] for e in read_back(aws, "/g", "s")] == [
        "earlier",
        "later",
    ]


def test_batches_never_span_24_hours() -> None:
    t0 = 1_700_000_000_000
    batches = batch_log_events([(t0, "a"), (t0 + 25 * 3600 * 1000, "b"), (t0 + 1, "c")])
    assert [[m for _, m in b] for b in batches] == [["a", "c"], ["b"]]


def test_throttling_is_retried(aws: Any) -> None:
    spy = Spy(aws, throttle=2)
    delays: list[float] = []
    sink = CloudWatchLogsSink("/g", "s", client=spy, sleep=delays.append)
    sink.emit(Event("e"))
    sink.flush()
    assert len(spy.puts()) == 3 and len(delays) == 2
    assert len(read_back(aws, "/g", "s")) == 1


def test_persistent_failure_raises_and_keeps_events(aws: Any) -> None:
    spy = Spy(aws, throttle=100)
    sink = CloudWatchLogsSink("/g", "s", client=spy, sleep=no_sleep, backoff=Backoff(attempts=3))
    sink.emit(Event("kept"))
    with pytest.raises(DeliveryError, match="stay buffered"):
        sink.flush()
    spy.throttle = 0
    sink.flush()
    assert [json.loads(e["message"])["event"] for e in read_back(aws, "/g", "s")] == ["kept"]


def test_access_denied_is_not_retried(aws: Any) -> None:
    spy = Spy(aws, throttle=1, code="AccessDeniedException")
    sink = CloudWatchLogsSink("/g", "s", client=spy, sleep=no_sleep)
    sink.emit(Event("e"))
    with pytest.raises(DeliveryError, match="PutLogEvents permission"):
        sink.flush()
    assert len(spy.puts()) == 1


def test_through_bus_messages_are_redacted(aws: Any, redactor: Redactor, canary: str) -> None:
    sink = CloudWatchLogsSink("/g", "s", client=aws)
    with EventBus([sink], redactor=redactor) as bus:
        bus.emit(Event("sync.failed", {"error": f"bad secret {canary}", "api_key": "k-123456"}))
    text = " ".join(e["message"] for e in read_back(aws, "/g", "s"))
    assert "sync.failed" in text and canary not in text and "k-123456" not in text


def test_default_stream_name_and_client_from_region(aws: Any) -> None:
    sink = CloudWatchLogsSink("/g", region="us-east-1")
    assert ":" not in sink.log_stream and "*" not in sink.log_stream
    sink.emit(Event("e"))
    sink.close()
    assert len(read_back(aws, "/g", sink.log_stream)) == 1


def test_missing_boto3_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(ImportError, match=r"luigi-airbyte\[aws\]"):
        CloudWatchLogsSink("/g", "s")
