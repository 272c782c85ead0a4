"""Suite-wide set-up."""

from __future__ import annotations

import signal

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C works in the processes the tests start, however the suite was started.

    A suite started in the background by a shell without job control (``make test &``,
    ``nohup``) inherits SIGINT ignored, and so would every run, slot and ``webhook serve``
    a test starts: the tests of Ctrl-C then saw nothing arrive (7 failed in such a run).
    Python's own handler here makes the children start with SIGINT as usual.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
