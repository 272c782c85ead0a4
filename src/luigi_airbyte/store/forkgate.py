"""No fork while a thread of this process is inside a store transaction.

SQLite keeps the lock state of each database file in process memory. A child forked while
a thread of its parent is inside a transaction (the run's heartbeat, a skip-note flush, a
claim renewal) inherits that memory: its own, fresh connection then believes another
connection of its process holds the lock, and waits for it until the busy timeout
("database is locked" after 30 s), although the parent committed long ago. Luigi forks a
process per task, so one sync in a few hundred failed that way and waited for Luigi's
retry (luigid's default retry delay is 15 minutes).

Every store transaction passes this gate; ``os.register_at_fork`` closes it before a fork
(waiting for the transactions in flight, at most ``FORK_WAIT_S``) and opens it again in
both processes after it. Reproduced and tested in tests/store/test_store_fork.py.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

FORK_WAIT_S = 30.0
"""The longest a fork waits for the transactions in flight (then it forks anyway)."""


class ForkGate:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._active = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._cond:  # blocks while a fork is under way in another thread
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if self._active == 0:
                    self._cond.notify_all()

    def before_fork(self) -> None:
        self._cond.acquire()  # held across the fork: no transaction starts meanwhile
        deadline = time.monotonic() + FORK_WAIT_S
        while self._active and time.monotonic() < deadline:
            self._cond.wait(max(0.0, deadline - time.monotonic()))

    def after_fork_in_parent(self) -> None:
        self._cond.release()

    def after_fork_in_child(self) -> None:
        self.__init__()  # type: ignore[misc]  # the inherited lock is held: start afresh


GATE = ForkGate()
os.register_at_fork(
    before=GATE.before_fork,
    after_in_parent=GATE.after_fork_in_parent,
    after_in_child=GATE.after_fork_in_child,
)
