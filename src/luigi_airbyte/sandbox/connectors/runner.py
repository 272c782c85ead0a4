"""Run one connector command (``spec``, ``check``, ``discover``, ``read``) as a child process.

stdout is read line by line on a thread and handed over through a queue, so the caller can
give up when the connector is silent for longer than its timeout (a hang), when the job is
cancelled, or when a line is not a protocol message. The child runs in its own process group
and is killed with it: a connector that forks workers leaves nothing behind.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from luigi_airbyte.sandbox.connectors.protocol import ProtocolError, parse_line


class ConnectorTimeout(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"no message for {seconds:g} s")
        self.seconds = seconds


class ConnectorExit(Exception):
    """The connector exited non-zero."""

    def __init__(self, code: int, stderr_tail: str) -> None:
        super().__init__(f"exit code {code}: {stderr_tail}")
        self.code = code
        self.stderr_tail = stderr_tail


_EOF = object()
STARTUP_TIMEOUT = 300.0  # seconds a connector may take to print its first line


class ConnectorProcess:
    """One connector invocation; iterate ``messages()`` then it has exited (or been killed)."""

    def __init__(
        self,
        argv: list[str],
        command: str,
        *,
        config: dict[str, Any] | None = None,
        catalog: dict[str, Any] | None = None,
        state: list[dict[str, Any]] | None = None,
        timeout: float = 600.0,
        startup_timeout: float = STARTUP_TIMEOUT,
        cwd: Path | None = None,
    ) -> None:
        self.argv = list(argv)
        self.command = command
        self.timeout = timeout
        # Until its first line a connector is starting (imports can take seconds on a busy
        # machine); the heartbeat timeout applies between messages after that.
        self.startup_timeout = max(startup_timeout, timeout)
        self.returncode: int | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        self._tmp = tempfile.TemporaryDirectory(prefix="lab-connector-")
        args = [command]
        for flag, data in (("--config", config), ("--catalog", catalog), ("--state", state)):
            if data is None:
                continue
            path = Path(self._tmp.name) / f"{flag[2:]}.json"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # config: secrets
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            args += [flag, str(path)]
        self._proc = subprocess.Popen(
            [*self.argv, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            cwd=str(cwd) if cwd is not None and cwd.is_dir() else None,
            start_new_session=True,
        )
        self._lines: queue.Queue[object] = queue.Queue(maxsize=10_000)
        threading.Thread(target=self._pump_out, daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()

    def _pump_out(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put(_EOF)

    def _pump_err(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            if line.strip():
                self._stderr.append(line.rstrip())

    @property
    def stderr_tail(self) -> str:
        return " | ".join(list(self._stderr)[-3:])

    def messages(self, poll: Callable[[], None] | None = None) -> Iterator[dict[str, Any]]:
        """Protocol messages until the connector exits 0.

        Raises ConnectorTimeout (silent too long), ProtocolError (garbage on stdout) or
        ConnectorExit (non-zero exit); ``poll`` runs between messages and may raise to stop
        (cancel). The process is killed on every early exit.
        """
        try:
            deadline = time.monotonic() + self.startup_timeout
            limit = self.startup_timeout
            while True:
                try:
                    item = self._lines.get(timeout=0.1)
                except queue.Empty:
                    if poll is not None:
                        poll()
                    if time.monotonic() > deadline:
                        raise ConnectorTimeout(limit) from None
                    continue
                limit = self.timeout
                if item is _EOF:
                    break
                deadline = time.monotonic() + self.timeout
                msg = parse_line(str(item))
                if msg is not None:
                    yield msg
                if poll is not None:
                    poll()
            try:
                self.returncode = self._proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                raise ConnectorTimeout(self.timeout) from None
            if self.returncode != 0:
                time.sleep(0.05)  # let the stderr pump catch the last lines
                raise ConnectorExit(self.returncode, self.stderr_tail)
        finally:
            self.close()

    def close(self) -> None:
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    stream.close()
        self._tmp.cleanup()


def run_collect(
    argv: list[str],
    command: str,
    *,
    config: dict[str, Any] | None = None,
    timeout: float = 600.0,
    cwd: Path | None = None,
) -> list[dict[str, Any]]:
    """Run a short command (spec, check, discover) and return all its messages.

    These are not reads: no heartbeat, the startup allowance covers the whole command.
    """
    long = max(timeout, STARTUP_TIMEOUT)
    proc = ConnectorProcess(argv, command, config=config, timeout=long, cwd=cwd)
    return list(proc.messages())


__all__ = [
    "ConnectorExit",
    "ConnectorProcess",
    "ConnectorTimeout",
    "ProtocolError",
    "run_collect",
]
