"""The alert for a failed step: what failed, where, why, what it blocked, how to recover.

Written for the person paged at 2 a.m.: the connection by name *and* id, a link to the
Airbyte job, Airbyte's own failure reason, the downstream steps that did not run, and
the one command that recovers. Everything here is best effort: a fact that cannot be
found (Airbyte unreachable, no run record) is left out, never allowed to stop the alert.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from luigi_airbyte.airbyte import Connection, Job, JobStatus, JobType
from luigi_airbyte.app.reload import RELOAD_FIX, reload_option, reload_target
from luigi_airbyte.app.step_context import StepContext
from luigi_airbyte.observe import Alert
from luigi_airbyte.pipeline.graph import Graph, Node
from luigi_airbyte.store import RunDetail

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime

logger = logging.getLogger(__name__)

# Steps in these states did their work (now or in an earlier run): nothing blocked them.
_DONE = frozenset({"succeeded", "fresh", "skipped"})
_TRANSFORMS = frozenset({"dbt", "spark", "command"})


@dataclass
class _Facts:
    connection: str = ""
    connection_id: str = ""
    airbyte_message: str = ""
    blocked: tuple[str, ...] = ()
    links: dict[str, str] = field(default_factory=dict)


def recovery_command(rt: Runtime, ctx: StepContext) -> str:
    """``luigi-airbyte run FILE -p PIPELINE --date DATE`` for the failed run's partition."""
    pf = rt.pipeline_file
    source = str(Path(pf.source).resolve()) if pf is not None else "PIPELINE_FILE"
    parts = ["luigi-airbyte", "run", source, "-p", ctx.pipeline, "--date", ctx.run_date.isoformat()]
    if ctx.interval:
        parts += ["--interval", ctx.interval]
    return shlex.join(parts)


def interval_from_argv(argv: str | None) -> str:
    """The ``--interval`` a run was started with, read back from its stored command line
    (the run record keeps the date, not the interval)."""
    try:
        words = shlex.split(argv or "")
    except ValueError:
        return ""
    for i, word in enumerate(words):
        if word == "--interval" and i + 1 < len(words):
            return words[i + 1]
        if word.startswith("--interval="):
            return word.partition("=")[2]
    return ""


def _next_step(kind: str, command: str) -> str:
    rerun = (
        f"`{command}` re-runs the failed {{what}} and what depends on it; "
        "finished steps are skipped"
    )
    if kind == "sync":
        return (
            "read Airbyte's reason and the job's logs (link below), fix the source or "
            "destination, then " + rerun.format(what="sync")
        )
    if kind == "check":
        return "inspect the data, fix the connection or the expectation, then " + rerun.format(
            what="check"
        )
    if kind in _TRANSFORMS:
        return f"read the error above, fix the {kind} step, then " + rerun.format(what="step")
    # not a step of the graph (e.g. a run that failed before its steps): run it again
    return f"fix the cause, then `{command}` runs the pipeline again; finished steps are skipped"


def _reload_step(command: str) -> str:
    return "records were lost or duplicated in the sync's load: " + RELOAD_FIX.format(
        command=command
    )


def _node(rt: Runtime, ctx: StepContext) -> tuple[Graph | None, Node | None]:
    try:
        graph = rt.graph(ctx.pipeline)
        return graph, graph.node(ctx.step)
    except Exception:  # noqa: BLE001 - an ad-hoc step may have no graph
        return None, None


def _sync_node(graph: Graph, node: Node) -> Node | None:
    """The sync step a node is about: itself, or the sync a drift/counts check reads."""
    if node.kind == "sync":
        return node
    target = node.target_sync
    if target:
        try:
            found = graph.node(target)
        except KeyError:
            return None
        return found if found.kind == "sync" else None
    return None


def _airbyte_reason(rt: Runtime, ctx: StepContext, job_id: int | None) -> str:
    """Airbyte's failure reason, as the sync recorded it in the run's events."""
    if not ctx.run_id:
        return ""
    try:
        events = rt.store().events(ctx.run_id, name="sync.failed")
    except Exception as exc:  # noqa: BLE001
        logger.debug("cannot read the failure reason of %s: %s", ctx.step, exc)
        return ""
    for event in reversed(events):
        fields = event.fields
        if fields.get("step") != ctx.step:
            continue
        if job_id is not None and fields.get("job_id") not in (job_id, str(job_id)):
            continue
        return str(fields.get("reason") or "")
    return ""


def _facts(
    rt: Runtime, ctx: StepContext, kind: str, job_id: int | None, detail: RunDetail | None
) -> _Facts:
    facts = _Facts()
    graph, node = _node(rt, ctx)
    if graph is None or node is None:
        return facts
    if detail is not None:
        status = {s.step_name: s.status for s in detail.steps}
        facts.blocked = tuple(
            n.name
            for n in graph
            if n.name in graph.downstream_of(ctx.step) and status.get(n.name) not in _DONE
        )
    sync = _sync_node(graph, node)
    if sync is None or not sync.connection:
        return facts
    facts.connection = sync.connection
    conn: Connection | None = None
    try:
        conn = rt.connection(sync.connection)
    except Exception as exc:  # noqa: BLE001 - Airbyte may be the thing that is down
        logger.debug("cannot resolve connection %r for the alert: %s", sync.connection, exc)
    if conn is not None:
        facts.connection, facts.connection_id = conn.name or sync.connection, conn.connection_id
    sync_job = job_id
    if sync is not node and detail is not None:
        record = detail.step(sync.name)
        sync_job = record.job_id if record is not None else None
    if conn is not None and sync_job is not None:
        try:
            job = Job(sync_job, JobStatus.FAILED, JobType.SYNC, conn.connection_id)
            facts.links["Airbyte job"] = rt.client().job_url(job, conn)
        except Exception as exc:  # noqa: BLE001
            logger.debug("cannot build the job link for the alert: %s", exc)
    if kind == "sync":
        facts.airbyte_message = _airbyte_reason(rt, ctx, job_id)
    return facts


def alert_failed_step(
    rt: Runtime,
    ctx: StepContext,
    owner: str,
    kind: str,
    message: str,
    job_id: int | None,
    detail: RunDetail | None = None,
    links: Mapping[str, str] | None = None,
) -> None:
    """Alert the owner role of a step that ended failed: connection, job link, Airbyte's
    reason, what it blocked (``detail``, the run), the one command that recovers, and
    ``links`` (the HTML report's recap of this step). Never raises: an alert that cannot
    be built or routed is logged, and must not mask the failure it reports."""
    try:
        if not ctx.interval and detail is not None:
            ctx = replace(ctx, interval=interval_from_argv(detail.run.argv))
        facts = _facts(rt, ctx, kind, job_id, detail)
        command = recovery_command(rt, ctx)
        graph, _ = _node(rt, ctx)
        target = reload_target(graph, ctx.step, detail.checks if detail is not None else ())
        if target:  # a bad load: a plain re-run would skip the sync and judge it again
            command = shlex.join([*shlex.split(command), *reload_option(target)])
        alert = Alert(
            owner_role=owner or "default",
            severity="error",
            title=f"{ctx.pipeline}/{ctx.step} failed",
            text=message,
            run_id=ctx.run_id,
            step=ctx.step,
            job_id=job_id,
            pipeline=ctx.pipeline,
            kind=f"{kind}-failure",
            airbyte_message=facts.airbyte_message,
            next_step=_reload_step(command) if target else _next_step(kind, command),
            connection=facts.connection,
            connection_id=facts.connection_id,
            blocked=facts.blocked,
            command=command,
            links={**facts.links, **(links or {})},
        )
        rt.router().alert(alert)
    except Exception as exc:  # noqa: BLE001 - an alert failure must not mask the cause
        logger.warning("could not route the alert for %s: %s", ctx.step, exc)
