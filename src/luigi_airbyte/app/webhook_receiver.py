"""A small HTTP receiver for Airbyte's sync notifications (workspace webhooks).

Airbyte POSTs once, unsigned, when a sync of a configured workspace succeeds or fails
(``luigi-airbyte webhook configure`` sets the URL). A webhook is a **hint**: it says
"job J of connection C ended", and whoever acts on it confirms with one
``GET /jobs/{J}``; polling stays as the slow fallback for the pushes that never come.

What the receiver trusts, and what it does not:

* it binds loopback (``127.0.0.1``) unless told otherwise: put a reverse proxy (TLS)
  in front of it to let Airbyte reach it from elsewhere;
* with a ``token``, only ``POST /<token>`` is served (a wrong path is a 404, compared in
  constant time after percent-decoding, so the token may be sent quoted); without one,
  only ``POST /``;
* a body must say its length and stay under ``max_body`` bytes (413 otherwise); a
  client gets ``read_timeout`` seconds to send it;
* a malformed payload (400), a payload for a connection that is not one of ours, and a
  replay (a job id already hinted) are logged and ignored: the sink never hears of them.

Plugging a sink in
------------------
A sink is anything with ``hint(connection_id: str, job_id: int) -> None`` (`HintSink`).
It is called on the receiver's request thread, once per job id, so it must be quick and
thread-safe: set an event, put on a queue, write one row. It must not trust the hint:
confirm the job's status with one ``GET /jobs/{job_id}`` before acting on it. An
exception from the sink is logged; the receiver keeps serving. Example::

    class WakeWatcher:
        def __init__(self, watcher): self.watcher = watcher
        def hint(self, connection_id, job_id): self.watcher.hint(job_id)

    with WebhookReceiver(WakeWatcher(w), connections={c.connection_id for c in conns},
                         port=8711, token=token) as receiver:
        receiver.start()
        ...  # Airbyte posts to receiver.url

For a shared host (``luigi-airbyte webhook serve``), `StoreHintSink` records each hint
in the metadata store's ``webhook_hints`` table, and runs on other hosts read them with
``Store.hints_after(cursor)``.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote, unquote

from luigi_airbyte.airbyte.webhooks import WebhookPayload, WebhookPayloadError
from luigi_airbyte.closing import Closing
from luigi_airbyte.sync.watch_channel import POLL_INTERVAL  # close() waits for one poll

if TYPE_CHECKING:
    from luigi_airbyte.store import Store

logger = logging.getLogger("luigi_airbyte.webhooks")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_MAX_BODY = 64 * 1024  # Airbyte's payload is a few kB
DEFAULT_READ_TIMEOUT = 5.0
_REMEMBERED_JOBS = 100_000


class HintSink(Protocol):
    """Where valid hints go: ``hint(connection_id, job_id)``; see the module docstring."""

    def hint(self, connection_id: str, job_id: int) -> None: ...


class StoreHintSink:
    """Records each hint in the store's ``webhook_hints`` table (once per connection and
    job), for runs on other hosts that read it with ``Store.hints_after``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def hint(self, connection_id: str, job_id: int) -> None:
        self._store.record_hint(connection_id, job_id)


class ReceiverStats:
    """What the receiver did, by outcome (for tests, logs and ``webhook serve``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def add(self, outcome: str) -> None:
        with self._lock:
            self.counts[outcome] = self.counts.get(outcome, 0) + 1

    def get(self, outcome: str) -> int:
        with self._lock:
            return self.counts.get(outcome, 0)


class WebhookReceiver(Closing):
    """A threaded HTTP server feeding valid sync notifications to a `HintSink`.

    Args:
        sink: gets ``hint(connection_id, job_id)`` once per job id.
        connections: the connection ids this receiver serves (one run's, or one
            pipeline's); a payload for any other is ignored. A callable is asked instead.
        host, port: where to listen (port 0: a free port; see ``url``).
        token: the shared path token (``POST /<token>``); None serves ``POST /``.
        max_body: the largest body accepted, in bytes.
        read_timeout: seconds a client gets to send its request.
    """

    def __init__(
        self,
        sink: HintSink,
        *,
        connections: Collection[str] | Callable[[str], bool],
        host: str = DEFAULT_HOST,
        port: int = 0,
        token: str | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        if token is not None and (not token or "/" in token):
            raise ValueError("the webhook token must be non-empty and contain no '/'")
        self.sink = sink
        if callable(connections):
            self._known: Callable[[str], bool] = connections
        else:
            ids = frozenset(c.lower() for c in connections)
            self._known = lambda cid: cid.lower() in ids
        self._path = ("/" + token if token else "/").encode()  # compared percent-decoded
        self.max_body = max_body
        self.read_timeout = read_timeout
        self.stats = ReceiverStats()
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._seen_lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """The local URL to post to, token path included (do not log it with a token)."""
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/{quote(self._path.decode()[1:], safe='')}"

    def start(self) -> WebhookReceiver:
        """Serve on a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": POLL_INTERVAL},
                name="webhook-receiver",
                daemon=True,
            )
            self._thread.start()
            logger.info("webhook receiver listening on %s:%d", *self.address)
        return self

    def serve_forever(self) -> None:
        """Serve on this thread until ``close()`` (or KeyboardInterrupt)."""
        logger.info("webhook receiver listening on %s:%d", *self.address)
        self._server.serve_forever(poll_interval=POLL_INTERVAL)

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    # --- one request -------------------------------------------------------------------------

    def path_ok(self, raw_path: str) -> bool:
        """Whether the request path is ours (constant-time; the query string is ignored).

        The path is percent-decoded first: ``webhook configure`` sets the token quoted
        (``quote(token, safe="")``), and a token of URL-safe characters reads the same."""
        path = unquote(raw_path.split("?", 1)[0]).encode("utf-8", "replace")
        return hmac.compare_digest(path, self._path)

    def accept(self, body: bytes) -> tuple[int, str]:
        """Judge one body; returns (status, outcome). Calls the sink for a valid hint."""
        try:
            payload = WebhookPayload.parse(body)
        except WebhookPayloadError as exc:
            logger.warning("webhook ignored: malformed payload (%s)", exc)
            return 400, "malformed"
        hint = payload.hint
        if not self._known(hint.connection_id):
            logger.warning(
                "webhook ignored: connection %s (job %d) is not one of this receiver's",
                hint.connection_id,
                hint.job_id,
            )
            return 202, "unknown_connection"
        with self._seen_lock:
            replay = hint.job_id in self._seen
            if not replay:
                self._seen[hint.job_id] = None
                if len(self._seen) > _REMEMBERED_JOBS:
                    self._seen.popitem(last=False)
        if replay:
            logger.warning(
                "webhook ignored: job %d of connection %s was already hinted (a replay)",
                hint.job_id,
                hint.connection_id,
            )
            return 202, "replay"
        logger.info(
            "webhook: job %d of connection %s says %s (a hint, to be confirmed)",
            hint.job_id,
            hint.connection_id,
            "succeeded" if hint.success else "failed",
        )
        try:
            self.sink.hint(hint.connection_id, hint.job_id)
        except Exception:
            logger.exception("webhook sink failed on job %d", hint.job_id)
            return 500, "sink_failed"
        return 200, "accepted"


def _handler_for(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = receiver.read_timeout  # socket timeout for the whole request
        server_version = "luigi-airbyte-webhooks"
        sys_version = ""

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("webhook %s: %s", self.client_address[0], format % args)

        def _answer(self, status: int, outcome: str) -> None:
            receiver.stats.add(outcome)
            body = b'{"outcome": "' + outcome.encode() + b'"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def do_POST(self) -> None:
            if not receiver.path_ok(self.path):
                logger.warning("webhook refused: wrong path from %s", self.client_address[0])
                self._answer(404, "wrong_path")
                return
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                logger.warning("webhook refused: no Content-Length")
                self._answer(411, "no_length")
                return
            if int(length) > receiver.max_body:
                logger.warning(
                    "webhook refused: body of %s bytes is over %d", length, receiver.max_body
                )
                self._answer(413, "too_large")
                return
            try:
                body = self.rfile.read(int(length))
            except TimeoutError:
                logger.warning("webhook refused: the body was not sent in time")
                receiver.stats.add("timeout")
                self.close_connection = True
                return
            if len(body) < int(length):
                logger.warning("webhook refused: the body was cut short")
                receiver.stats.add("short_body")
                self.close_connection = True
                return
            self._answer(*receiver.accept(body))

        def _not_allowed(self) -> None:
            self._answer(404 if not receiver.path_ok(self.path) else 405, "wrong_method")

        do_GET = do_PUT = do_DELETE = do_PATCH = _not_allowed

    return Handler


__all__ = [
    "DEFAULT_HOST",
    "HintSink",
    "ReceiverStats",
    "StoreHintSink",
    "WebhookReceiver",
]
