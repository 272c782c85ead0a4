"""``validate`` (check a pipeline file) and ``schema`` (its JSON Schema)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from luigi_airbyte.cli.common import emit_json, fail, json_option
from luigi_airbyte.cli.render import note
from luigi_airbyte.errors import LuigiAirbyteError


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@click.command("validate")
@click.argument("pipeline_file", type=click.Path())  # str: '' must not become '.'
@click.option(
    "--online",
    is_flag=True,
    help="Also list the workspace's connections once and show what each sync_each step "
    "expands to (needs Airbyte and the credential).",
)
@json_option
def validate_command(pipeline_file: str, online: bool, as_json: bool) -> None:
    """Check a pipeline file and the settings it implies. Contacts Airbyte only with --online.

    Every problem is reported at once, as FILE:LINE: FIELD: MESSAGE (fix: ...), and
    the exit code is 3. Settings from the environment and luigi.cfg are checked
    with the file (a literal secret, an incomplete auth block, an unknown option).
    On success prints "ok: N pipelines, M steps".

    \b
    Example:
      luigi-airbyte validate pipeline.yaml
      luigi-airbyte validate pipeline.yaml --json | jq '.error.problems[].field'
    """
    from luigi_airbyte.cli.options import given_path
    from luigi_airbyte.pipeline._loader import load_pipeline_file
    from luigi_airbyte.pipeline.settings import resolve_settings

    try:
        path = given_path(pipeline_file)
        pf = load_pipeline_file(path)
        settings = resolve_settings(pipeline_file=pf)
    except LuigiAirbyteError as exc:
        fail(exc, as_json=as_json)
    steps = {name: len(p.steps) for name, p in pf.pipelines.items()}
    warnings = [str(w) for w in settings.warnings]
    expanded: dict[str, dict[str, list[str]]] = {}
    if online:
        try:
            expanded = _expansions(pf, settings)
        except LuigiAirbyteError as exc:
            fail(exc, as_json=as_json)
    if as_json:
        doc = {
            "ok": True,
            "file": str(path),
            "pipelines": steps,
            "steps": sum(steps.values()),
            "warnings": warnings,
        }
        if online:
            doc["expanded"] = expanded
        emit_json(doc)
        return
    for warning in warnings:
        note(f"warning: {warning}")
    for pipeline, groups in expanded.items():
        for step, names in groups.items():
            click.echo(f"{pipeline}: {step} expands to {_plural(len(names), 'sync')}:")
            for name in names:
                click.echo(f"  - {name}")
    click.echo(f"ok: {_plural(len(steps), 'pipeline')}, {_plural(sum(steps.values()), 'step')}")


def _expansions(pf: Any, settings: Any) -> dict[str, dict[str, list[str]]]:
    """Per pipeline, each sync_each step's tasks, from one connection listing."""
    from luigi_airbyte.app.runtime import Runtime
    from luigi_airbyte.pipeline._steps import SyncEachStep

    rt = Runtime(settings, pf)
    try:
        out: dict[str, dict[str, list[str]]] = {}
        for name, pipeline in pf.pipelines.items():
            groups = [s.name for s in pipeline.steps if isinstance(s, SyncEachStep)]
            if not groups:
                continue
            graph = rt.graph(name)
            out[name] = {
                g: [n.name for n in graph if n.kind == "sync" and n.name.startswith(g + "/")]
                for g in groups
            }
        return out
    finally:
        rt.close()


@click.command("schema")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the schema to this file instead of stdout.",
)
def schema_command(output: Path | None) -> None:
    """Print the JSON Schema of the pipeline file (draft 2020-12).

    Point your editor at it for completion and inline errors while writing a
    pipeline file; `validate` checks more than the schema can (references between
    steps, secrets, cycles).

    \b
    Example:
      luigi-airbyte schema --output pipeline.schema.json
      # first line of pipeline.yaml, for the YAML language server:
      # yaml-language-server: $schema=./pipeline.schema.json
    """
    from luigi_airbyte.pipeline._schema import pipeline_json_schema

    text = json.dumps(pipeline_json_schema(), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    note(f"wrote {output}")
