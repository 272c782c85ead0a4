"""Preflight: prove a run can work before any sync starts.

Checks, in order, and reports every failure at once (exit 4): each secret reference the
pipeline uses resolves; Airbyte answers; the credential is accepted; every connection
exists and is active; every warehouse a check queries is reachable. A missing credential
is found here, at 6 p.m. in CI, not at 2 a.m. halfway through the nightly run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from luigi_airbyte.airbyte import ConnectionStatus
from luigi_airbyte.checks import open_warehouse
from luigi_airbyte.errors import AirbyteError, LuigiAirbyteError, PreflightError, SecretError
from luigi_airbyte.pipeline._steps import CheckStep, CommandStep, DbtStep, SparkStep, SyncStep
from luigi_airbyte.pipeline.graph import Graph
from luigi_airbyte.secrets import SecretRef

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreflightCheck:
    name: str
    ok: bool
    detail: str


# What to do about a connection that cannot sync, by its status.
_STATUS_FIX: dict[ConnectionStatus | None, str] = {
    ConnectionStatus.DEPRECATED: (
        "it was deleted in Airbyte and cannot be enabled again: point the step at a live "
        "connection (luigi-airbyte connections list -f FILE shows them) or remove the step"
    ),
    ConnectionStatus.LOCKED: (
        "Airbyte locked it (see the reason); resolve that in Airbyte or remove the step"
    ),
    None: "enable it in Airbyte or remove the step",
}


def _refs(value: Any) -> Iterator[SecretRef]:
    if isinstance(value, SecretRef):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _refs(v)


def run_preflight(runtime: Runtime, graph: Graph) -> list[PreflightCheck]:
    """Run every preflight check; raise ``PreflightError`` (or ``SecretError``) on failure."""
    checks: list[PreflightCheck] = []
    failures: list[str] = []

    def record(name: str, ok: bool, detail: str) -> None:
        checks.append(PreflightCheck(name, ok, detail))
        if not ok:
            failures.append(f"{name}: {detail}")

    # 1. secrets used by steps (env maps) and warehouses resolve
    secret_problems: list[str] = []
    pf = runtime.pipeline_file
    used_warehouses: set[str | None] = set()
    for node in graph:
        step = node.step
        envs: dict[str, Any] = {}
        if isinstance(step, DbtStep):
            envs = dict(step.dbt.env)
        elif isinstance(step, SparkStep):
            envs = dict(step.spark.env)
        elif isinstance(step, CommandStep):
            envs = dict(step.command.env)
        for ref in _refs(envs):
            try:
                runtime.secret(ref)
            except SecretError as exc:
                secret_problems.append(f"step {node.name!r}: {exc}")
        if isinstance(step, CheckStep) and step.sql is not None:
            used_warehouses.add(step.sql.warehouse)
        if node.implicit == "counts" and isinstance(step, SyncStep) and step.counts is not None:
            used_warehouses.add(step.counts.warehouse)
        if isinstance(step, CheckStep) and step.counts is not None:
            used_warehouses.add(step.counts.warehouse)
    if secret_problems:
        raise SecretError(
            "preflight: secret references could not be resolved:\n  - "
            + "\n  - ".join(secret_problems)
        )

    # 2. Airbyte reachable and credential accepted
    client = runtime.client()
    url = runtime.settings.airbyte_url
    try:
        healthy = client.health()
    except LuigiAirbyteError as exc:
        healthy = False
        record("airbyte.health", False, str(exc))
    else:
        record(
            "airbyte.health",
            healthy,
            f"{url} answered" if healthy else f"{url} is not reachable or not healthy",
        )
    if healthy:
        try:
            workspaces = client.list_workspaces()
            record("airbyte.auth", True, f"credential accepted ({len(workspaces)} workspaces)")
        except LuigiAirbyteError as exc:
            record("airbyte.auth", False, str(exc))

    # 3. every connection exists and is active
    if not failures:
        seen: set[str] = set()
        for node in graph:
            if node.kind != "sync" or node.connection in seen:
                continue
            seen.add(node.connection)
            try:
                conn = runtime.connection(node.connection)
            except AirbyteError as exc:
                record(f"connection {node.connection!r}", False, str(exc))
                continue
            active = conn.status is ConnectionStatus.ACTIVE
            reason = f" ({conn.status_reason})" if conn.status_reason else ""
            record(
                f"connection {node.connection!r}",
                active,
                f"{conn.connection_id} is {conn.status.value}{reason}"
                + ("" if active else f"; {_STATUS_FIX.get(conn.status, _STATUS_FIX[None])}"),
            )

    # 4. warehouses used by checks are reachable
    if pf is not None:
        for name in sorted(used_warehouses, key=lambda n: n or ""):
            label = f"warehouse {name or next(iter(pf.warehouses), '?')!r}"
            wh_url = runtime.warehouse_url(name)
            if _file_not_created_yet(wh_url):
                record(label, True, "file does not exist yet; the first sync creates it")
                continue
            try:
                wh = open_warehouse(wh_url)
                try:
                    wh.scalar("select 1")
                finally:
                    wh.close()
                record(label, True, "reachable")
            except LuigiAirbyteError as exc:
                if _locked_by_another_process(str(exc)):
                    record(label, True, "in use by another process (a sync loading it?)")
                else:
                    record(label, False, str(exc))
            except Exception as exc:  # noqa: BLE001 - any driver error means unreachable
                record(label, False, runtime.redact(f"{type(exc).__name__}: {exc}"))

    if failures:
        raise PreflightError(
            "preflight failed; no sync was started:\n  - " + "\n  - ".join(failures)
        )
    return checks


def _locked_by_another_process(message: str) -> bool:
    """DuckDB lets one process write a file: a sync loading it right now holds the lock.

    The file exists and is healthy, so a re-run that re-attaches to that sync, or a second
    run started beside it, must not fail preflight; the checks run after their syncs.
    """
    return "Could not set lock on file" in message


def _file_not_created_yet(url: str) -> bool:
    """A DuckDB/SQLite warehouse file appears with the first sync into it."""
    from pathlib import Path

    for prefix in ("duckdb:///", "sqlite:///"):
        if url.startswith(prefix):
            path = url.removeprefix(prefix).split("?", 1)[0]
            return bool(path) and path != ":memory:" and not Path(path).exists()
    return False
