"""What a real connector costs in the sandbox: environment, protocol calls, a sync.

Prints one table: the warm environment lookup, each protocol command of source-faker
7.2.1 (spec, check, discover, read of N users), and a whole sandbox sync of those users
next to the same sync from the built-in generator (the floor, measured in the same run).
Builds the faker environment first if the cache has none (and says how long it took).

Usage: python benchmarks/connectors.py [--users 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from luigi_airbyte.sandbox.connectors.envs import ensure_env, env_for
from luigi_airbyte.sandbox.connectors.runner import run_collect
from luigi_airbyte.sandbox.engine import Engine
from luigi_airbyte.sandbox.world import world_from_dict

FAKER = "airbyte-source-faker==7.2.1"


def timed(fn: Callable[[], Any], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def sync_seconds(source: dict[str, Any], streams: list[dict[str, Any]], repeat: int) -> float:
    """Median seconds of a fresh engine's first sync (engine start not counted)."""
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            world = world_from_dict(
                {
                    "workspaces": [{"name": "ws"}],
                    "sources": [{"name": "s", **source}],
                    "destinations": [{"name": "wh", "type": "duckdb", "path": "wh.duckdb"}],
                    "connections": [
                        {"name": "c", "source": "s", "destination": "wh", "streams": streams}
                    ],
                },
                base_dir=tmp,
            )
            with Engine(world) as engine:
                engine.start()
                cid = engine.list_connections()[0]["connectionId"]
                started = time.perf_counter()
                job = engine.create_job(cid, "sync")
                while engine.get_job(job["jobId"])["status"] not in (
                    "succeeded",
                    "failed",
                    "cancelled",
                ):
                    time.sleep(0.02)
                runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rows: list[tuple[str, float]] = []
    if not env_for(FAKER).ready:
        started = time.perf_counter()
        ensure_env(FAKER)
        rows.append((f"build the {FAKER} environment (cold)", time.perf_counter() - started))
    rows.append(("environment lookup (warm)", timed(lambda: ensure_env(FAKER), args.repeat)))
    exe = [str(ensure_env(FAKER).executable("source-faker"))]
    config = {"count": args.users, "seed": 1, "always_updated": False, "parallelism": 1}
    for command in ("spec", "check", "discover"):
        rows.append(
            (
                f"source-faker {command}",
                timed(
                    lambda c=command: run_collect(exe, c, config=None if c == "spec" else config),
                    args.repeat,
                ),
            )
        )
    users = [{"name": "users", "sync_mode": "incremental_deduped_history"}]
    connector = {"type": "airbyte", "connector": "source-faker", "pip": FAKER, "config": config}
    generator = {
        "type": "generator",
        "streams": [{"name": "users", "size": args.users, "seed": 1}],
    }
    dedup = [
        {
            "name": "users",
            "sync_mode": "incremental_deduped_history",
            "cursor_field": ["updated_at"],
            "primary_key": [["id"]],
        }
    ]
    floor = sync_seconds(generator, dedup, args.repeat)
    rows.append(
        (
            f"sandbox sync, {args.users} users, source-faker",
            sync_seconds(connector, users, args.repeat),
        )
    )
    rows.append((f"sandbox sync, {args.users} users, generator (floor)", floor))

    load = os.getloadavg()[0]
    print(f"| what (median of {args.repeat}) | seconds | x floor |")
    print("|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {seconds / floor:.1f} |")
    print(f"\n1-minute load average at the end: {load:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
