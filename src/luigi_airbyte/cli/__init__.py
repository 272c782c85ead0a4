"""The command line: the only code that prints or exits."""

from __future__ import annotations

from luigi_airbyte.cli.app import cli, main

__all__ = ["cli", "main"]
