"""Is the process that holds a claim or a run still alive? One answer for both.

A holder is a host, a pid and the pid's start time. On this host the process table
answers: dead, a zombie, or a pid that now names a process started at another time all
mean "gone". On another host nothing can be asked here; the caller's lease or heartbeat
decides.
"""

from __future__ import annotations

import socket

import psutil

# Start times are floats from the process table; a reused pid differs by far more.
_START_TOLERANCE_S = 1.0


def hostname() -> str:
    """This host's name, as holders record it."""
    try:
        return socket.gethostname()
    except OSError:  # pragma: no cover - no hostname configured
        return "unknown"


def process_started(pid: int) -> float | None:
    """The process's start time (epoch seconds), or ``None`` if it cannot be read."""
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


def process_gone(host: str | None, pid: int | None, started: float | None) -> str | None:
    """Why the holder process is gone, or ``None`` while it may be alive (or is on
    another host, where only a lease or heartbeat can tell)."""
    if pid is None or host != hostname():
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return f"its process {pid} on {host} is gone (exited, not yet reaped)"
        now_started = float(proc.create_time())
    except psutil.NoSuchProcess:
        return f"its process {pid} on {host} is gone"
    except (psutil.Error, OSError):
        return None
    if started is not None and abs(now_started - started) > _START_TOLERANCE_S:
        return f"its process {pid} on {host} is gone (the pid now names another process)"
    return None


__all__ = ["hostname", "process_gone", "process_started"]
