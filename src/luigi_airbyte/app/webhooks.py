"""Workspace webhooks for a pipeline: which connections and workspaces it touches, the
URL Airbyte should post to, and setting it (``luigi-airbyte webhook configure``), and
the shared-host receiver (``luigi-airbyte webhook serve``). See docs/webhooks.md.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from luigi_airbyte.airbyte.webhooks import SyncNotifications
from luigi_airbyte.errors import ConfigError, Problem
from luigi_airbyte.masking import MASK

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


def listen_address(rt: Runtime, listen: str | None = None) -> tuple[str, int]:
    """``webhook.listen`` (or ``listen``) as (host, port)."""
    text = listen or str(rt.settings.get("webhook.listen") or "127.0.0.1:8711")
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(
            [
                Problem(
                    rt.settings.source("webhook.listen") if not listen else "cli",
                    "webhook.listen",
                    f"{text!r} is not HOST:PORT",
                    "write e.g. 127.0.0.1:8711 (a port from 0 to 65535)",
                )
            ]
        )
    return host.strip("[]"), int(port)


def webhook_token(rt: Runtime) -> str | None:
    """The shared path token, resolved from its reference (None when not set)."""
    ref = rt.settings.get("webhook.token")
    return rt.secret(ref) if ref is not None else None


def webhook_target(rt: Runtime, url: str | None = None) -> WebhookTarget:
    """Where Airbyte should post: ``url``, else ``webhook.public_url``, else
    ``http://<webhook.listen>``; with a token, ``/<token>`` is appended."""
    base = url or rt.settings.get("webhook.public_url")
    if not base:
        host, port = listen_address(rt)
        base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    base = str(base).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ConfigError(
            [Problem("cli", "--url", f"{base!r} is not an http(s) URL", "pass http(s)://...")]
        )
    token = webhook_token(rt)
    if token:
        return WebhookTarget(f"{base}/{token}", f"{base}/{MASK}")
    return WebhookTarget(base + "/", base + "/")


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
    (not started: call ``serve_forever`` or ``start``)."""
    from luigi_airbyte.app.webhook_receiver import StoreHintSink, WebhookReceiver

    connections = set(pipeline_connections(rt, pipelines))
    host, port = listen_address(rt, listen)
    store = rt.store()
    store.open()
    try:
        return WebhookReceiver(
            StoreHintSink(store),
            connections=connections,
            host=host,
            port=port,
            token=webhook_token(rt),
        )
    except OSError as exc:
        raise ConfigError(
            [
                Problem(
                    "cli" if listen else rt.settings.source("webhook.listen"),
                    "webhook.listen",
                    f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                    "choose a free port (or stop what holds it)",
                )
            ]
        ) from None
