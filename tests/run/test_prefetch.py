"""The run's per-run Airbyte requests (`Runtime.prepare`) are made in a thread while the
graph runner imports Luigi, and that thread has ended before Luigi builds a task (so
before any worker is forked). Deterministic: events, not timings."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from luigi_airbyte.app.prefetch import prefetched
from luigi_airbyte.app.runtime import RunShared
from luigi_airbyte.pipeline.graph import Graph, Node


def _graph(*kinds: str) -> Graph:
    nodes = tuple(
        Node(name=f"s{i}", kind=k, pipeline="p", owner="", after=(), step=None)  # type: ignore[arg-type]
        for i, k in enumerate(kinds)
    )
    return Graph("p", nodes)


class _Runtime:
    def __init__(self, fail: bool = False) -> None:
        self.shared = RunShared()
        self.fail = fail
        self.block_ran = threading.Event()
        self.calls: list[tuple[str, bool]] = []

    def prepare(self) -> None:
        # Waits for the block: only a concurrent prepare sees it running.
        overlapped = self.block_ran.wait(timeout=10)
        self.calls.append((threading.current_thread().name, overlapped))
        if self.fail:
            raise RuntimeError("airbyte is down")
        self.shared.prepared = True


def test_prepare_runs_alongside_the_block_and_ends_with_it() -> None:
    rt = _Runtime()
    with prefetched(rt, _graph("sync", "check")):  # type: ignore[arg-type]
        rt.block_ran.set()  # e.g. importing Luigi
    assert rt.calls == [("airbyte-prefetch", True)]
    assert rt.shared.prepared
    assert not [t for t in threading.enumerate() if t.name == "airbyte-prefetch"]


def test_a_failure_is_left_to_the_tasks_as_before() -> None:
    rt = _Runtime(fail=True)
    with prefetched(rt, _graph("sync")):  # type: ignore[arg-type]
        rt.block_ran.set()
    assert rt.shared.prepare_failed and not rt.shared.prepared


@pytest.mark.parametrize(
    ("kinds", "shared"),
    [
        (("check", "command"), {}),  # no sync: nothing uses the listing
        (("sync",), {"prepared": True}),  # paid already (a sync_each expansion)
        (("sync",), {"prepare_failed": True}),
    ],
)
def test_nothing_is_requested_when_nothing_needs_it(
    kinds: tuple[str, ...], shared: dict[str, Any]
) -> None:
    rt = _Runtime()
    for key, value in shared.items():
        setattr(rt.shared, key, value)
    rt.block_ran.set()
    with prefetched(rt, _graph(*kinds)):  # type: ignore[arg-type]
        pass
    assert rt.calls == []
