"""The event bus: one ``Emitter`` that fans every event out to many sinks.

Observability must never break the pipeline, so a sink that raises is isolated: the
failure is counted and logged once per sink, and the other sinks still get the event.
Every event is redacted once, before any sink sees it.
"""

from __future__ import annotations

import logging
import multiprocessing.util
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from luigi_airbyte.closing import Closing
from luigi_airbyte.observe.events import Emitter, Event
from luigi_airbyte.observe.redact import Redactor, default_redactor

__all__ = ["EventBus", "SinkStats"]

logger = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 10_000


@dataclass
class SinkStats:
    """Counters for one sink; a non-zero ``failed`` or ``dropped`` means events were lost."""

    emitted: int = 0
    failed: int = 0
    dropped: int = 0


class _Barrier:
    """Queued behind pending events; set once the worker has run ``flush`` or ``close``."""

    def __init__(self, close: bool) -> None:
        self.close = close
        self.done = threading.Event()


class _Slot:
    """One sink with its lock, counters and, for slow sinks, a worker thread and queue."""

    def __init__(
        self, name: str, sink: Emitter, redactor: Redactor, background: bool, queue_size: int
    ) -> None:
        self.name = name
        self.sink = sink
        self.redactor = redactor
        self.stats = SinkStats()
        self.lock = threading.Lock()  # serialises calls into the sink
        self.stats_lock = threading.Lock()  # counters; never held while the sink runs
        self.warned = False
        self.closed = False
        self.queue: queue.Queue[Event | _Barrier] | None = None
        self.thread: threading.Thread | None = None
        self.queue_size = queue_size
        if background:
            self.start_worker()

    def start_worker(self) -> None:
        """A new queue and worker thread (also in a forked child, whose copy of the
        parent's thread does not run and whose copy of the parent's queue is the
        parent's to deliver)."""
        self.queue = queue.Queue(maxsize=max(1, self.queue_size))
        self.thread = threading.Thread(
            target=self._work, name=f"luigi-airbyte-sink-{self.name}", daemon=True
        )
        self.thread.start()

    def call(self, method: str, event: Event | None = None) -> None:
        """Run ``sink.<method>``; any exception is counted, never raised."""
        fn = getattr(self.sink, method, None)
        if fn is None:
            return
        if event is None:
            self._guarded(method, fn, ())
        else:
            self._guarded(method, fn, (event,), emitted=1)

    def call_many(self, events: list[Event]) -> None:
        """Hand ``events`` to the sink in one ``emit_many`` call when it has one (a file
        sink writes them with one system call), else one ``emit`` each; never raises."""
        fn = getattr(self.sink, "emit_many", None)
        if fn is None:
            for event in events:
                self.call("emit", event)
            return
        self._guarded("emit_many", fn, (events,), emitted=len(events))

    def _guarded(
        self, method: str, fn: Callable[..., Any], args: tuple[Any, ...], emitted: int = 0
    ) -> None:
        """Call the sink; count ``emitted`` events, or as many failures. Warn once."""
        with self.lock:
            try:
                fn(*args)
                with self.stats_lock:
                    self.stats.emitted += emitted
            except Exception as exc:  # noqa: BLE001 - a sink must never break the pipeline
                with self.stats_lock:
                    self.stats.failed += max(emitted, 1)
                    first, self.warned = not self.warned, True
                if first:
                    logger.warning(
                        "event sink %s failed in %s (%s: %s); the pipeline continues and "
                        "further failures of this sink are only counted",
                        self.name,
                        method,
                        type(exc).__name__,
                        self.redactor.redact_str(str(exc)),
                    )

    def _work(self) -> None:
        assert self.queue is not None
        while True:
            item = self.queue.get()
            if isinstance(item, Event):
                self.call("emit", item)
            else:
                self.call("flush")
                if item.close:
                    self.call("close")
                item.done.set()
                if item.close:
                    return

    def barrier(self, close: bool, timeout: float | None) -> bool:
        """Flush (or close) behind everything queued; False if it did not finish in time."""
        if self.queue is None:
            self.call("flush")
            if close:
                self.call("close")
            return True
        b = _Barrier(close)
        try:
            self.queue.put(b, timeout=timeout)
        except queue.Full:
            return False
        return b.done.wait(timeout)


class EventBus(Closing):
    """Fan-out emitter: redacts each event once, then hands it to every sink.

    Sinks that declare ``prefers_background = True`` (CloudWatch, webhooks) get their own
    worker thread and a bounded queue unless ``background=False`` is given to :meth:`add`.
    When a queue is full for ``put_timeout`` seconds the event is dropped and counted.
    """

    def __init__(
        self,
        sinks: tuple[Emitter, ...] | list[Emitter] = (),
        *,
        redactor: Redactor | None = None,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        put_timeout: float = 1.0,
    ) -> None:
        self.redactor = redactor if redactor is not None else default_redactor()
        self.queue_size = queue_size
        self.put_timeout = put_timeout
        self._slots: list[_Slot] = []
        self._lock = threading.Lock()
        self._closed = False
        self._warned_closed = False
        self._warned_full: set[str] = set()
        for sink in sinks:
            self.add(sink)
        multiprocessing.util.register_after_fork(self, EventBus._after_fork)

    def _after_fork(self) -> None:
        """In a ``multiprocessing`` child (Luigi's task process with ``workers > 1``):
        restart the background sinks, and flush everything when the child exits, since it
        leaves through ``os._exit`` and would otherwise take its queued events with it."""
        self._lock = threading.Lock()
        for slot in self._slots:
            slot.lock, slot.stats_lock = threading.Lock(), threading.Lock()
            if slot.queue is not None and not slot.closed:
                slot.start_worker()
        multiprocessing.util.Finalize(self, self.flush, exitpriority=10)

    def add(self, sink: Emitter, *, name: str | None = None, background: bool | None = None) -> str:
        """Attach a sink; returns the unique name used in stats and warnings."""
        if background is None:
            background = bool(getattr(sink, "prefers_background", False))
        base = name or str(getattr(sink, "name", "") or type(sink).__name__)
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot add a sink to a closed EventBus")
            taken = {s.name for s in self._slots}
            unique, n = base, 2
            while unique in taken:
                unique, n = f"{base}#{n}", n + 1
            slot = _Slot(unique, sink, self.redactor, background, self.queue_size)
            self._slots.append(slot)
        return unique

    def emit(self, event: Event) -> None:
        """Redact ``event`` and deliver it to every sink; never raises."""
        with self._lock:
            slots = list(self._slots)
            closed = self._closed
        if closed:
            with self._lock:
                first, self._warned_closed = not self._warned_closed, True
            if first:
                logger.warning(
                    "event %s emitted after the event bus was closed; dropped", event.name
                )
            return
        try:
            safe = self.redactor.redact_event(event)
        except Exception:  # noqa: BLE001 - fall back to a content-free event
            safe = Event(name="event.redaction_failed", at=event.at, level=event.level)
        for slot in slots:
            if slot.queue is None:
                slot.call("emit", safe)
                continue
            self._put(slot, safe)

    def emit_many(self, events: list[Event]) -> None:
        """`emit` each of ``events``, in order; a sink that can take them at once
        (``emit_many``) gets them in one call. For many events at once, such as the skip
        notes of a scheduling pass. Never raises."""
        if not events:
            return
        with self._lock:
            slots = list(self._slots)
            closed = self._closed
        if closed:
            for event in events:
                self.emit(event)  # dropped, and said once, as one by one
            return
        safe = []
        for event in events:
            try:
                safe.append(self.redactor.redact_event(event))
            except Exception:  # noqa: BLE001 - fall back to a content-free event
                safe.append(Event(name="event.redaction_failed", at=event.at, level=event.level))
        for slot in slots:
            if slot.queue is None:
                slot.call_many(safe)
                continue
            for event in safe:
                self._put(slot, event)

    def _put(self, slot: _Slot, event: Event) -> None:
        assert slot.queue is not None
        try:
            slot.queue.put(event, timeout=self.put_timeout)
        except queue.Full:
            with slot.stats_lock:
                slot.stats.dropped += 1
            with self._lock:
                first = slot.name not in self._warned_full
                self._warned_full.add(slot.name)
            if first:
                logger.warning(
                    "event sink %s is too slow: its queue of %d events is full, "
                    "events are being dropped (see EventBus.stats())",
                    slot.name,
                    self.queue_size,
                )

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Deliver everything queued and flush each sink; False if a sink did not finish in time."""
        with self._lock:
            slots = list(self._slots)
        return all([slot.barrier(False, timeout) for slot in slots])

    def close(self, timeout: float | None = 10.0) -> bool:
        """Flush and close every sink; later events are dropped. Safe to call twice."""
        with self._lock:
            if self._closed:
                return True
            self._closed = True
            slots = list(self._slots)
        ok = all([slot.barrier(True, timeout) for slot in slots])
        if not ok:
            logger.warning("some event sinks did not finish within %s seconds on close", timeout)
        return ok

    def stats(self) -> dict[str, SinkStats]:
        """Per-sink counters (a snapshot)."""
        with self._lock:
            slots = list(self._slots)
        out: dict[str, SinkStats] = {}
        for s in slots:
            with s.stats_lock:
                out[s.name] = SinkStats(s.stats.emitted, s.stats.failed, s.stats.dropped)
        return out

    @property
    def failures(self) -> int:
        """Total failed plus dropped deliveries across sinks."""
        return sum(s.failed + s.dropped for s in self.stats().values())

    def __repr__(self) -> str:
        names: list[Any] = [s.name for s in self._slots]
        return f"EventBus(sinks={names!r}, closed={self._closed})"
