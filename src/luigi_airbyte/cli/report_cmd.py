"""``luigi-airbyte report RUN_ID --html FILE``, and the HTML report a run writes at its end.

The page itself is drawn by ``luigi_airbyte.store.html_report`` from store records; this
module only gathers them (run, events, earlier stream counts) and what the pipeline file
adds (dependencies, connections, dbt models), and decides where the file goes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from luigi_airbyte.cli.options import OUTPUT_FILE, AirbyteFlags, store_options
from luigi_airbyte.cli.render import note

if TYPE_CHECKING:  # imported where used: `--help` must not pay for them
    from luigi_airbyte.app.runtime import Runtime

__all__ = ["report_command"]


@click.command("report")
@click.argument("run_id")
@click.option(
    "--html",
    "html_path",
    required=True,
    type=OUTPUT_FILE,
    help="Write the run as one self-contained HTML page here.",
)
@store_options
def report_command(run_id: str, html_path: Path, airbyte: AirbyteFlags) -> None:
    """Write a run's HTML report: timeline, rows per stream, checks, failures, lineage.

    RUN_ID may be the first characters (at least 4) of the id, as `history` prints
    it. The page needs nothing else to open: no network, no script. With -f, the
    timeline also shows which step waited for which, and the lineage the
    connections and dbt models (docs/reports.md).

    \b
    Example:
      luigi-airbyte report 3f2a9c1e -f pipeline.yaml --html report.html
    """
    from luigi_airbyte.app.queries import store_of_run
    from luigi_airbyte.app.report_links import build_run_html
    from luigi_airbyte.store.html_report import write_html

    def write(rt: Runtime) -> Path:
        return write_html(build_run_html(rt, store_of_run(rt, run_id), run_id), html_path)

    note(f"wrote {airbyte.call(write, as_json=False)}")
