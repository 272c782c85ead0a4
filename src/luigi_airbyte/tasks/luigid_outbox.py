"""What a running step tells luigid, sent from a thread of its own.

Under luigid every tracking URL, status message and percentage is an HTTP request to it,
3-4 ms each here and more on a busy scheduler. A sync sent four of them on its own path:
the URL between its ``POST /jobs`` and its wait, a status when the wait starts (both
putting off the wait's first look at the job), then a status and 100 % between learning
that its job ended and ending (``benchmarks/RESULTS.md``, outbox_s15). ``Outbox`` sends
them in order from one thread while the step goes on.

Only the latest value of each kind is worth sending: one still queued is replaced by a
newer one of its kind. ``close`` waits until everything queued is sent, and the step's
``run()`` closes its outbox before it returns or raises: the task's ``add_task`` with
status ``RUNNING`` (the tracking URL) must reach luigid before Luigi's worker reports the
task done or failed, or luigid would show a finished task as running again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

Send = Callable[[], None]


class Outbox:
    """One sender thread, started at the first message; ``close`` drains and joins it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Condition()
        self._pending: dict[str, Send] = {}  # kind -> its latest message, in first-queued order
        self._closed = False
        self._thread: threading.Thread | None = None

    def put(self, kind: str, send: Send) -> None:
        """Queue ``send``; an unsent message of the same ``kind`` is dropped for it."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the outbox of {self._name} is closed")
            self._pending[kind] = send
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name=f"luigid-outbox {self._name}", daemon=True
                )
                self._thread.start()
            self._lock.notify()

    def close(self) -> None:
        """Send what is queued, then stop the thread (waits as long as the sends take)."""
        with self._lock:
            self._closed = True
            self._lock.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _serve(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._closed:
                    self._lock.wait()
                if not self._pending:
                    return
                kind = next(iter(self._pending))
                send = self._pending.pop(kind)
            try:
                send()
            except Exception:  # a send reports its own failures; the thread must not die
                logger.exception("luigid outbox of %s: %s not sent", self._name, kind)


__all__ = ["Outbox", "Send"]
