"""Suite-wide set-up."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from pg_server import PostgresServer, PostgresUnavailable


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C works in the processes the tests start, however the suite was started.

    A suite started in the background by a shell without job control (``make test &``,
    ``nohup``) inherits SIGINT ignored, and so would every run, slot and ``webhook serve``
    a test starts: the tests of Ctrl-C then saw nothing arrive (7 failed in such a run).
    Python's own handler here makes the children start with SIGINT as usual.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session (per xdist worker), started on first
    use; the test is skipped when psycopg or the server's binaries are missing. A test
    that stops its server starts its own (tests/pg_server.py)."""
    pytest.importorskip("psycopg", reason="pip install 'luigi-airbyte[postgres]'")
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL server binaries unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()
