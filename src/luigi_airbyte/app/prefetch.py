"""The run's per-run Airbyte requests, made while Luigi is imported.

Before it builds its tasks a run pays, once, for a token, the config-API probe and one
listing of the workspace's connections (`Runtime.prepare`). Those requests wait on
Airbyte; importing Luigi (~0.15 s) waits on nothing but the CPU. The graph runner starts
``prepare`` in a thread, imports Luigi, and joins the thread before Luigi builds a task,
so before it could fork a worker: the same requests, once each, in the same order.

A failure is handled as the task builder handles it (`Runtime.connection_id_or_blank`):
the run goes on without the per-run listing, and each sync resolves its connection
itself and reports Airbyte's error where it belongs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from luigi_airbyte.pipeline.graph import Graph

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime

logger = logging.getLogger(__name__)


def _prepare(rt: Runtime) -> None:
    try:
        rt.prepare()
    except Exception as exc:  # noqa: BLE001 - the tasks report Airbyte's error themselves
        logger.debug("per-run resolution failed: %s", exc)
        rt.shared.prepare_failed = True  # as connection_id_or_blank does: no retry per task


@contextmanager
def prefetched(rt: Runtime, graph: Graph) -> Iterator[None]:
    """``rt.prepare()`` runs in a thread while the block runs, and has ended when it exits.

    Started only when the graph has a sync step (only syncs use the listing) and the run
    did not pay already (a ``sync_each`` graph lists while it expands).
    """
    shared = rt.shared
    thread: threading.Thread | None = None
    if any(n.kind == "sync" for n in graph.nodes) and not (
        shared.prepared or shared.prepare_failed
    ):
        thread = threading.Thread(target=_prepare, args=(rt,), name="airbyte-prefetch", daemon=True)
        thread.start()
    try:
        yield
    finally:
        if thread is not None:
            thread.join()


__all__ = ["prefetched"]
