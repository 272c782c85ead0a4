"""The local channel between a host's ``JobWatcher`` and the task processes that wait.

A Unix socket in the run's state folder (or a private temporary folder when that path is
too long for a socket), one JSON line each way per request, one connection per request:

- ``{"op": "next", "job": <JobResponse>, "scope": s, "after": v, "due_in": seconds}``
  long-polls ``JobWatcher.next`` and is answered ``{"job": …, "version": v, "error": e}``
  (with ``"details": <JobInfoRead>`` when a hint's confirmation fetched the ended job's
  details; left out past ``MAX_DETAILS`` bytes, the task then fetches them itself),
  or ``{"gone": true}`` when the watcher has stopped;
- ``{"op": "hint", "job_id": n}`` calls ``JobWatcher.hint`` (a webhook receiver in another
  process of the host) and is answered ``{"ok": true}``.

Why a socket and not the store: a long-poll wakes the waiting task the moment the watcher
sees a change (a webhook's confirmation reaches the task in milliseconds), where tasks
reading the store would poll it on a timer and add one write per job per tick to a
database that also holds the run's record; a socket costs nothing while nobody asks, and
it needs no schema. Luigi's forked workers inherit only the socket's path. Why one
connection per request: a connection refused (the watcher's process is gone, its socket
removed) or an answer that does not come within ``due_in + grace`` is noticed on the very
next request, and the task falls back to polling its own job. The socket carries what
Airbyte says of jobs (statuses, attempts, counts; never a credential) and lives in a
folder only its owner can open.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from luigi_airbyte.airbyte.models import Job, JobDetails
from luigi_airbyte.sync.watcher import Answer, JobWatcher

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.02
"""How often the serving thread looks for ``close``: ``socketserver.shutdown`` waits for
it, and its default (0.5 s) added up to half a second to the end of every run."""

GRACE = 15.0
"""Seconds past a request's due time before a silent watcher counts as gone."""
MAX_DETAILS = 1 << 20
"""Bytes of job details an answer carries at most (a job of many streams and attempts)."""
_MAX_LINE = 1 << 16  # a request
_MAX_ANSWER = MAX_DETAILS + _MAX_LINE
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS


def job_to_wire(job: Job) -> dict[str, Any]:
    """A ``Job`` as Airbyte's ``JobResponse`` (``Job.from_api`` reads it back)."""
    out: dict[str, Any] = {
        "jobId": job.job_id,
        "status": job.raw_status or job.status.value,
        "jobType": job.job_type.value,
        "connectionId": job.connection_id,
    }
    if job.start_time is not None:
        out["startTime"] = job.start_time.isoformat()
    if job.last_updated_at is not None:
        out["lastUpdatedAt"] = job.last_updated_at.isoformat()
    if job.duration is not None:
        out["duration"] = f"PT{job.duration.total_seconds()}S"
    if job.rows_synced is not None:
        out["rowsSynced"] = job.rows_synced
    if job.bytes_synced is not None:
        out["bytesSynced"] = job.bytes_synced
    return out


def socket_path(folder: Path, run_id: str) -> Path:
    """Where the run's watcher listens: ``<folder>/watch-<run>.sock`` when the path fits a
    Unix socket, else the same name in a new private temporary folder. Sockets left in
    ``folder`` by runs that were killed (nobody listens on them) are removed."""
    name = f"watch-{run_id[:12] or os.getpid()}.sock"
    path = folder / name
    if len(os.fsencode(str(path))) <= _SOCKET_PATH_MAX:
        folder.mkdir(parents=True, exist_ok=True)
        remove_dead_sockets(folder)
        return path
    return Path(tempfile.mkdtemp(prefix="la-watch-")) / name


def remove_dead_sockets(folder: Path) -> list[Path]:
    """Remove ``watch-*.sock`` files in ``folder`` that nobody listens on any more."""
    removed = []
    for stale in folder.glob("watch-*.sock"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(1.0)
            try:
                probe.connect(str(stale))
            except ConnectionRefusedError:
                stale.unlink(missing_ok=True)
                removed.append(stale)
            except OSError:
                continue  # alive but busy, or not ours to judge
    return removed


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        try:
            line = self.rfile.readline(_MAX_LINE)
            request = json.loads(line)
            answer = self.server.answer(request)
        except (ValueError, KeyError, TypeError) as exc:
            answer = {"bad": str(exc)}
        try:
            self.wfile.write(json.dumps(answer).encode() + b"\n")
        except OSError:
            pass  # the task gave up waiting; nothing to tell


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 1024  # every waiting task of the host may connect at once
    watcher: JobWatcher
    grace: float

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "hint":
            self.watcher.hint(int(request["job_id"]))
            return {"ok": True}
        if op != "next":
            return {"bad": f"unknown op {op!r}"}
        found = self.watcher.next(
            Job.from_api(request["job"]),
            str(request["scope"]),
            int(request["after"]),
            float(request["due_in"]),
            timeout=self.grace / 2,
        )
        if found is None:
            return {"gone": True}
        out: dict[str, Any] = {
            "job": job_to_wire(found.job),
            "version": found.version,
            "error": found.error,
        }
        raw = None if found.details is None else found.details.raw
        if raw is not None and len(json.dumps(raw)) <= MAX_DETAILS:
            out["details"] = raw
        return out


class WatchServer:
    """Serves one ``JobWatcher`` on a Unix socket until ``close``."""

    def __init__(self, watcher: JobWatcher, path: Path, *, grace: float = GRACE) -> None:
        self.watcher = watcher
        self.path = path
        if path.exists() or path.is_symlink():
            path.unlink()
        old = os.umask(0o177)  # the socket: owner read/write only
        try:
            self._server = _Server(str(path), _Handler)
        finally:
            os.umask(old)
        self._server.watcher = watcher
        self._server.grace = grace
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name="airbyte-watch-channel",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


class WatchFeed:
    """A task's end of the channel: ask the host's watcher instead of Airbyte.

    ``next`` returns ``None`` when the watcher is gone or silent past ``due_in + grace``;
    the caller then polls on its own for the rest of its wait.
    """

    def __init__(self, path: str | os.PathLike[str], *, grace: float = GRACE) -> None:
        self.path = os.fspath(path)
        self.grace = grace

    @classmethod
    def at(cls, path: str | os.PathLike[str] | None) -> WatchFeed | None:
        return None if not path else cls(path)

    def next(self, job: Job, scope: str, after: int, due_in: float) -> Answer | None:
        request = {
            "op": "next",
            "job": job_to_wire(job),
            "scope": scope,
            "after": after,
            "due_in": due_in,
        }
        answer = self._ask(request, due_in + self.grace)
        if answer is None or "job" not in answer:
            return None
        try:
            found = Answer(
                Job.from_api(answer["job"]), int(answer["version"]), str(answer.get("error", ""))
            )
        except (KeyError, TypeError, ValueError):
            return None
        raw = answer.get("details")
        if isinstance(raw, dict):
            try:
                details = JobDetails.from_api(raw)
            except (AttributeError, KeyError, TypeError, ValueError) as exc:  # fetched anew
                logger.debug("job watcher at %s sent unreadable job details: %s", self.path, exc)
            else:
                found = Answer(found.job, found.version, found.error, details)
        return found

    def hint(self, job_id: int) -> bool:
        """Pass a webhook's hint to the watcher; False when it could not be delivered."""
        answer = self._ask({"op": "hint", "job_id": int(job_id)}, self.grace)
        return bool(answer and answer.get("ok"))

    def _ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                self._connect(sock)
                sock.sendall(json.dumps(request).encode() + b"\n")
                with sock.makefile("rb") as stream:
                    line = stream.readline(_MAX_ANSWER)
            found = json.loads(line) if line else None
        except (OSError, ValueError) as exc:
            logger.debug("job watcher at %s did not answer: %s", self.path, exc)
            return None
        return found if isinstance(found, dict) else None

    def _connect(self, sock: socket.socket) -> None:
        """Connect; a full backlog or a refusal is tried twice more, 50 ms apart (a socket
        file that is gone fails at once)."""
        for attempt in range(3):
            try:
                sock.connect(self.path)
                return
            except (BlockingIOError, ConnectionRefusedError):
                if attempt == 2:
                    raise
                time.sleep(0.05)


__all__ = ["GRACE", "MAX_DETAILS", "WatchFeed", "WatchServer", "job_to_wire", "socket_path"]
