from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sync_fakes import (
    CONN,  # noqa: F401  (re-exported for fixtures)
    FakeAirbyte,
)
from watch_fakes import Listing

from luigi_airbyte.observe.events import ListEmitter
from luigi_airbyte.store.ledger import InMemoryLedger
from luigi_airbyte.sync import FakeClock, SyncRunner, SyncSettings
from luigi_airbyte.sync.watcher import JobWatcher


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> FakeAirbyte:
    return FakeAirbyte(clock)


@pytest.fixture
def ledger() -> InMemoryLedger:
    return InMemoryLedger()


@pytest.fixture
def emitter() -> ListEmitter:
    return ListEmitter()


@pytest.fixture
def make_runner(fake: FakeAirbyte, ledger: InMemoryLedger, emitter: ListEmitter, clock: FakeClock):
    def make(*, recent: Any = None, **settings: object) -> SyncRunner:
        return SyncRunner(
            fake,
            ledger,
            emitter=emitter,
            clock=clock,
            settings=SyncSettings(**settings),  # type: ignore[arg-type]
            recent=recent,
        )

    return make


@pytest.fixture
def quiet_logs():
    """Silence luigi_airbyte logging for the many-trial tests (creating records is the cost)."""
    logger = logging.getLogger("luigi_airbyte")
    before = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(before)


@pytest.fixture
def listing() -> Listing:
    """Airbyte's job listing for the watcher tests (``watch_fakes.Listing``)."""
    return Listing()


@pytest.fixture
def watcher(listing: Listing) -> Iterator[JobWatcher]:
    """A started ``JobWatcher`` over ``listing``, stopped after the test."""
    w = JobWatcher(listing).start()
    yield w
    w.stop()
