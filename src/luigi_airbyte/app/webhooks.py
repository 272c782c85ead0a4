"""Workspace webhooks for a pipeline: which connections and workspaces it touches, the
URL Airbyte should post to, and setting it (``luigi-airbyte webhook configure``), and
the shared-host receiver (``luigi-airbyte webhook serve``). See docs/webhooks.md.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

from luigi_airbyte.airbyte.webhooks import SyncNotifications
from luigi_airbyte.errors import ConfigError, Problem
from luigi_airbyte.masking import MASK, mask_url

if TYPE_CHECKING:  # the receiver (http.server) is imported when one is served
    from luigi_airbyte.app.runtime import Runtime
    from luigi_airbyte.app.webhook_receiver import WebhookReceiver

logger = logging.getLogger("luigi_airbyte.webhooks")

__all__ = [
    "MASK",
    "WebhookTarget",
    "configure_webhooks",
    "listen_address",
    "pipeline_connections",
    "serve_receiver",
    "webhook_target",
    "webhook_token",
]


@dataclass(frozen=True)
class WebhookTarget:
    """The URL Airbyte posts to, and the same with its token masked (safe to print)."""

    url: str
    shown: str


def pipeline_connections(rt: Runtime, pipelines: Sequence[str]) -> dict[str, str]:
    """The connections the pipelines sync, id -> workspace id (from the run's one
    listing; an id the listing does not hold is fetched)."""
    found: dict[str, str] = {}
    for name in pipelines:
        for node in rt.graph(name):
            if node.kind != "sync":
                continue
            conn = rt.connection(node.connection_id or node.connection)
            found[conn.connection_id.lower()] = conn.workspace_id
    return found


def _listen_where(rt: Runtime, listen: str | None) -> tuple[str, str]:
    """(source, field) to name in a problem with the listening address."""
    source = "cli" if listen else rt.settings.source("webhook.listen")
    return source, "--listen" if source == "cli" else "webhook.listen"


def listen_address(rt: Runtime, listen: str | None = None) -> tuple[str, int]:
    """``webhook.listen`` (or ``listen``) as (host, port)."""
    text = listen or str(rt.settings.get("webhook.listen") or "127.0.0.1:8711")
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(
            [
                Problem(
                    *_listen_where(rt, listen),
                    f"{text!r} is not HOST:PORT",
                    "write e.g. 127.0.0.1:8711 (a port from 0 to 65535)",
                )
            ]
        )
    return host.strip("[]"), int(port)


def cannot_listen(exc: OSError) -> tuple[str, str]:
    """(why, fix) for a socket that could not be bound."""
    if isinstance(exc, socket.gaierror):
        return (
            f"the host does not resolve ({exc.strerror or exc})",
            "use an IP address or a host name of this machine, e.g. 127.0.0.1:8711",
        )
    if exc.errno == errno.EADDRINUSE:
        return "the port is already in use", "choose a free port or stop what holds it"
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"the address is not one of this machine's ({exc.strerror or exc})",
            "use an IP address or a host name of this machine, e.g. 127.0.0.1:8711",
        )
    if exc.errno == errno.EACCES:
        return (
            f"not allowed ({exc.strerror or exc})",
            "choose a port above 1023, or run with the right to bind a low port",
        )
    return str(exc.strerror or exc), "use a free HOST:PORT of this machine, e.g. 127.0.0.1:8711"


def webhook_token(rt: Runtime) -> str | None:
    """The shared path token, resolved from its reference (None when not set)."""
    ref = rt.settings.get("webhook.token")
    if ref is None:
        return None
    token = rt.secret(ref)
    if not token.strip() or "/" in token:
        raise ConfigError(
            [
                Problem(
                    rt.settings.source("webhook.token"),
                    "webhook.token",
                    "the token it refers to is empty or contains '/'",
                    "make the token one non-empty path segment (no '/'), e.g. a random hex string",
                )
            ]
        )
    return token


def _url_problem(source: str, field: str, message: str, fix: str) -> ConfigError:
    return ConfigError([Problem(source, field, message, fix)])


def webhook_target(rt: Runtime, url: str | None = None) -> WebhookTarget:
    """Where Airbyte should post: ``url``, else ``webhook.public_url``, else
    ``http://<webhook.listen>``; with a token, ``/<token>`` is appended to the URL's path
    (before its query). A URL carrying credentials (``user:password@``) is refused."""
    if url:
        source, field, base = "cli", "--url", url
    elif rt.settings.get("webhook.public_url"):
        source, field = rt.settings.source("webhook.public_url"), "webhook.public_url"
        base = str(rt.settings.get("webhook.public_url"))
    else:
        host, port = listen_address(rt)
        source, field = _listen_where(rt, None)
        base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    base = base.strip()
    _, sep, rest = base.partition("://")
    if "@" in (rest if sep else base).split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]:
        raise _url_problem(
            source,
            field,
            "the URL carries credentials (user:password@); Airbyte would store and show them",
            "remove user:password@ from the URL; the receiver is guarded by webhook.token, "
            "a path token set as a reference (e.g. env:WEBHOOK_TOKEN)",
        )
    try:
        parts = urlsplit(base)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _url_problem(
            source,
            field,
            f"{mask_url(base)!r} is not an http(s) URL",
            "pass http(s)://HOST[:PORT][/PATH]",
        )
    token = webhook_token(rt)
    if not token:
        return WebhookTarget(base, mask_url(base))

    def with_path_end(end: str) -> str:
        path = parts.path.rstrip("/") + "/" + end
        return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))

    return WebhookTarget(with_path_end(quote(token, safe="")), mask_url(with_path_end(MASK)))


def configure_webhooks(
    rt: Runtime, pipelines: Sequence[str], target: WebhookTarget | None
) -> list[SyncNotifications]:
    """Set (or, with ``target=None``, switch off) the success and failure webhooks of
    every workspace the pipelines sync in; returns each workspace's settings as read back."""
    workspaces = sorted(set(pipeline_connections(rt, pipelines).values()))
    client = rt.client()
    done = []
    for ws in workspaces:
        done.append(client.set_sync_webhook(ws, target.url if target else None))
        logger.info("workspace %s: sync webhooks %s", ws, target.shown if target else "off")
    return done


def serve_receiver(
    rt: Runtime, pipelines: Sequence[str], listen: str | None = None
) -> WebhookReceiver:
    """A receiver for the pipelines' connections, recording hints in the run's store
    (not started: call ``serve_forever`` or ``start``).

    The socket is bound first: a bad or busy address fails (ConfigError, exit 3) before
    Airbyte is asked for the connections or the store is opened. A failure after the
    bind closes the socket again."""
    from luigi_airbyte.app.webhook_receiver import StoreHintSink, WebhookReceiver

    host, port = listen_address(rt, listen)
    token = webhook_token(rt)
    connections: set[str] = set()
    try:
        receiver = WebhookReceiver(
            _NoSinkYet(),
            connections=lambda cid: cid.lower() in connections,
            host=host,
            port=port,
            token=token,
        )
    except OSError as exc:
        why, fix = cannot_listen(exc)
        raise ConfigError(
            [Problem(*_listen_where(rt, listen), f"cannot listen on {host}:{port}: {why}", fix)]
        ) from None
    try:  # nothing is served before serve_forever/start: the sink is set by then
        connections.update(pipeline_connections(rt, pipelines))
        receiver.sink = StoreHintSink(rt.store())
    except BaseException:
        receiver.close()
        raise
    return receiver


class _NoSinkYet:
    """The sink of a receiver bound before its store is open (never called)."""

    def hint(self, connection_id: str, job_id: int) -> None:
        raise RuntimeError("the webhook receiver has no sink yet")
