"""The ``luigi-airbyte`` click group: the one place that lists the commands.

Commands parse arguments, call the library, and render. An error exits with the code
``luigi_airbyte.exit_codes.for_error`` gives it (a library error's class declares it;
anything else is 1). With ``--json``
an error is also printed as ``{"error": {"type", "message", "exit_code"}}``. Both are
done by ``cli.common.fail``.
"""

from __future__ import annotations

import gc
import json
import logging
import sys
from collections.abc import Sequence

import click

from luigi_airbyte import __version__
from luigi_airbyte.app import collector, lean_imports
from luigi_airbyte.cli import (
    config_cmd,
    connections_cmd,
    credentials_cmd,
    history_cmd,
    jobs_cmd,
    plan_cmd,
    preflight_cmd,
    quickstart_cmd,
    report_cmd,
    run_cmd,
    sandbox_cmd,
    sync_cmd,
    validate_cmd,
    webhook_cmd,
)
from luigi_airbyte.cli.common import CONTEXT_SETTINGS


def configure_logging(verbosity: int, log_format: str) -> None:
    """The CLI owns logging; the library only logs. Logs go to stderr."""
    from luigi_airbyte.observe.redact import install_redaction

    level = logging.WARNING - 10 * verbosity
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(level, logging.DEBUG))
    # Luigi configures its own handlers unless told not to; we want exactly one setup.
    for name in ("luigi", "luigi-interface"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    install_redaction()


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "at": self.formatTime(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc)


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="luigi-airbyte")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-v info, -vv debug).")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Format of log lines on stderr.",
)
@click.pass_context
def cli(ctx: click.Context, verbose: int, log_format: str) -> None:
    """Run Airbyte syncs, checks, dbt and Spark as one fault-tolerant Luigi pipeline.

    \b
    Start here:
      luigi-airbyte quickstart demo      # sandbox Airbyte + demo pipeline, run twice
      luigi-airbyte validate pipeline.yaml
      luigi-airbyte run pipeline.yaml --junit report.xml

    Exit codes: 0 ok, 1 unexpected, 2 usage, 3 invalid config, 4 Airbyte/preflight,
    5 sync failed, 6 check failed, 7 transform failed, 130 interrupted.
    """
    ctx.ensure_object(dict)
    if not _help_only:  # help prints and exits: no logging (and its imports) needed
        configure_logging(verbose, log_format)


_help_only = False


# The one list of commands. Command modules define plain click commands and import
# nothing from here, so importing this module (or ``luigi_airbyte.cli``) gives the whole
# group, and no command registers itself as a side effect of being imported.
for _command in (
    config_cmd.config_group,
    connections_cmd.connections_group,
    credentials_cmd.credentials_group,
    history_cmd.history_command,
    history_cmd.show_command,
    jobs_cmd.jobs_group,
    plan_cmd.plan_command,
    plan_cmd.apply_command_cli,
    preflight_cmd.preflight_command,
    quickstart_cmd.quickstart_command,
    report_cmd.report_command,
    run_cmd.run_command,
    sandbox_cmd.sandbox_group,
    sync_cmd.sync_command,
    validate_cmd.validate_command,
    validate_cmd.schema_command,
    webhook_cmd.webhook_group,
):
    cli.add_command(_command)


GC_THRESHOLD = (20_000, 20, 20)
"""The collector's thresholds in the ``luigi-airbyte`` process (Python's: 700, 10, 10).

A run allocates many objects that live until it ends (the file's models, one Luigi task
and its parameters per step, the run's records) and few reference cycles; at the default
the collector walked that growing heap again and again: ~0.1 s of a fresh run of 1,000
syncs."""


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point.

    As the console script (no ``argv``), the process tunes the garbage collector
    (`GC_THRESHOLD`) and freezes the heap when the command ends: the interpreter exits
    next, and its final collections would walk every object the command built (~0.2 s
    after a run of 1,000 steps). It also tells httpx its command line is absent, so
    importing httpx does not import rich and pygments for it, and lets ``run`` import
    Luigi without the optional packages it does not use from it (``app/lean_imports.py``).
    Called with ``argv`` (tests, embedding) it changes none of these.
    """
    global _help_only
    args = list(argv) if argv is not None else sys.argv[1:]
    _help_only = any(a in ("--help", "-h") for a in args)
    console = argv is None
    if console:
        gc.set_threshold(*GC_THRESHOLD)
        collector.allow_pauses()  # `run` pauses the collector for its start-up
        lean_imports.allow()  # `run` imports Luigi without what it does not use of it
        # httpx imports its own command line (rich, pygments: ~45 ms) unless it is absent,
        # a case httpx handles; nothing in this process runs httpx's command line.
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="luigi-airbyte")
    finally:
        _help_only = False
        if console:
            gc.freeze()
