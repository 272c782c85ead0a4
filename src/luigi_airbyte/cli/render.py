"""Human output: rich tables when stdout is a terminal, plain aligned text otherwise.

Plain text is what a pipe, a CI log or a test sees: no colour, no box characters, columns
separated by two spaces, so ``grep`` and ``awk`` work on it. Machine output is ``--json``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    pass

Row = Sequence[object]


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def table(
    columns: Sequence[str],
    rows: Sequence[Row],
    *,
    title: str | None = None,
    numeric: Sequence[str] = (),
) -> None:
    """Print a table on stdout; ``numeric`` columns are right-aligned."""
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    cells = [[_cell(v) for v in row] for row in rows]
    if stdout_is_tty():
        t = Table(
            title=title,
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            collapse_padding=True,
        )
        for name in columns:
            # never hide a value: wrap at spaces, fold long words
            t.add_column(
                name,
                justify="right" if name in numeric else "left",
                overflow="fold",
                min_width=min(len(name), 8),
            )
        for row in cells:
            t.add_row(*(escape(c) for c in row))
        Console(highlight=False).print(t)
        return
    if title:
        click.echo(title)
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = []
        for i, (value, width) in enumerate(zip(values, widths, strict=True)):
            last = i == len(values) - 1
            if columns[i] in numeric:
                parts.append(value.rjust(width))
            else:
                parts.append(value if last else value.ljust(width))
        return "  ".join(parts).rstrip()

    click.echo(line(list(columns)))
    for row in cells:
        click.echo(line(row))


def fields(pairs: Sequence[tuple[str, object]]) -> None:
    """Print ``key: value`` lines, keys aligned; empty values are left out."""
    shown = [(k, _cell(v)) for k, v in pairs if _cell(v) != ""]
    width = max((len(k) for k, _ in shown), default=0)
    for key, value in shown:
        click.echo(f"{(key + ':').ljust(width + 1)} {value}")


def note(message: str) -> None:
    """A line for the human on stderr (never part of the command's output)."""
    click.echo(message, err=True)


def when(value: datetime | None) -> str:
    """A UTC timestamp to the second, e.g. ``2026-11-24 02:00:13``."""
    if value is None:
        return ""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def seconds(value: float | None) -> str:
    """``4.2s``, ``3m07s``, ``2h05m``."""
    if value is None:
        return ""
    if value < 60:
        return f"{value:.1f}s"
    whole = round(value)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def number(value: int | None) -> str:
    """``12,345``; empty when unknown."""
    return "" if value is None else f"{value:,}"


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC for JSON documents."""
    return None if value is None else value.astimezone(timezone.utc).isoformat()
