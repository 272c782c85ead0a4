"""Airbyte's pushes (workspace webhooks) wake the host's job watcher.

When the pipeline file (or the environment) sets up webhooks (``webhook.listen``,
``public_url`` or ``token``), the run's watcher
hears of a job's end from Airbyte's push instead of waiting for its next listing: each
valid push is a hint, confirmed by the watcher with one request (the job's details, or
``GET /jobs/{id}`` without a config API) before any task is told (``JobWatcher.hint``).
Two ways for a push to arrive:

- the run process binds ``webhook.listen`` itself and runs the receiver
  (``app/webhook_receiver.py``), whose hints go straight to the watcher;
- the address is taken, because ``luigi-airbyte webhook serve`` runs on this host (the
  shared receiver for several hosts): the watcher then follows the hints that receiver
  records in the metadata store (``Store.hints_after``), every ``STORE_POLL_S``.

An address that cannot be bound for another reason (a host that does not resolve, an
address not of this machine, a port not allowed) is a wrong ``webhook.listen``: a
WARNING names the setting and the fix, and the watcher follows the store the same way.

Pushes are an accelerator only. Airbyte sends each once, unsigned; a dropped one is
caught by the watcher's next listing, at the task's own adaptive time.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from luigi_airbyte.app.webhooks import cannot_listen, listen_address, webhook_token
from luigi_airbyte.errors import LuigiAirbyteError
from luigi_airbyte.sync.watcher import JobWatcher

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime
    from luigi_airbyte.store import Store

logger = logging.getLogger(__name__)

STORE_POLL_S = 0.25


class WakeWatcher:
    """A ``HintSink`` for the receiver: a valid push becomes ``JobWatcher.hint``."""

    def __init__(self, watcher: JobWatcher) -> None:
        self.watcher = watcher

    def hint(self, connection_id: str, job_id: int) -> None:
        self.watcher.hint(job_id)


class StoreHints:
    """Follows the hints a shared ``webhook serve`` records in the store (from now on)."""

    def __init__(self, store: Store, watcher: JobWatcher, interval: float = STORE_POLL_S):
        self.store, self.watcher, self.interval = store, watcher, interval
        self._stop = threading.Event()
        self._cursor = 0
        self._thread = threading.Thread(target=self._loop, name="webhook-hints", daemon=True)

    def start(self) -> StoreHints:
        while batch := self.store.hints_after(self._cursor):  # what came before the run
            self._cursor = batch[-1].id
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                batch = self.store.hints_after(self._cursor)
            except LuigiAirbyteError as exc:
                logger.debug("cannot read webhook hints: %s", exc)
                continue
            for record in batch:
                self._cursor = record.id
                try:
                    self.watcher.hint(record.job_id)
                except Exception:  # one bad hint must not end the following
                    logger.exception("webhook hint for job %s failed; ignored", record.job_id)


def wanted(rt: Runtime) -> bool:
    """Whether this run listens for pushes: a ``webhook`` setting (listen, public_url or
    token) is given in the pipeline file, the environment or on the command line."""
    keys = ("webhook.listen", "webhook.public_url", "webhook.token")
    return any(
        key in rt.settings and not rt.settings.source(key).startswith("default") for key in keys
    )


def _not_listening(rt: Runtime, host: str, port: int, exc: OSError) -> None:
    """Say why the run's receiver did not bind; the run goes on, following the store.

    A port in use is expected (``webhook serve`` runs on this host): info. Any other
    cause (a host that does not resolve, an address not of this machine, a port not
    allowed) is a wrong ``webhook.listen``: a warning naming it and the fix. The run
    cannot fail with exit 3 here: it is already recorded and preflight has passed."""
    why, fix = cannot_listen(exc)
    if not isinstance(exc, socket.gaierror) and exc.errno == errno.EADDRINUSE:
        logger.info(
            "webhook receiver: %s:%s is taken (%s); following the hints `webhook serve` "
            "records in the store",
            host,
            port,
            why,
        )
        return
    logger.warning(
        "webhook.listen (%s): cannot listen on %s:%s: %s; fix: %s. This run gets no "
        "pushes of its own: it follows the hints a shared `webhook serve` records in the "
        "store, and its watcher's listings",
        rt.settings.source("webhook.listen") if "webhook.listen" in rt.settings else "default",
        host,
        port,
        why,
        fix,
    )


@contextmanager
def pushes(rt: Runtime, watcher: JobWatcher) -> Iterator[str]:
    """Pushes wake ``watcher`` while the block runs; yields how ("receiver", "store", "")."""
    if not wanted(rt):
        yield ""
        return
    from luigi_airbyte.app.webhook_receiver import WebhookReceiver  # http.server: if wanted

    host, port = listen_address(rt)
    try:
        receiver = WebhookReceiver(
            WakeWatcher(watcher),
            connections=watcher.watches_connection,
            host=host,
            port=port,
            token=webhook_token(rt),
        )
    except OSError as exc:
        _not_listening(rt, host, port, exc)
        follower = StoreHints(rt.store(), watcher).start()
        try:
            yield "store"
        finally:
            follower.stop()
        return
    receiver.start()
    try:
        yield "receiver"
    finally:
        receiver.close()


__all__ = ["STORE_POLL_S", "StoreHints", "WakeWatcher", "pushes", "wanted"]
