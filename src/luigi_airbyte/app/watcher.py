"""Start and stop the host's job watcher around a run's graph.

The run service wraps its graph runner with ``with_watcher``: before Luigi forks workers,
one ``JobWatcher`` (``luigi_airbyte.sync.watcher``) starts in the run process with the
run's client, served on a Unix socket in the state folder; the socket's path goes into
the per-run state that forked workers inherit (``RunShared.watch_socket``), so every
sync task of this process tree asks the watcher instead of polling its own job. Under
luigid each host's ``luigi-airbyte run`` process starts its own: one watcher per host.

With webhooks set up (``webhook.listen``, ``public_url`` or ``token``), Airbyte's pushes
wake the watcher too (``app/watch_pushes.py``): each is confirmed with one request, the
job's details (which then go to the task) or ``GET /jobs/{id}`` without a config API.

``LUIGI_AIRBYTE_WATCHER=off`` runs without it (each task polls its own job, as before);
a watcher that cannot start (no Unix sockets, an unwritable folder) is logged and the
run goes on the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from luigi_airbyte.app.switches import switched_on
from luigi_airbyte.app.watch_pushes import pushes
from luigi_airbyte.pipeline.graph import Graph
from luigi_airbyte.sync.watch_channel import WatchFeed, WatchServer, socket_path
from luigi_airbyte.sync.watcher import JobWatcher

if TYPE_CHECKING:
    from luigi_airbyte.app.run_service import GraphOutcome, GraphRunner
    from luigi_airbyte.app.runtime import Runtime

logger = logging.getLogger(__name__)

ENV = "LUIGI_AIRBYTE_WATCHER"


def enabled() -> bool:
    return switched_on(ENV)


@contextmanager
def host_watcher(rt: Runtime, run_id: str) -> Iterator[JobWatcher | None]:
    """The run's watcher while the block runs; ``None`` when it is off or cannot start."""
    if not enabled():
        yield None
        return
    try:
        watcher = JobWatcher(rt.client())
        server = WatchServer(watcher, socket_path(rt.state_dir, run_id))
    except OSError as exc:
        logger.warning("the job watcher did not start (%s); each task polls its own job", exc)
        yield None
        return
    watcher.start()
    rt.shared.watch_socket = str(server.path)
    try:
        with pushes(rt, watcher):
            yield watcher
    finally:
        rt.shared.watch_socket = None
        server.close()
        watcher.stop()


def feed_for(rt: Runtime) -> WatchFeed | None:
    """This process tree's way to the host's watcher, if the run started one."""
    return WatchFeed.at(rt.shared.watch_socket)


def hint(rt: Runtime, job_id: int) -> bool:
    """A validated webhook says ``job_id`` may have ended: the watcher confirms it with one
    request (``JobWatcher.hint``) and wakes the task. False when no watcher took the hint."""
    feed = feed_for(rt)
    return feed is not None and feed.hint(job_id)


def with_watcher(graph_runner: GraphRunner) -> GraphRunner:
    """``graph_runner`` with the host's watcher running around it (same arguments)."""

    def run(rt: Runtime, graph: Graph, **options: Any) -> GraphOutcome:
        with host_watcher(rt, options["run_id"]):
            return graph_runner(rt, graph, **options)

    return run


__all__ = ["ENV", "enabled", "feed_for", "hint", "host_watcher", "with_watcher"]
