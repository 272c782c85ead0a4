"""Read the ``[airbyte]`` section of luigi.cfg / luigi.toml without importing luigi.

The search order mirrors ``luigi/configuration`` (lowest priority first): the parser
is chosen by ``LUIGI_CONFIG_PARSER`` (``cfg`` by default, or ``toml``); cfg reads
``/etc/luigi/client.cfg``, ``/etc/luigi/luigi.cfg``, ``client.cfg``, ``luigi.cfg``;
toml reads ``/etc/luigi/luigi.toml``, ``luigi.toml``; both then add
``LUIGI_CONFIG_PATH``. Later files override earlier ones. Like luigi's cfg parser we
expand ``${ENVVAR}`` (the caller does, so secrets can become ``env:`` references) and
accept dashes in option names. ``%(name)s`` interpolation is not supported.
"""

from __future__ import annotations

import configparser
import importlib
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from luigi_airbyte.errors import Problem

SECTION = "airbyte"
_CFG_PATHS = ("/etc/luigi/client.cfg", "/etc/luigi/luigi.cfg", "client.cfg", "luigi.cfg")
_TOML_PATHS = ("/etc/luigi/luigi.toml", "luigi.toml")
_HEADER = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]")
_KEY = re.compile(r"""^\s*["']?([A-Za-z0-9_.-]+)["']?\s*[=:]""")


@dataclass(frozen=True)
class CfgEntry:
    """One option of an ``[airbyte]`` section, with where it was written."""

    key: str
    value: Any
    path: str
    line: int | None


def luigi_config_paths(env: Mapping[str, str], cwd: Path | None = None) -> list[Path]:
    """The files luigi would read, lowest priority first (whether or not they exist)."""
    toml = env.get("LUIGI_CONFIG_PARSER", "cfg").strip().lower() == "toml"
    paths = []
    for name in _TOML_PATHS if toml else _CFG_PATHS:
        p = Path(name)
        paths.append(p if p.is_absolute() or cwd is None else cwd / p)
    extra = env.get("LUIGI_CONFIG_PATH")
    if extra:
        paths.append(Path(extra))
    return paths


def _lines_of(text: str) -> dict[str, int]:
    section = ""
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            section = header.group(1).strip().strip("\"'")
            continue
        key = _KEY.match(line)
        if key and section == SECTION:
            lines.setdefault(key.group(1).lower().replace("-", "_"), number)
    return lines


def _load_toml(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads(text)
    tomli = importlib.import_module("tomli")  # Python 3.10: luigi[toml] brings a parser
    result: dict[str, Any] = tomli.loads(text)
    return result


def _read_one(path: Path) -> tuple[list[CfgEntry], list[Problem]]:
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return [], [Problem(shown, f"[{SECTION}]", "is not UTF-8 text", "save the file as UTF-8")]
    except OSError as exc:
        return [], [
            Problem(shown, f"[{SECTION}]", f"cannot be read ({exc.strerror})", "check permissions")
        ]
    lines = _lines_of(text)
    if path.suffix == ".toml":
        try:
            doc = _load_toml(text)
        except ImportError:
            return [], [
                Problem(
                    shown, "(file)", "reading TOML on Python 3.10 needs tomli", "pip install tomli"
                )
            ]
        except ValueError as exc:  # tomllib.TOMLDecodeError
            return [], [
                Problem(
                    shown, "(file)", f"TOML syntax error: {str(exc).split('(')[0]}", "fix the TOML"
                )
            ]
        section = doc.get(SECTION, {})
        if not isinstance(section, dict):
            return [], [
                Problem(
                    shown, SECTION, f"[{SECTION}] must be a table", f"write [{SECTION}] key = value"
                )
            ]
        items = [(str(k).replace("-", "_"), v) for k, v in section.items()]
    else:
        parser = configparser.ConfigParser(interpolation=None, default_section="\x00", strict=True)
        try:
            parser.read_string(text, source=shown)
        except configparser.Error as exc:
            line = getattr(exc, "lineno", None)
            message = str(exc).splitlines()[0].split(":")[0]
            return [], [
                Problem(shown, "(file)", f"config syntax error: {message}", "fix the file", line)
            ]
        if not parser.has_section(SECTION):
            return [], []
        items = [(k.replace("-", "_"), v) for k, v in parser.items(SECTION, raw=True)]
    return [CfgEntry(k, v, shown, lines.get(k)) for k, v in items], []


def read_airbyte_section(paths: list[Path]) -> tuple[dict[str, CfgEntry], list[Problem]]:
    """The merged ``[airbyte]`` options (later files win) and any unreadable-file problems."""
    merged: dict[str, CfgEntry] = {}
    problems: list[Problem] = []
    for path in paths:
        if not path.is_file():
            continue
        entries, found = _read_one(path)
        problems += found
        for entry in entries:
            merged[entry.key] = entry
    return merged, problems
