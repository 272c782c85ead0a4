"""Docs that cannot drift: the CLI reference is generated from --help and checked here."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import click
import pytest
from click.testing import CliRunner

from luigi_airbyte.cli.app import cli
from luigi_airbyte.pipeline import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
CLI_DOC = ROOT / "docs" / "cli.md"
CONFIG_DOC = ROOT / "docs" / "configuration.md"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ids(value: object) -> str:
    return " ".join(value) if isinstance(value, tuple) else ""


GEN = _load_generator()
COMMANDS = list(GEN.iter_commands(cli))
LEAVES = [(path, c) for path, c in COMMANDS if not isinstance(c, click.Group)]


def test_cli_reference_is_up_to_date() -> None:
    expected = GEN.render()
    current = CLI_DOC.read_text(encoding="utf-8")
    assert current == expected, "docs/cli.md is out of date: run python scripts/gen_cli_docs.py"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=_ids)
def test_command_is_documented(path: tuple[str, ...], command: click.Command) -> None:
    text = CLI_DOC.read_text(encoding="utf-8")
    assert f"## luigi-airbyte {' '.join(path)}\n" in text


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=_ids)
def test_command_has_help(path: tuple[str, ...], command: click.Command) -> None:
    assert command.help and command.help.strip(), f"{' '.join(path)} has no help text"
    assert command.get_short_help_str(limit=90).strip()


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=_ids)
def test_command_has_an_example(path: tuple[str, ...], command: click.Command) -> None:
    help_text = command.help or ""
    # `\b` keeps click from re-wrapping the example lines
    match = re.search(r"\x08\n\s*Example:\n(.*)", help_text, re.DOTALL)
    assert match, f"luigi-airbyte {' '.join(path)}: add an `Example:` block after a \\b line"
    assert f"luigi-airbyte {' '.join(path)}" in match.group(1)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=_ids)
def test_dash_h_is_help(path: tuple[str, ...], command: click.Command) -> None:
    result = CliRunner().invoke(cli, [*path, "-h"], prog_name="luigi-airbyte")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: luigi-airbyte {' '.join(path)} ")


def test_every_setting_is_in_the_configuration_docs() -> None:
    text = CONFIG_DOC.read_text(encoding="utf-8")
    missing = [s.key for s in SETTINGS if f"`{s.key}`" not in text]
    assert missing == [], f"document these settings in docs/configuration.md: {missing}"
    missing_env = [s.env_var for s in SETTINGS if s.env_var not in text]
    assert missing_env == []
