"""Fixtures for the transform tests: process liveness, waiting for files, cleanup."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest


class Procs:
    """Process helpers; every pid passed to ``track`` is killed at teardown if still alive."""

    def __init__(self) -> None:
        self.tracked: list[int] = []

    def track(self, pid: int) -> int:
        self.tracked.append(pid)
        return pid

    @staticmethod
    def alive(pid: int) -> bool:
        """Running and not a zombie (PID 1 in a container may never reap orphans)."""
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def wait_dead(self, pid: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive(pid):
                return True
            time.sleep(0.05)
        return False

    def read_pid(self, path: Path, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists() and path.read_text().strip():
                return self.track(int(path.read_text().split()[0]))
            time.sleep(0.05)
        raise AssertionError(f"{path} was not written within {timeout}s")


@pytest.fixture
def procs() -> Iterator[Procs]:
    helper = Procs()
    yield helper
    for pid in helper.tracked:
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()
