"""EventBus: fan-out, redaction before sinks, failing-sink isolation, queues, flush/close."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from luigi_airbyte.observe import Event, EventBus, ListEmitter
from luigi_airbyte.observe.redact import Redactor


class Exploding:
    name = "exploding"

    def __init__(self) -> None:
        self.calls = 0

    def emit(self, event: Event) -> None:
        self.calls += 1
        raise RuntimeError("disk on fire")


class Recording(ListEmitter):
    """A list emitter that also records flush/close calls."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.flushed = 0
        self.closed = 0

    def emit(self, event: Event) -> None:
        if self.delay:
            time.sleep(self.delay)
        super().emit(event)

    def flush(self) -> None:
        self.flushed += 1

    def close(self) -> None:
        self.closed += 1


def test_fan_out_to_every_sink(redactor: Redactor) -> None:
    a, b = ListEmitter(), ListEmitter()
    bus = EventBus([a, b], redactor=redactor)
    bus.emit(Event("sync.triggered", {"connection": "crm"}))
    assert a.names() == b.names() == ["sync.triggered"]


def test_redaction_happens_before_any_sink(redactor: Redactor, canary: str) -> None:
    sink = ListEmitter()
    bus = EventBus([sink], redactor=redactor)
    bus.emit(Event("x", {"message": f"boom {canary}", "client_secret": "abc-secret"}))
    got = sink.events[0].to_dict()
    assert canary not in str(got) and "abc-secret" not in str(got)


def test_failing_sink_is_isolated_and_warned_once(
    redactor: Redactor, caplog: pytest.LogCaptureFixture
) -> None:
    bad, good = Exploding(), ListEmitter()
    bus = EventBus([bad, good], redactor=redactor)
    with caplog.at_level(logging.WARNING, logger="luigi_airbyte.observe.bus"):
        for i in range(5):
            bus.emit(Event(f"e{i}"))
    assert len(good.events) == 5
    assert bad.calls == 5
    stats = bus.stats()
    assert stats["exploding"].failed == 5
    assert stats["ListEmitter"].emitted == 5
    assert bus.failures == 5
    warnings = [r for r in caplog.records if "exploding" in r.getMessage()]
    assert len(warnings) == 1


def test_failure_warning_is_redacted(
    redactor: Redactor, canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    class Leaky:
        def emit(self, event: Event) -> None:
            raise ValueError(f"bad credentials {canary}")

    bus = EventBus([Leaky()], redactor=redactor)
    with caplog.at_level(logging.WARNING):
        bus.emit(Event("x"))
    assert "ValueError" in caplog.text and canary not in caplog.text


def test_background_sink_gets_everything_after_flush(redactor: Redactor) -> None:
    slow = Recording(delay=0.001)
    bus = EventBus(redactor=redactor)
    bus.add(slow, name="slow", background=True)
    for i in range(50):
        bus.emit(Event(f"e{i}"))
    assert bus.flush(timeout=5)
    assert slow.names() == [f"e{i}" for i in range(50)]
    assert slow.flushed == 1
    assert bus.close(timeout=5)
    assert slow.closed == 1


def test_prefers_background_attribute_selects_a_worker(redactor: Redactor) -> None:
    class Slow(Recording):
        prefers_background = True

    sink = Slow()
    bus = EventBus([sink], redactor=redactor)
    seen: list[str] = []
    sink.emit = lambda e: seen.append(threading.current_thread().name)  # type: ignore[method-assign]
    bus.emit(Event("x"))
    bus.close()
    assert seen and seen[0].startswith("luigi-airbyte-sink-")


def test_full_queue_drops_and_counts(redactor: Redactor, caplog: pytest.LogCaptureFixture) -> None:
    gate = threading.Event()

    class Blocked:
        name = "blocked"

        def emit(self, event: Event) -> None:
            gate.wait(5)

    bus = EventBus(redactor=redactor, queue_size=2, put_timeout=0.01)
    bus.add(Blocked(), background=True)
    with caplog.at_level(logging.WARNING):
        for i in range(10):
            bus.emit(Event(f"e{i}"))
    gate.set()
    bus.close(timeout=5)
    stats = bus.stats()["blocked"]
    assert stats.dropped >= 5
    assert stats.emitted + stats.dropped == 10
    assert sum("too slow" in r.getMessage() for r in caplog.records) == 1


def test_close_flushes_and_later_events_are_dropped(redactor: Redactor) -> None:
    sink = Recording()
    with EventBus([sink], redactor=redactor) as bus:
        bus.emit(Event("before"))
    bus.emit(Event("after"))
    assert sink.names() == ["before"]
    assert sink.flushed == 1 and sink.closed == 1
    assert bus.close() is True  # second close is harmless
    with pytest.raises(RuntimeError):
        bus.add(ListEmitter())


def test_duplicate_sink_names_are_made_unique(redactor: Redactor) -> None:
    bus = EventBus(redactor=redactor)
    assert bus.add(ListEmitter()) == "ListEmitter"
    assert bus.add(ListEmitter()) == "ListEmitter#2"


def test_thread_safe_emit(redactor: Redactor) -> None:
    sink = Recording()
    bus = EventBus([sink], redactor=redactor)

    def work(n: int) -> None:
        for i in range(200):
            bus.emit(Event("e", {"thread": n, "i": i}))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bus.close()
    assert len(sink.events) == 1600
    assert bus.stats()["Recording"].emitted == 1600


class Batching(ListEmitter):
    """A sink that takes many events in one call, and says how it got them."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def emit_many(self, events: list[Event]) -> None:
        self.batches.append(len(events))
        self.events.extend(events)


def test_emit_many_reaches_every_sink_in_order_redacted_and_in_one_call_where_it_can(
    redactor: Redactor, canary: str
) -> None:
    batching, plain, background = Batching(), ListEmitter(), Recording()
    bus = EventBus([batching, plain], redactor=redactor)
    bus.add(background, name="slow", background=True)
    events = [Event(f"e{i}", {"message": f"note {canary}"}) for i in range(5)]
    bus.emit_many(events)
    assert bus.flush(timeout=5)
    names = [f"e{i}" for i in range(5)]
    assert batching.names() == plain.names() == background.names() == names
    assert batching.batches == [5]  # one call for the five
    assert canary not in str([e.to_dict() for e in batching.events + plain.events])
    assert bus.stats()["Batching"].emitted == 5
    bus.close(timeout=5)


def test_a_batch_that_fails_is_counted_and_isolated(redactor: Redactor) -> None:
    class ExplodingBatch(Exploding):
        def emit_many(self, events: list[Event]) -> None:
            raise RuntimeError("disk on fire")

    bad, good = ExplodingBatch(), ListEmitter()
    bus = EventBus([bad, good], redactor=redactor)
    bus.emit_many([Event("a"), Event("b")])
    assert good.names() == ["a", "b"]
    assert bus.stats()["exploding"].failed == 2
