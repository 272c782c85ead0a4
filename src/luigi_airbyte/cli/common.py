"""What every command shares: ``--json``, JSON output, option bundles, and the one way a
command fails on an error or stops on Ctrl-C (codes from ``luigi_airbyte.exit_codes``).

Command modules import from here, never from ``cli.app`` (which lists the commands), so
the command modules and the group that holds them do not import each other.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from luigi_airbyte.exit_codes import for_error

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

F = TypeVar("F", bound=Callable[..., Any])


def json_option(fn: F) -> F:
    """Add ``--json``: exactly one JSON document on stdout, stable keys."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON document to stdout."
    )(fn)


def options(*decorators: Callable[[Any], Any]) -> Callable[[F], F]:
    """Several click arguments and options as one decorator, applied in the order listed
    (top first), as if stacked above the function."""

    def apply(fn: F) -> F:
        decorated: Any = fn
        for decorator in reversed(decorators):
            decorated = decorator(decorated)
        return decorated  # type: ignore[no-any-return]

    return apply


def emit_json(doc: Any) -> None:
    click.echo(json.dumps(doc, indent=2, sort_keys=False, default=str))


def interrupted(message: str, *, fg: str | None = None) -> NoReturn:
    """Ctrl-C (or SIGTERM) stopped the command: say what was left where, exit 130."""
    click.secho(message, fg=fg, err=True)
    sys.exit(for_error(KeyboardInterrupt()))


def fail(error: BaseException, *, as_json: bool) -> NoReturn:
    """Print ``error`` for a human (stderr) or a machine (stdout JSON) and exit with its code."""
    code = for_error(error)
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
