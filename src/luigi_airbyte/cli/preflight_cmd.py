"""``luigi-airbyte preflight``: everything tonight's run needs, checked now."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from luigi_airbyte.cli.common import emit_json, fail, json_option
from luigi_airbyte.errors import LuigiAirbyteError

if TYPE_CHECKING:
    from luigi_airbyte.app.preflight import PreflightCheck


@click.command("preflight")
@click.argument("pipeline_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-p", "--pipeline", "pipeline_name", help="Only this pipeline (default: all).")
@click.option("--url", help="Airbyte public API URL (overrides the file).")
@json_option
def preflight_command(
    pipeline_file: Path, pipeline_name: str | None, url: str | None, as_json: bool
) -> None:
    """Check now everything tonight's run needs; one line per check. Changes nothing.

    \b
    Checks:
      secret …       every secret reference in the file and settings resolves
      airbyte.*      Airbyte answers and a token can be minted
      connection …   every connection exists and is active
      source/destination …  passes check_connection (config API, where available)
      warehouse …    every warehouse is reachable (a DuckDB file: its header is read,
                     never opened, so a sync writing it is not disturbed)
      route …        every alert route of the owners involved is reachable (no alert sent)
      drift …        Airbyte matches the file's expect: (see `luigi-airbyte plan`)

    Exit 0 when all pass, 6 when drift is the only failure, 4 on any other failure.

    \b
    Example:
      luigi-airbyte preflight pipeline.yaml
      luigi-airbyte preflight pipeline.yaml --json    # in CI, before a deploy
    """
    from luigi_airbyte.app.preflight import full_preflight, preflight_exit_code
    from luigi_airbyte.cli.options import pipeline_runtime

    try:
        rt = pipeline_runtime(pipeline_file, {"airbyte.url": url or None})
        try:
            pf = rt.pipeline_file
            assert pf is not None
            names = [pf.pipeline(pipeline_name).name] if pipeline_name else list(pf.pipelines)
            checks = full_preflight(rt, [rt.graph(n) for n in names])
        finally:
            rt.close()
    except LuigiAirbyteError as exc:
        fail(exc, as_json=as_json)
    code = preflight_exit_code(checks)
    _print_checks(checks, code, pipeline_file, as_json=as_json)
    sys.exit(code)


def _print_checks(
    checks: list[PreflightCheck], code: int, pipeline_file: Path, *, as_json: bool
) -> None:
    if as_json:
        emit_json(
            {
                "ok": code == 0,
                "exit_code": code,
                "file": str(pipeline_file),
                "checks": [c.to_dict() for c in checks],
            }
        )
    else:
        width = max((len(c.name) for c in checks), default=0)
        for c in checks:
            click.echo(f"{'ok  ' if c.ok else 'FAIL'}  {c.name.ljust(width)}  {c.detail}")
        failed = sum(not c.ok for c in checks)
        verdict = "preflight passed" if code == 0 else f"preflight failed: {failed} check(s)"
        click.echo(f"{verdict} (exit {code})")
