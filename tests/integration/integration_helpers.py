"""Helpers for the sync-engine integration tests: the real client, over real HTTP, against
the sandbox.

Every test starts its own ``Sandbox`` on loopback (a world built by ``world()``), talks to it
with the real ``AirbyteClient`` and runs the real ``SyncRunner``. What happened is counted on
the server side, never trusted from the client: jobs through ``sb.engine.list_jobs`` and
requests through the sandbox's request journal (``sb.requests``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from luigi_airbyte.airbyte import AirbyteClient, AirbyteClientCredentials, RetryPolicy
from luigi_airbyte.observe.events import Emitter, NullEmitter
from luigi_airbyte.sandbox import Sandbox
from luigi_airbyte.sandbox.world import derived_id
from luigi_airbyte.store.ledger import InMemoryLedger, Ledger
from luigi_airbyte.sync import FixedInterval, SyncRunner, SyncSettings

CONNECTION = "CRM to Warehouse"
CONNECTION_ID = derived_id("connection", CONNECTION)
CLIENT_ID = "integration-client"
CLIENT_SECRET = "integration-secret"  # a fixed credential of a local fake

# Every runner here polls fast and gives up on a hung job instead of hanging the suite.
FAST_SETTINGS: dict[str, Any] = {
    "poll_strategy": FixedInterval(0.1),
    "confirm_window": 1.0,
    # The sandbox keeps job times in whole seconds (as Airbyte reports them), so its
    # createdAtStart filter hides a job created in the same second as the runner's "since"
    # unless the runner allows at least a second of skew (its default is 120 s).
    "clock_skew": 5.0,
    "timeout": 90.0,
    "stuck_after": None,
}


def world(
    tmp: Path,
    *,
    job_seconds: float = 0.3,
    rows: int = 5,
    secret: str = CLIENT_SECRET,
    **settings: Any,
) -> dict[str, Any]:
    """A small world: one generator source, one SQLite warehouse, one connection.

    ``rows=0`` gives a source with no streams at all: a job then moves nothing and costs
    no database write, which the 1,000-trial loop needs to stay fast.
    """
    streams = [{"name": "users", "size": rows, "growth_per_sync": 0, "seed": 1}] if rows > 0 else []
    return {
        "workspaces": [{"name": "Integration"}],
        "sources": [{"name": "CRM", "type": "generator", "streams": streams}],
        "destinations": [
            {"name": "Warehouse", "type": "sqlite", "path": str(tmp / "warehouse.sqlite")}
        ],
        "connections": [
            {
                "name": CONNECTION,
                "source": "CRM",
                "destination": "Warehouse",
                "prefix": "crm_",
                "job_duration_seconds": job_seconds,
            }
        ],
        "applications": [{"name": "tests", "client_id": CLIENT_ID, "client_secret": secret}],
        "settings": {"attempt_backoff_seconds": 0, **settings},
    }


def client_for(
    sb: Sandbox,
    *,
    secret: str | None = None,
    retry: RetryPolicy | None = None,
) -> AirbyteClient:
    """The real client with client credentials; fast retries unless told otherwise."""
    auth = AirbyteClientCredentials(sb.client_id, sb.client_secret if secret is None else secret)
    policy = retry if retry is not None else RetryPolicy(base_delay=0.05, max_delay=0.5)
    return AirbyteClient(url=sb.url, auth=auth, retry=policy, timeout=10.0)


def runner_for(
    client: AirbyteClient,
    ledger: Ledger | None = None,
    *,
    emitter: Emitter | None = None,
    **settings: Any,
) -> SyncRunner:
    """A ``SyncRunner`` with ``FAST_SETTINGS`` (overridable) and an in-memory ledger."""
    return SyncRunner(
        client,
        ledger if ledger is not None else InMemoryLedger(),
        emitter=emitter if emitter is not None else NullEmitter(),
        settings=SyncSettings(**{**FAST_SETTINGS, **settings}),
    )


def jobs_of(sb: Sandbox, connection_id: str = CONNECTION_ID) -> list[dict[str, Any]]:
    """Every job the sandbox's engine holds for the connection (the ground truth)."""
    return sb.engine.list_jobs(connection_id=connection_id)


def job_posts(sb: Sandbox) -> list[dict[str, Any]]:
    """Every ``POST /jobs`` that reached the sandbox, in order."""
    return sb.requests(endpoint="POST /jobs")


def wait_for(
    what: str, check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.02
) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
