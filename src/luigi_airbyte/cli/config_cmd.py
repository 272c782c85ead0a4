"""``config show``: every effective setting, its value and where it came from."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from luigi_airbyte.cli.common import CONTEXT_SETTINGS, emit_json, fail, json_option
from luigi_airbyte.cli.options import AirbyteFlags, connection_options
from luigi_airbyte.cli.render import note, table
from luigi_airbyte.errors import LuigiAirbyteError

if TYPE_CHECKING:
    from luigi_airbyte.pipeline.settings import ResolvedSettings


@click.group("config", context_settings=CONTEXT_SETTINGS)
def config_group() -> None:
    """Inspect the effective settings and where each one came from.

    Precedence, highest first: command-line flags, environment (LUIGI_AIRBYTE_*),
    the pipeline file, luigi.cfg [airbyte], defaults.
    """


@config_group.command("show")
@click.argument("pipeline_file", required=False, type=click.Path(path_type=Path))
@connection_options
@click.option(
    "--show-references",
    is_flag=True,
    help="Show where each secret lives (env:NAME, file:/path...) instead of ****. "
    "A secret's value is never shown.",
)
@json_option
def show_command(
    pipeline_file: Path | None, airbyte: AirbyteFlags, show_references: bool, as_json: bool
) -> None:
    """Print every effective setting, its value, and the source it came from.

    Sources are cli, env:VARIABLE, FILE:LINE (the pipeline file), luigi.cfg
    [airbyte] OPTION, or default. Secret settings show **** unless
    --show-references is given; even then only the reference is shown, never a
    secret, because nothing is resolved to print this. See docs/configuration.md.

    \b
    Example:
      luigi-airbyte config show pipeline.yaml
      LUIGI_AIRBYTE_AIRBYTE__TIMEOUT=2h luigi-airbyte config show pipeline.yaml --json
      luigi-airbyte config show --url http://airbyte:8000/api/public/v1 --show-references
    """
    from luigi_airbyte.pipeline._loader import load_pipeline_file
    from luigi_airbyte.pipeline.settings import resolve_settings

    try:
        pf = load_pipeline_file(pipeline_file) if pipeline_file is not None else None
        settings = resolve_settings(cli=airbyte.settings(), pipeline_file=pf)
    except LuigiAirbyteError as exc:
        fail(exc, as_json=as_json)
    rows = _rows(settings, show_references)
    warnings = [str(w) for w in settings.warnings]
    if as_json:
        emit_json(
            {
                "pipeline_file": str(pipeline_file) if pipeline_file is not None else None,
                "settings": rows,
                "warnings": warnings,
            }
        )
        return
    for warning in warnings:
        note(f"warning: {warning}")
    table(
        ("key", "value", "source"),
        [(r["key"], "" if r["value"] is None else r["value"], r["source"]) for r in rows],
    )


def _rows(settings: ResolvedSettings, show_references: bool) -> list[dict[str, Any]]:
    shown = settings.rows(mask_secrets=not show_references)
    out = []
    for item, (key, value, source) in zip(settings.items(), shown, strict=True):
        out.append(
            {
                "key": key,
                "value": None if item.value is None else value,
                "source": source,
                "secret": item.secret,
            }
        )
    return out
