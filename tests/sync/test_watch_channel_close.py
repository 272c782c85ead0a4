"""Closing the watch channel does not wait out socketserver's default poll (0.5 s).

``socketserver.shutdown`` waits until the serving loop wakes up and sees the request; the
loop wakes every ``poll_interval``. Deterministic, not timed: the interval the serving
thread was started with is recorded.
"""

from __future__ import annotations

import socketserver
from pathlib import Path

import pytest

from luigi_airbyte.sync import watch_channel
from luigi_airbyte.sync.watch_channel import WatchServer


def test_serving_loop_polls_for_close_often(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[float] = []
    original = socketserver.BaseServer.serve_forever

    def recording(self: socketserver.BaseServer, poll_interval: float = 0.5) -> None:
        seen.append(poll_interval)
        original(self, poll_interval)

    monkeypatch.setattr(socketserver.BaseServer, "serve_forever", recording)
    server = WatchServer(object(), tmp_path / "w.sock")  # type: ignore[arg-type]
    server.close()
    assert seen == [watch_channel.POLL_INTERVAL]
    assert watch_channel.POLL_INTERVAL <= 0.05
    assert not (tmp_path / "w.sock").exists()
