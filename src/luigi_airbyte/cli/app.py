"""The ``luigi-airbyte`` click group and the one place errors become exit codes.

Commands parse arguments, call the library, and render. Library errors carry their
exit code (``LuigiAirbyteError.exit_code``); anything else is exit 1. With ``--json``
an error is also printed as ``{"error": {"type", "message", "exit_code"}}``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from luigi_airbyte import __version__
from luigi_airbyte.cli.exit_codes import ExitCode
from luigi_airbyte.errors import LuigiAirbyteError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

F = TypeVar("F", bound=Callable[..., Any])


def json_option(fn: F) -> F:
    """Add ``--json``: exactly one JSON document on stdout, stable keys."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON document to stdout."
    )(fn)


def emit_json(doc: Any) -> None:
    click.echo(json.dumps(doc, indent=2, sort_keys=False, default=str))


def fail(error: BaseException, *, as_json: bool) -> None:
    """Print ``error`` for a human (stderr) or a machine (stdout JSON) and exit with its code."""
    if isinstance(error, LuigiAirbyteError):
        code = error.exit_code
        kind = type(error).__name__
    else:
        code = int(ExitCode.UNEXPECTED)
        kind = type(error).__name__
    message = str(error)
    if as_json:
        doc: dict[str, Any] = {"error": {"type": kind, "message": message, "exit_code": code}}
        problems = getattr(error, "problems", None)
        if problems:
            doc["error"]["problems"] = [
                {
                    "source": p.source,
                    "line": p.line,
                    "field": p.field,
                    "message": p.message,
                    "fix": p.fix,
                }
                for p in problems
            ]
        emit_json(doc)
    else:
        click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


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


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point."""
    from luigi_airbyte.cli import commands  # noqa: F401  (registers the commands)

    global _help_only
    args = list(argv) if argv is not None else sys.argv[1:]
    _help_only = any(a in ("--help", "-h") for a in args)
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="luigi-airbyte")
    finally:
        _help_only = False
