"""``plan`` (what differs between Airbyte and the file's ``expect:``) and ``apply``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from luigi_airbyte.cli.common import emit_json, fail, interrupted, json_option
from luigi_airbyte.cli.options import pipeline_runtime
from luigi_airbyte.errors import ConfigError, LuigiAirbyteError, Problem

if TYPE_CHECKING:
    from luigi_airbyte.app.plan import (
        ApplyResult,
        ConnectionPlan,
        Plan,
        PlanTarget,
    )
    from luigi_airbyte.app.runtime import Runtime

_SIGN = {"update": "~", "select": "+", "deselect": "-", "refresh": "~"}
_SOURCE_SIGN = {
    "stream_added": "+",
    "stream_removed": "-",
    "field_added": "+",
    "field_removed": "-",
}


def _value(value: Any) -> str:
    if isinstance(value, str):
        return (
            value if value.startswith(("cron ", "(", "not selected", "selected")) else repr(value)
        )
    return str(value)


def render_connection(cp: ConnectionPlan, out: list[str]) -> None:
    """Terraform-style text for one connection."""
    head = f"connection {cp.connection!r}"
    if cp.connection_id:
        head += f" ({cp.connection_id})"
    steps = ", ".join(cp.steps)
    if cp.status == "error":
        out.append(f"! {head}: Airbyte could not be asked: {cp.error}")
        return
    if cp.status == "in_sync":
        out.append(f"= {head}: in sync [{steps}]")
        return
    out.append(f"~ {head} [{steps}]")
    if cp.changes:
        width = max(len(c.path) for c in cp.changes)
        for c in cp.changes:
            if c.action == "refresh":
                out.append(
                    f"    ~ {c.path.ljust(width)}  save the streams again: "
                    "take the source's current schema"
                )
            elif c.action in ("select", "deselect"):
                out.append(
                    f"    {_SIGN[c.action]} {c.path.ljust(width)}  {c.airbyte} -> {c.intended}"
                )
            else:
                out.append(
                    f"    {_SIGN[c.action]} {c.path.ljust(width)}  "
                    f"{_value(c.airbyte)} -> {_value(c.intended)}"
                )
    if cp.source_changes:
        out.append("    source changes since the connection was saved:")
        for s in cp.source_changes:
            what = f"{s.stream}.{s.field}" if s.field else s.stream
            kind = s.kind.replace("_", " ")
            out.append(f"      {_SOURCE_SIGN[s.kind]} {what}  ({kind})")
    for b in cp.blockers:
        out.append(f"    ! {b.message}; fix: {b.fix}")
    for note in cp.notes:
        out.append(f"    note: {note}")


def render_plan(plan: Plan) -> str:
    out: list[str] = []
    for cp in plan.connections:
        render_connection(cp, out)
        out.append("")
    s = plan.to_dict()["summary"]
    if plan.errors:
        out.append(
            f"Plan incomplete: Airbyte could not be asked about {s['errors']} connection(s)."
        )
    elif not plan.drifted:
        out.append(f"No changes: {s['connections']} connection(s) match {plan.file}.")
    else:
        fixable = [c for c in plan.connections if c.patch is not None]
        out.append(
            f"Plan: {s['changes']} change(s) to {len(fixable)} connection(s), "
            f"{s['source_changes']} source change(s), {s['blockers']} blocker(s)."
        )
        if fixable:
            out.append(f"Apply with: luigi-airbyte apply {plan.file}")
        if s["blockers"]:
            out.append("Blockers need a change in the pipeline file (or the source) first.")
    return "\n".join(out)


def _targets(rt: Runtime, pipeline_name: str | None, connection: str | None) -> list[PlanTarget]:
    from luigi_airbyte.app.plan import plan_targets

    pf = rt.pipeline_file
    assert pf is not None
    names = [pf.pipeline(pipeline_name).name] if pipeline_name else list(pf.pipelines)
    pipelines = {n: pf.pipeline(n).steps for n in names}
    targets = plan_targets(pipelines, source=pf.source, only=connection)
    if connection is not None and not targets:
        known = sorted({t.connection for t in plan_targets(pipelines, source=pf.source)})
        raise ConfigError(
            [
                Problem(
                    "cli",
                    "--connection",
                    f"no sync step with expect: names connection {connection!r}",
                    f"use one of: {', '.join(known) or '(none: add expect: to a sync step)'}",
                )
            ]
        )
    return targets


def _load(pipeline_file: Path, url: str | None) -> Runtime:
    return pipeline_runtime(pipeline_file, {"airbyte.url": url or None})


@click.command("plan")
@click.argument("pipeline_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-p", "--pipeline", "pipeline_name", help="Only this pipeline's sync steps.")
@click.option("-c", "--connection", help="Only this connection (name, id or step name).")
@click.option("--url", help="Airbyte public API URL (overrides the file).")
@json_option
def plan_command(
    pipeline_file: Path,
    pipeline_name: str | None,
    connection: str | None,
    url: str | None,
    as_json: bool,
) -> None:
    """Show how Airbyte differs from what the file's `expect:` intends. Changes nothing.

    One block per connection named by a sync step with `expect:`: the settings that
    differ (~ changed, + selected, - deselected), what changed at the source since the
    connection was saved (new or removed streams and fields), and blockers that need a
    change in the file (a cursor or key that no longer exists). Sources, destinations
    and secrets are never read, so no secret can appear or be diffed.

    Exit 0 when in sync, 6 when drifted, 4 when Airbyte cannot be asked. The --json
    document is described in docs/pipeline-file.md ("plan --json").

    \b
    Example:
      luigi-airbyte plan pipeline.yaml
      luigi-airbyte plan pipeline.yaml --json > plan.json   # CI: post it on the PR
    """
    from luigi_airbyte.app.plan import make_plan

    try:
        rt = _load(pipeline_file, url)
        try:
            plan = make_plan(rt, _targets(rt, pipeline_name, connection), str(pipeline_file))
        finally:
            rt.close()
    except LuigiAirbyteError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        emit_json(plan.to_dict())
    else:
        click.echo(render_plan(plan))
    sys.exit(plan.exit_code)


def render_apply(result: ApplyResult, pipeline_file: str) -> str:
    from luigi_airbyte.app.plan import apply_command

    out: list[str] = []
    if result.applied:
        out.append("applied: " + ", ".join(repr(c.connection) for c in result.applied))
    if result.interrupted and result.failed is not None:
        out.append(
            f"INTERRUPTED while sending {result.failed.connection!r}: one PATCH, so it is "
            "either fully applied or untouched; run `luigi-airbyte plan` to see which"
        )
    elif result.failed is not None:
        out.append(f"FAILED: {result.failed.connection!r}: {result.failure}")
        out.append(f"  {result.failed.connection!r} is untouched (one PATCH per connection)")
        if result.not_attempted:
            out.append(
                "not attempted: " + ", ".join(repr(c.connection) for c in result.not_attempted)
            )
    for c in result.blocked:
        fixes = "; ".join(b.fix for b in c.blockers)
        out.append(f"skipped {c.connection!r}: needs a change in the file first: {fixes}")
    if not result.applied and result.failed is None and not result.blocked:
        out.append("nothing to apply: every connection matches the file")
    elif result.exit_code == 0:
        out.append(f"done; `luigi-airbyte plan {pipeline_file}` now shows no changes")
    elif result.failed is not None and not result.interrupted:
        out.append(
            "fix the value Airbyte refused (in the file), then run "
            f"`{apply_command(pipeline_file, result.failed.connection)}`"
        )
    return "\n".join(out)


@click.command("apply")
@click.argument("pipeline_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-p", "--pipeline", "pipeline_name", help="Only this pipeline's sync steps.")
@click.option("-c", "--connection", help="Only this connection (name, id or step name).")
@click.option("-y", "--yes", is_flag=True, help="Apply without asking.")
@click.option("--url", help="Airbyte public API URL (overrides the file).")
@json_option
def apply_command_cli(
    pipeline_file: Path,
    pipeline_name: str | None,
    connection: str | None,
    yes: bool,
    url: str | None,
    as_json: bool,
) -> None:
    """Put back in Airbyte what the file's `expect:` intends, one PATCH per connection.

    Prints the plan, asks for confirmation (--yes skips it; --json needs --yes), then
    sends PATCH /connections/{id} with only the fields `expect:` names, and every
    selected stream (a PATCH replaces the stream list: a stream left out would be
    deselected). Never touches sources, destinations or secrets. Each connection is
    changed by one request, so it is either fully applied or untouched; on a refusal
    apply stops, prints Airbyte's message and lists what was already applied.

    Exit 0 when done (or nothing to do), 4 when Airbyte refuses a value or cannot be
    asked, 6 when a connection needs a change in the file first (a blocker).

    \b
    Example:
      luigi-airbyte apply pipeline.yaml
      luigi-airbyte apply pipeline.yaml --connection "Postgres CRM → Warehouse" --yes
    """
    if as_json and not yes:
        fail(_NEEDS_YES, as_json=True)
    try:
        rt = _load(pipeline_file, url)
    except LuigiAirbyteError as exc:
        fail(exc, as_json=as_json)
    try:
        plan = _plan_to_apply(rt, pipeline_file, pipeline_name, connection, as_json=as_json)
        result = _apply(rt, plan, yes=yes, as_json=as_json)
    except LuigiAirbyteError as exc:
        fail(exc, as_json=as_json)
    except KeyboardInterrupt:
        interrupted("interrupted: run `luigi-airbyte plan` to see what landed")
    finally:
        rt.close()
    if as_json:
        emit_json(
            {"plan": plan.to_dict(), "apply": result.to_dict(), "exit_code": result.exit_code}
        )
    else:
        click.echo("")
        click.echo(render_apply(result, str(pipeline_file)))
    sys.exit(result.exit_code)


_NEEDS_YES = ConfigError(
    [
        Problem(
            "cli",
            "--json",
            "apply --json cannot ask for confirmation",
            "add --yes (after reviewing `luigi-airbyte plan --json`)",
        )
    ]
)


def _plan_to_apply(
    rt: Runtime,
    pipeline_file: Path,
    pipeline_name: str | None,
    connection: str | None,
    *,
    as_json: bool,
) -> Plan:
    """The plan, printed for a human; a plan Airbyte could not answer ends the command."""
    from luigi_airbyte.app.plan import make_plan

    plan = make_plan(rt, _targets(rt, pipeline_name, connection), str(pipeline_file))
    if not as_json:
        click.echo(render_plan(plan))
    if plan.errors:
        code = plan.exit_code
        if as_json:
            emit_json({"plan": plan.to_dict(), "apply": None, "exit_code": code})
        sys.exit(code)
    return plan


def _apply(rt: Runtime, plan: Plan, *, yes: bool, as_json: bool) -> ApplyResult:
    """Apply ``plan``, after asking (unless --yes) when it changes anything."""
    from luigi_airbyte.app.plan import apply_plan

    if not any(c.patch is not None for c in plan.connections):
        return apply_plan(rt, plan)
    if not yes:
        click.confirm("\nApply these changes to Airbyte?", abort=True, err=False)
    return apply_plan(
        rt,
        plan,
        on_applied=None if as_json else (lambda c: click.echo(f"applied {c.connection!r}")),
    )
