"""Turn SIGTERM into an exception so a wait can decide what happens to its Airbyte job.

By default SIGTERM kills Python without running ``finally`` blocks or ``except`` clauses.
Inside ``handle_termination()`` it raises ``Terminated`` in the main thread instead, so
``SyncRunner.wait`` can detach (leave the job running, ledger row open) or cancel, the
same way it handles Ctrl-C.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

logger = logging.getLogger(__name__)


class Terminated(BaseException):
    """The process received SIGTERM.

    A ``BaseException`` (like ``KeyboardInterrupt``) so ``except Exception`` blocks
    on the way up do not swallow a shutdown request.
    """

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        self.signum = signum
        super().__init__(f"terminated by signal {signum}")


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


@contextmanager
def handle_termination() -> Iterator[None]:
    """Raise ``Terminated`` on SIGTERM while inside the block; restore the old handler after.

    Signal handlers can only be installed from the main thread, so off the main thread
    (a Luigi worker thread, a thread pool) this is a no-op and SIGTERM keeps its
    previous behaviour.
    """
    if threading.current_thread() is not threading.main_thread():
        logger.debug("SIGTERM stays as it is: not in the main thread")
        yield
        return
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main interpreter, or signals unavailable here
        logger.debug("SIGTERM stays as it is: signal handlers cannot be set here")
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
