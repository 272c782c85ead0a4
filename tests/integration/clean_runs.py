"""Seeded clean runs for the counts check: no false alarm on a run that lost nothing.

Each world is drawn from a seed: 1-3 streams, each in one of four sync modes (full
refresh overwrite or append, incremental append or deduped), random sizes, growth,
chunk sizes, and 0-2 failed attempts part way before the job succeeds. Two syncs run
per world, in this process, against the real sandbox over loopback HTTP with the real
client and runner; each is then judged by the same code as a pipeline's ``:counts``
check (``reconcile_sync_counts``) and by the outcome rules' lost-records warning.

Used by ``tests/integration/test_clean_counts.py`` (30 runs) and by
``benchmarks/clean_counts.py`` (200 runs, recorded in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luigi_airbyte.airbyte import AirbyteClient, AirbyteClientCredentials, RetryPolicy
from luigi_airbyte.app.step_checks import reconcile_sync_counts
from luigi_airbyte.observe.events import NullEmitter
from luigi_airbyte.sandbox import Sandbox, world_from_dict
from luigi_airbyte.sandbox.world import derived_id
from luigi_airbyte.store.ledger import InMemoryLedger
from luigi_airbyte.sync import FixedInterval, SyncRunner, SyncSettings

MODES = (
    "full_refresh_overwrite",
    "full_refresh_append",
    "incremental_append",
    "incremental_deduped_history",
)
CONNECTION = "Clean"


@dataclass
class RunOutcome:
    """One sync and its counts check."""

    seed: int
    sync: int
    modes: dict[str, str]
    attempts: int
    alarms: list[str] = field(default_factory=list)


def seeded_world(seed: int, tmp: Path) -> dict[str, Any]:
    rng = random.Random(seed)
    names = rng.sample(["users", "orders", "events"], rng.randint(1, 3))
    streams, configured = [], []
    for i, name in enumerate(names):
        cursor = "at" if name == "events" else "updated_at"
        streams.append(
            {
                "name": name,
                "size": rng.randint(5, 60),
                "growth_per_sync": rng.randint(1, 10),
                "seed": seed * 10 + i,
            }
        )
        mode = rng.choice(MODES)
        configured.append(
            {
                "name": name,
                "sync_mode": mode,
                "cursor_field": [cursor],
                "primary_key": [["id"]],
            }
        )
    fail_attempts = rng.choice([0, 1, 1, 2])
    return {
        "workspaces": [{"name": "Clean runs"}],
        "sources": [{"name": "Source", "type": "generator", "streams": streams}],
        "destinations": [
            {"name": "Warehouse", "type": "sqlite", "path": str(tmp / "warehouse.sqlite")}
        ],
        "connections": [
            {
                "name": CONNECTION,
                "source": "Source",
                "destination": "Warehouse",
                "prefix": "c_",
                "job_duration_seconds": 0,
                "streams": configured,
            }
        ],
        "applications": [{"name": "runs", "client_id": "runs", "client_secret": "runs-secret"}],
        "settings": {
            "attempt_backoff_seconds": 0,
            "max_attempts": 3,
            "chunk_size": rng.randint(3, 20),
        },
        "faults": {
            "jobs": {
                CONNECTION: {
                    "fail_attempts": fail_attempts,
                    "fail_after": round(rng.uniform(0.2, 0.8), 2),
                }
            }
        },
    }


def clean_runs(seed: int, tmp: Path, syncs: int = 2) -> list[RunOutcome]:
    """Run ``syncs`` syncs of one seeded world; each outcome lists its false alarms."""
    tmp.mkdir(parents=True, exist_ok=True)
    data = seeded_world(seed, tmp)
    modes = {s["name"]: s["sync_mode"] for s in data["connections"][0]["streams"]}
    conn_id = derived_id("connection", CONNECTION)
    out = []
    sandbox = Sandbox(world_from_dict(data, source=f"<seed {seed}>", base_dir=tmp))
    sandbox.start()
    try:
        auth = AirbyteClientCredentials(sandbox.client_id, sandbox.client_secret)
        policy = RetryPolicy(base_delay=0.01, max_delay=0.1)
        with AirbyteClient(url=sandbox.url, auth=auth, retry=policy, timeout=10.0) as client:
            runner = SyncRunner(
                client,
                InMemoryLedger(),
                emitter=NullEmitter(),
                settings=SyncSettings(
                    poll_strategy=FixedInterval(0.02),
                    confirm_window=1.0,
                    clock_skew=5.0,
                    timeout=60.0,
                    stuck_after=None,
                    zero_rows="ignore",
                    drop_threshold=None,
                ),
            )
            for n in range(syncs):
                result = runner.run(conn_id, f"seed-{seed}/{n}")
                outcome = RunOutcome(seed, n, modes, result.attempts)
                outcome.alarms += [w for w in result.warnings if "not committed" in w]
                details = client.get_job_details(result.job_id)
                assert details is not None
                connection = client.get_connection(conn_id)
                tables = {name: f"c_{name}" for name in modes}
                results = reconcile_sync_counts(
                    details,
                    connection,
                    f"sqlite:///{tmp / 'warehouse.sqlite'}",
                    tables,
                    sync_id=result.job_id,
                )
                outcome.alarms += [f"{r.name}: {r.message}" for r in results if not r.passed]
                out.append(outcome)
    finally:
        sandbox.stop()
    return out
