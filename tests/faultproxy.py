"""A seeded TCP fault proxy for HTTP/1.1 on loopback: faults *below* HTTP status codes.

It sits between a client and one upstream server (the sandbox), forwards each request on a
persistent upstream connection, and before each request draws, from one seeded random
stream, whether and where to break it:

``reset``
    a TCP RST (``SO_LINGER`` 0, then close) at a random point: before the request is
    forwarded (the server never sees it), after the server answered (it acted, the client
    never learns how), or after the first N bytes of the answer.
``truncate``
    the first N bytes of the answer (somewhere in the head or the body), then a clean close
    (FIN): the client gets a short body or no complete head. At the point ``unframed`` the
    answer's ``Content-Length`` is dropped first (``Connection: close`` frames it, as an
    HTTP/1.0 hop would), so the cut body looks complete: only its content can tell.
``stall``
    nothing more for ``stall_seconds`` (longer than the client's read timeout), then a
    close, at a random point: before forwarding, after the server answered, or mid-answer.
``slow_close``
    the whole answer, then the connection stays open but dead for ``slow_close_seconds``
    (a request the client sends on it meanwhile is swallowed, never forwarded) and closes
    with a FIN: the keep-alive race every pooled HTTP client meets in the wild.

The draw for request number *i* depends only on the seed and *i*, so a run that sends its
requests in the same order meets the same faults (``planned(n)`` lists them in advance).
``stats()`` counts what was injected, by kind, by kind and point, and on ``POST /jobs`` in
particular. ``configure`` sets the seed, the probabilities, and optionally narrows faults to
one endpoint (``only``) or to some points (``points``); ``script`` replaces the draw with an
exact sequence; ``enabled = False`` forwards everything untouched.

Usage::

    with FaultProxy(("127.0.0.1", sandbox.port), seed=7, reset=0.05, stall=0.02) as proxy:
        client = AirbyteClient(url=proxy.base_url + "/api/public/v1", timeout=1.0, ...)
        ...
        print(proxy.stats())
"""

from __future__ import annotations

import collections
import contextlib
import random
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

KINDS = ("reset", "truncate", "stall", "slow_close")
POINTS = {
    "reset": ("before_upstream", "after_upstream", "mid_response"),
    "truncate": ("mid_response", "unframed"),
    "stall": ("before_upstream", "after_upstream", "mid_response"),
    "slow_close": ("after_response",),
}
_MAX_HEAD = 64 * 1024


class _Closed(Exception):
    """The peer closed (or broke) its side before a whole message arrived."""


@dataclass(frozen=True)
class Fault:
    """What to do to one request."""

    kind: str  # one of KINDS, or "" for none
    point: str = ""
    fraction: float = 0.0  # where in the answer a mid_response fault strikes


@dataclass(frozen=True)
class Injected:
    """One fault that was applied."""

    index: int  # the request's number, from 0, in arrival order
    kind: str
    point: str
    method: str
    path: str
    cut_at: int | None = None  # answer bytes delivered before the fault, if mid-answer


class _Reader:
    """Buffered reads of whole HTTP messages from a blocking socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except OSError as exc:
            raise _Closed(str(exc)) from exc
        if not chunk:
            raise _Closed("eof")
        self.buf += chunk

    def until(self, marker: bytes) -> bytes:
        while True:
            at = self.buf.find(marker)
            if at >= 0:
                end = at + len(marker)
                data, self.buf = self.buf[:end], self.buf[end:]
                return data
            if len(self.buf) > _MAX_HEAD:
                raise _Closed("head too large")
            self._fill()

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def rest(self) -> bytes:
        """Everything until the peer closes (a body framed by the connection's end)."""
        while True:
            try:
                self._fill()
            except _Closed:
                data, self.buf = self.buf, b""
                return data

    def chunked(self) -> bytes:
        """A chunked body, raw (sizes, data, trailers), up to its final blank line."""
        out = b""
        while True:
            line = self.until(b"\r\n")
            out += line
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while True:
                    trailer = self.until(b"\r\n")
                    out += trailer
                    if trailer == b"\r\n":
                        return out
            out += self.exactly(size + 2)


def _headers(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            fields[name.strip().lower()] = value.strip()
    return lines[0], fields


def _read_message(reader: _Reader, *, request_method: str | None) -> tuple[bytes, bool]:
    """One whole request (``request_method`` None) or response; (raw bytes, keep-alive)."""
    head = reader.until(b"\r\n\r\n")
    first, fields = _headers(head)
    keep = "close" not in fields.get("connection", "").lower()
    if request_method is None:  # a request
        if "chunked" in fields.get("transfer-encoding", "").lower():
            return head + reader.chunked(), keep
        return head + reader.exactly(int(fields.get("content-length", "0") or 0)), keep
    parts = first.split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if first.startswith("HTTP/1.0") and "keep-alive" not in fields.get("connection", "").lower():
        keep = False
    if request_method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return head, keep
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return head + reader.chunked(), keep
    if "content-length" in fields:
        return head + reader.exactly(int(fields["content-length"])), keep
    return head + reader.rest(), False


def _keep_alive(response: bytes) -> tuple[bytes, bool]:
    """Drop ``Connection: close`` from a framed answer; (answer, whether to keep alive)."""
    head, sep, body = response.partition(b"\r\n\r\n")
    _, fields = _headers(head + sep)
    framed = "content-length" in fields or "chunked" in fields.get("transfer-encoding", "")
    if not framed:
        return response, False
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join(lines) + sep + body, True


def _unframe(response: bytes, fraction: float) -> tuple[bytes, int]:
    """The answer without ``Content-Length``, closed by the connection, its body cut short;
    (bytes to send, body bytes kept)."""
    head, sep, body = response.partition(b"\r\n\r\n")
    lines = [
        line
        for line in head.split(b"\r\n")
        if not line.lower().startswith((b"content-length:", b"connection:"))
    ]
    lines.append(b"Connection: close")
    cut = min(int(fraction * len(body)), max(len(body) - 1, 0))
    return b"\r\n".join(lines) + sep + body[:cut], cut


def _rst(sock: socket.socket) -> None:
    """Close with a TCP RST instead of a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _fin(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
    with contextlib.suppress(OSError):
        sock.close()


class FaultProxy:
    """A loopback HTTP/1.1 proxy that breaks requests at random, reproducibly.

    Args:
        upstream: ``(host, port)`` of the real server.
        seed: seeds the stream of draws (one per request, in arrival order).
        reset / truncate / stall / slow_close: probability per request of each fault
            (their sum must not exceed 1).
        stall_seconds: how long a stall holds; make it longer than the client's read timeout.
        slow_close_seconds: how long a slow close keeps the dead connection open.
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        seed: int = 0,
        reset: float = 0.0,
        truncate: float = 0.0,
        stall: float = 0.0,
        slow_close: float = 0.0,
        stall_seconds: float = 2.0,
        slow_close_seconds: float = 0.3,
    ) -> None:
        self.upstream = upstream
        self.stall_seconds = stall_seconds
        self.slow_close_seconds = slow_close_seconds
        self.enabled = True
        #: ``script(index, method, path) -> Fault | None`` replaces the random draw: for
        #: tests that need one exact sequence of faults.
        self.script: Callable[[int, str, str], Fault | None] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self.port = 0
        self.configure(
            seed=seed, reset=reset, truncate=truncate, stall=stall, slow_close=slow_close
        )

    # -- API ---------------------------------------------------------------------------
    def configure(
        self,
        *,
        seed: int | None = None,
        only: tuple[str, str] | None = None,
        points: dict[str, tuple[str, ...]] | None = None,
        **probabilities: float,
    ) -> None:
        """Set the seed and/or fault probabilities; restarts the draw stream and counters.

        ``only=("POST", "/jobs")`` breaks only requests of that method whose path ends so;
        ``points={"reset": ("after_upstream",)}`` narrows where a kind strikes. Both apply
        to this call: left out, every request and every point may be hit. Probabilities
        left out keep their current values.
        """
        for kind, where in (points or {}).items():
            if kind not in POINTS or not set(where) <= set(POINTS[kind]) or not where:
                raise ValueError(f"bad points for {kind!r}: {where}; see POINTS")
        unknown = set(probabilities) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kind(s): {sorted(unknown)}; use {KINDS}")
        with self._lock:
            current = getattr(self, "probabilities", dict.fromkeys(KINDS, 0.0))
            merged = {**current, **probabilities}
            if any(p < 0 for p in merged.values()) or sum(merged.values()) > 1.0 + 1e-9:
                raise ValueError(f"probabilities must be >= 0 and sum to at most 1: {merged}")
            self.probabilities: dict[str, float] = merged
            self.only = only
            self.points = {**POINTS, **(points or {})}
            if seed is not None:
                self.seed = seed
            self._rng = random.Random(self.seed)
            self.requests = 0
            self.swallowed = 0
            self.injected: list[Injected] = []

    def stats(self) -> dict[str, Any]:
        """Requests seen and faults injected: by kind, by kind@point, and on ``POST /jobs``."""
        with self._lock:
            injected = list(self.injected)
            requests = self.requests
            swallowed = self.swallowed
        return {
            "requests": requests,
            "swallowed": swallowed,
            "injected": len(injected),
            "by_kind": dict(collections.Counter(i.kind for i in injected)),
            "by_point": dict(collections.Counter(f"{i.kind}@{i.point}" for i in injected)),
            "on_create": sum(
                1 for i in injected if i.method == "POST" and i.path.endswith("/jobs")
            ),
        }

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- life cycle --------------------------------------------------------------------
    def start(self) -> FaultProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"faultproxy-{self.port}", daemon=True
        )
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _fin(sock)
        for thread in list(self._threads):
            thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            with self._lock:
                self._sockets.add(client)
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
            thread.start()

    def planned(self, n: int) -> list[Fault]:
        """The faults the first ``n`` requests will meet (ignoring ``only``), from the seed."""
        rng = random.Random(self.seed)
        return [self._choose(rng) for _ in range(n)]

    def _choose(self, rng: random.Random) -> Fault:
        # Always draw the same three numbers, so request i's fault depends on i alone.
        roll, pick, fraction = rng.random(), rng.random(), rng.random()
        edge = 0.0
        for kind in KINDS:
            edge += self.probabilities[kind]
            if roll < edge:
                points = self.points[kind]
                point = points[min(int(pick * len(points)), len(points) - 1)]
                return Fault(kind, point, fraction)
        return Fault("")

    def _draw(self, method: str, path: str) -> tuple[int, Fault]:
        with self._lock:
            index = self.requests
            self.requests += 1
            fault = self._choose(self._rng)
            if not self.enabled:
                return index, Fault("")
            if self.script is not None:
                return index, self.script(index, method, path) or Fault("")
            if self.only is not None and (
                method != self.only[0] or not path.endswith(self.only[1])
            ):
                return index, Fault("")
            return index, fault

    def _record(self, index: int, fault: Fault, method: str, path: str, cut: int | None) -> None:
        with self._lock:
            self.injected.append(Injected(index, fault.kind, fault.point, method, path, cut))

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _hold(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        creader = _Reader(client)
        ureader: _Reader | None = None
        try:
            while not self._stop.is_set():
                try:
                    request, client_keep = _read_message(creader, request_method=None)
                except _Closed:
                    return
                line = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
                method = line[0] if line else ""
                path = line[1].split("?", 1)[0] if len(line) > 1 else ""
                index, fault = self._draw(method, path)
                if fault.point == "before_upstream":
                    self._record(index, fault, method, path, None)
                    if fault.kind == "stall":
                        self._hold(self.stall_seconds)
                        _fin(client)
                    else:
                        _rst(client)
                    return
                if upstream is None:
                    upstream = socket.create_connection(self.upstream, timeout=60)
                    self._track(upstream)
                    ureader = _Reader(upstream)
                assert ureader is not None
                try:
                    upstream.sendall(request)
                    response, upstream_keep = _read_message(ureader, request_method=method)
                except (_Closed, OSError):
                    _rst(client)
                    return
                if not upstream_keep:
                    _fin(upstream)
                    with self._lock:
                        self._sockets.discard(upstream)
                    upstream, ureader = None, None
                    # Keep the client's connection alive, as a reverse proxy in front of a
                    # server that closes after each answer does (when the answer is framed).
                    if client_keep:
                        response, client_keep = _keep_alive(response)
                if not self._deliver(client, response, index, fault, method, path):
                    return
                if not client_keep:
                    _fin(client)
                    return
        finally:
            if upstream is not None:
                _fin(upstream)
            _fin(client)
            with self._lock:
                self._sockets.discard(client)
                if upstream is not None:
                    self._sockets.discard(upstream)

    def _deliver(
        self,
        client: socket.socket,
        response: bytes,
        index: int,
        fault: Fault,
        method: str,
        path: str,
    ) -> bool:
        """Send the answer as the fault says; False when the connection is finished."""
        if not fault.kind:
            try:
                client.sendall(response)
            except OSError:
                return False
            return True
        cut: int | None = None
        if fault.point == "mid_response":
            # At least one byte is kept back, so the answer is never complete.
            cut = min(int(fault.fraction * len(response)), len(response) - 1)
            with contextlib.suppress(OSError):
                client.sendall(response[:cut])
        elif fault.point == "unframed":
            response, cut = _unframe(response, fault.fraction)
            with contextlib.suppress(OSError):
                client.sendall(response)
        self._record(index, fault, method, path, cut)
        if fault.kind == "reset":
            _rst(client)
        elif fault.kind == "truncate":
            _fin(client)
        elif fault.kind == "stall":
            self._hold(self.stall_seconds)
            _fin(client)
        else:  # slow_close: the whole answer, then a dead connection, then a FIN
            with contextlib.suppress(OSError):
                client.sendall(response)
            client.settimeout(0.05)
            deadline = time.monotonic() + self.slow_close_seconds
            while time.monotonic() < deadline and not self._stop.is_set():
                try:
                    if not client.recv(65536):
                        break
                    with self._lock:  # a request sent now is swallowed, never forwarded
                        self.swallowed += 1
                except TimeoutError:
                    pass
                except OSError:
                    break
            _fin(client)
        return False
