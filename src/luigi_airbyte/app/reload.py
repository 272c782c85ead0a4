"""``run --reload STEP``: reject a sync's bad load and refresh the affected streams, once.

A sync that succeeded in Airbyte but lost or duplicated records (its ``lost:`` or
``duplicates:`` counts checks failed) cannot be fixed by a plain re-run: the run key is
done, so the sync is skipped and the same job is judged again. The recovery is:

1. **reject** that job's load in the store (``SqlLedger.reject``: who, why, when, which
   streams): its ledger rows become ``rejected``, so the run key is no longer complete
   and freshness, ``show`` and ``history`` never count it as the good load;
2. the sync step then runs the run key's **refresh** instead of a sync
   (``pending_rejection`` in ``StepExecutor.run_sync``, ``SyncRunner.refresh``): Airbyte
   truncates the affected streams and reads them again.
   The refresh is claimed under ``refresh:<connection>:<rejected job id>``, so the same
   command again, two at once, or a re-run after a kill make one refresh job between
   them (the claim, intent and reconcile rules of ``luigi_airbyte.sync.runner``);
3. once it succeeded the refresh is recorded under the sync's run key as its good load,
   and the checks and everything downstream run on it. Other connections are done and
   skipped; a plain ``run`` afterwards finds everything complete.

Only a job whose ``lost:``/``duplicates:`` checks failed *on that job* is rejected, so a
reload repeated after a successful one rejects nothing and only re-runs what is left.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from luigi_airbyte.airbyte import Connection, JobStatus
from luigi_airbyte.app.identity import acting_identity
from luigi_airbyte.app.step_context import sync_run_key, utcnow
from luigi_airbyte.checks.freshness import last_success_end
from luigi_airbyte.errors import ConfigError, Problem
from luigi_airbyte.pipeline._suggest import did_you_mean
from luigi_airbyte.pipeline.graph import Graph, Node
from luigi_airbyte.store.check_history import latest_checks
from luigi_airbyte.store.ledger import LedgerEntry, Rejection
from luigi_airbyte.store.run_records import CheckRecord

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime
    from luigi_airbyte.sync import SyncResult

logger = logging.getLogger(__name__)

#: Counts checks whose failure means the load itself is bad (a reload fixes it).
RELOAD_CHECKS = ("lost:", "duplicates:")


def reload_option(step: str) -> list[str]:
    """The ``--reload`` words for a step, as the recap and the alert print them."""
    return ["--reload", step]


def is_bad_load(check: str) -> bool:
    """Whether a failed check of this name means the sync's load is bad."""
    return check.startswith(RELOAD_CHECKS)


def reload_target(graph: Graph | None, step: str, checks: Sequence[CheckRecord]) -> str:
    """The sync step to ``--reload`` when ``step`` is a counts check that found its sync's
    load bad (a failed ``lost:``/``duplicates:`` among ``checks``), else ``""``."""
    if graph is None:
        return ""
    try:
        node = graph.node(step)
    except KeyError:
        return ""
    if node.check_kind != "counts" or not node.target_sync:
        return ""
    bad = any(not c.passed and is_bad_load(c.check) for c in checks if c.step_name == step)
    return node.target_sync if bad else ""


RELOAD_FIX = (
    "`{command}` rejects that load, has Airbyte refresh the affected streams once, "
    "then runs the checks and what they blocked"
)


def resolve_reload(graph: Graph, names: Sequence[str]) -> list[Node]:
    """The sync steps ``--reload`` names (a sync step, or its connection as written);
    ``ConfigError`` (exit 3) naming the option, the value and the choices otherwise."""
    syncs = [n for n in graph if n.kind == "sync"]
    found: list[Node] = []
    for name in names:
        node = next((n for n in syncs if n.name == name), None)
        node = node or next((n for n in syncs if n.connection == name), None)
        if node is None:
            choices = [n.name for n in syncs]
            hint = did_you_mean(name, choices + [n.connection for n in syncs if n.connection])
            raise ConfigError(
                [
                    Problem(
                        source="--reload",
                        field=name,
                        message=f"{name!r} is not a sync step of pipeline {graph.pipeline!r}",
                        fix=(f"{hint}; " if hint else "")
                        + f"name one of the sync steps: {', '.join(choices) or '(none)'}",
                    )
                ]
            )
        if node not in found:
            found.append(node)
    return found


def reject_bad_loads(
    rt: Runtime,
    graph: Graph,
    nodes: Sequence[Node],
    *,
    run_date: date,
    partition: str,
    run_id: str,
) -> list[Rejection]:
    """Reject the current load of each sync whose counts checks found it bad."""
    store = rt.store()
    ledger = store.ledger
    rejected: list[Rejection] = []
    for node in nodes:
        conn = rt.connection(node.connection)
        key = sync_run_key(conn.connection_id, partition)
        good = ledger.last_succeeded(key)
        if good is None:
            pending = ledger.last_rejection(key)
            if pending is not None:  # rejected earlier; its refresh is still to come
                rejected.append(pending)
            continue
        failed = _failed_on(rt, graph, node, run_date, good)
        if not failed:
            logger.warning(
                "--reload %s: job %s's load passed its counts checks; nothing to reject",
                node.name,
                good.job_id,
            )
            continue
        streams = sorted({name.partition(":")[2] for name, _ in failed})
        reason = "; ".join(message for _, message in failed)
        rejection = ledger.reject(
            Rejection(
                run_key=key,
                connection_id=conn.connection_id,
                job_id=good.job_id,
                rejected_at=utcnow(),
                streams=tuple(s for s in streams if s),
                reason=reason,
                rejected_by=acting_identity(rt) or "",
                pipeline=graph.pipeline,
                step=node.name,
                run_id=run_id,
            )
        )
        logger.warning(
            "--reload %s: rejected job %s's load of %s (%s); refreshing %s",
            node.name,
            good.job_id,
            conn.name,
            reason,
            ", ".join(rejection.streams) or "every stream",
        )
        rejected.append(rejection)
    return rejected


def _failed_on(
    rt: Runtime, graph: Graph, node: Node, run_date: date, good: LedgerEntry
) -> list[tuple[str, str]]:
    """The failed ``lost:``/``duplicates:`` checks that judged ``good``'s load."""
    store = rt.store()
    failed: list[tuple[str, str]] = []
    for check in graph:
        if check.check_kind != "counts" or check.target_sync != node.name:
            continue
        for record in latest_checks(store, graph.pipeline, check.name, run_date):
            judged = (record.details or {}).get("sync_id")
            if record.passed or not is_bad_load(record.check):
                continue
            if judged is not None and str(judged) != str(good.job_id):
                continue  # about another job (an earlier load)
            failed.append((record.check, record.message or record.check))
    return failed


def last_good_end(rt: Runtime, conn: Connection, window: timedelta) -> datetime | None:
    """``Runtime.last_success_end`` (freshness), except that a load rejected by
    ``--reload`` never counts: with a rejection on the connection, its own jobs are read."""
    rejected = rt.store().ledger.rejected_job_ids(conn.connection_id)
    if not rejected:
        return rt.last_success_end(conn, window)
    jobs = rt.client().list_jobs(
        conn.connection_id,
        status=JobStatus.SUCCEEDED,
        updated_at_start=utcnow() - window,
        order_by="updatedAt|DESC",
        max_items=20,
    )
    return last_success_end(jobs, exclude=rejected)


def pending_rejection(rt: Runtime, run_key: str) -> Rejection | None:
    """The rejection whose refresh this sync run key still needs, if any."""
    ledger = rt.store().ledger
    if ledger.last_succeeded(run_key) is not None:
        return None
    return ledger.last_rejection(run_key)


def record_refresh(rt: Runtime, rejection: Rejection, result: SyncResult) -> None:
    """The refresh succeeded: it is the sync run key's good load from now on."""
    ledger = rt.store().ledger
    now = utcnow()
    ledger.record_job(
        LedgerEntry(
            run_key=rejection.run_key,
            connection_id=rejection.connection_id,
            job_id=result.job_id,
            job_type="refresh",
            attached=True,
            status="succeeded",
            finished=True,
            rows_committed=result.rows_committed,
            bytes_committed=result.bytes_committed,
            created_at=now,
            finished_at=now,
            reason=f"refresh replacing rejected job {rejection.job_id}",
        )
    )


__all__ = [
    "RELOAD_CHECKS",
    "is_bad_load",
    "last_good_end",
    "pending_rejection",
    "record_refresh",
    "RELOAD_FIX",
    "reject_bad_loads",
    "reload_option",
    "reload_target",
    "resolve_reload",
]
