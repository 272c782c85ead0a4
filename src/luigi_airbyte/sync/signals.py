"""Turn SIGTERM into an exception so a wait can decide what happens to its Airbyte job.

By default SIGTERM kills Python without running ``finally`` blocks or ``except`` clauses.
Inside ``handle_termination()`` it raises ``Terminated`` in the main thread instead, so
``SyncRunner.wait`` can detach (leave the job running, ledger row open) or cancel, the
same way it handles Ctrl-C. Only the first SIGTERM or SIGINT raises: a SIGTERM that
follows while the first is handled is ignored, so it cannot cut the detach or the claim's
release short. A second Ctrl-C still stops at once.
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


_stopping: list[int] = []  # the signals seen since the first one, in this process


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """The first SIGTERM or SIGINT raises; later ones are noted, not raised, except a
    second SIGINT: someone pressed Ctrl-C again to stop at once.

    With ``--workers`` 2 or more a terminal's Ctrl-C reaches the run and every task
    process at once, and the run's Luigi worker then sends SIGTERM to the task processes
    it still sees running. A second signal used to cut the first one's handling short (the
    detach, the claim's release, the step's record) with a traceback. The process is
    stopping already: the later signal has nothing left to do.
    """
    again = signum == signal.SIGINT and signal.SIGINT in _stopping  # Ctrl-C pressed twice
    _stopping.append(signum)
    if len(_stopping) > 1 and not again:
        logger.debug("signal %s while stopping on signal %s: ignored", signum, _stopping[0])
        return
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signum)


@contextmanager
def handle_termination() -> Iterator[None]:
    """Raise ``Terminated`` on SIGTERM (``KeyboardInterrupt`` on SIGINT, as Python does)
    while inside the block, only for the first of them; restore the old handlers after.

    SIGINT is taken over only from Python's default handler (not from one that ignores it
    or a handler of someone else's). Signal handlers can only be installed from the main
    thread, so off the main thread (a Luigi worker thread, a thread pool) this is a no-op
    and the signals keep their previous behaviour.
    """
    if threading.current_thread() is not threading.main_thread():
        logger.debug("SIGTERM stays as it is: not in the main thread")
        yield
        return
    try:
        previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _interrupt)}
    except ValueError:  # not the main interpreter, or signals unavailable here
        logger.debug("SIGTERM stays as it is: signal handlers cannot be set here")
        yield
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _interrupt)
    outermost = all(h is not _interrupt for h in previous.values())
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if outermost:
            _stopping.clear()  # a slot runs the next sync as a fresh process would
