"""Events emitted in a forked worker (Luigi runs each task in a ``multiprocessing`` child
with ``workers > 1``) reach their sinks: nothing is lost when the child exits, and nothing
the parent emitted before the fork is written twice."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from luigi_airbyte.observe.bus import EventBus
from luigi_airbyte.observe.events import Event
from luigi_airbyte.observe.sinks.jsonl import JsonLinesSink


class _SlowFileSink:
    """A sink that asks for a worker thread, as webhooks and CloudWatch do."""

    prefers_background = True

    def __init__(self, path: Path) -> None:
        self.path = path

    def emit(self, event: Event) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(event.name + "\n")


def _names(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["event"] for line in path.read_text().splitlines()]


def _child(bus: EventBus) -> None:
    bus.emit(Event(name="child.one"))
    bus.emit(Event(name="child.two"))


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method"
)
def test_a_forked_child_loses_no_event_and_repeats_none_of_the_parents(tmp_path: Path) -> None:
    events, slow = tmp_path / "events.jsonl", tmp_path / "slow.txt"
    bus = EventBus()
    bus.add(JsonLinesSink(events), name="jsonl")
    bus.add(_SlowFileSink(slow), name="slow")
    bus.emit(Event(name="parent.before"))  # buffered or queued in the parent at the fork

    child = multiprocessing.get_context("fork").Process(target=_child, args=(bus,))
    child.start()
    child.join(30)
    assert child.exitcode == 0

    bus.emit(Event(name="parent.after"))
    bus.close()
    assert sorted(_names(events)) == ["child.one", "child.two", "parent.after", "parent.before"]
    assert sorted(slow.read_text().split()) == [
        "child.one",
        "child.two",
        "parent.after",
        "parent.before",
    ]
