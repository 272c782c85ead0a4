"""Read a YAML file into plain Python plus a map from field path to line number.

ruamel.yaml's round-trip loader records where every key and list item was; we copy
those positions into ``{"pipelines.nightly.steps[2].after[0]": 14, ...}`` and hand
pydantic plain dicts and lists. YAML 1.2 rules apply (``yes``/``no`` are strings).
Problems never quote the file's content, which may hold a secret.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from luigi_airbyte.errors import Problem
from luigi_airbyte.pipeline._suggest import Segment, render_path

MAX_FILE_BYTES = 5 * 1024 * 1024
_DUP_KEY = re.compile(r'found duplicate key "([^"]{0,80})"')


class YamlProblem(Exception):
    """The file could not be read as YAML; carries the one `Problem`."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def _problem(source: str, message: str, fix: str, line: int | None = None) -> YamlProblem:
    return YamlProblem(Problem(source=source, field="(file)", message=message, fix=fix, line=line))


def read_text(path: Path, source: str) -> str:
    """The file's text; missing, unreadable, huge or non-UTF-8 files become a `YamlProblem`."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _problem(
            source, "file not found", "check the path (relative to the current directory)"
        ) from None
    except IsADirectoryError:
        raise _problem(
            source, "is a directory, not a file", "give the pipeline YAML file's path"
        ) from None
    except OSError as exc:
        raise _problem(
            source, f"cannot be read ({exc.strerror})", "check the path and permissions"
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise _problem(
            source, f"is {len(data)} bytes; a pipeline file is far smaller", "check the path"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _problem(
            source,
            f"is not UTF-8 text (bad byte at offset {exc.start})",
            "save the file as UTF-8",
            line,
        ) from None


def _error_line(exc: MarkedYAMLError, text: str) -> int | None:
    """Where to point: the problem, unless it is "end of file", then where the construct began."""
    last = max(1, len(text.splitlines()))
    problem, context = exc.problem_mark, exc.context_mark
    if problem is not None and problem.line + 1 <= last:
        return int(problem.line) + 1
    if context is not None:
        return int(context.line) + 1
    return last


def parse_yaml(text: str, source: str) -> Any:
    """Round-trip parse; syntax errors become one `YamlProblem` with the line."""
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        line = _error_line(exc, text)
        dup = _DUP_KEY.search(str(exc.problem or ""))
        if dup:
            raise _problem(
                source, f"duplicate key {dup.group(1)!r}", "keep one of the two entries", line
            ) from None
        what = "; ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise _problem(
            source,
            f"YAML syntax error: {what}",
            "fix the YAML syntax (indentation, quotes, colons)",
            line,
        ) from None
    except YAMLError:
        raise _problem(source, "YAML syntax error", "fix the YAML syntax") from None


def to_plain(node: Any, path: tuple[Segment, ...], lines: dict[str, int]) -> Any:
    """Copy ruamel nodes into dict/list/scalars, recording each key's and item's line."""
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key in node:
            child = (*path, key if isinstance(key, (str, int)) else str(key))
            try:
                lines[render_path(child)] = node.lc.key(key)[0] + 1
            except (KeyError, TypeError, AttributeError):
                pass
            out[key if isinstance(key, (str, int, float, bool)) or key is None else str(key)] = (
                to_plain(node[key], child, lines)
            )
        return out
    if isinstance(node, CommentedSeq):
        items: list[Any] = []
        for i, item in enumerate(node):
            try:
                lines[render_path((*path, i))] = node.lc.item(i)[0] + 1
            except (KeyError, TypeError, AttributeError):
                pass
            items.append(to_plain(item, (*path, i), lines))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, (datetime, date)):
        return node.isoformat()  # a date where text was meant: keep it as text
    return node


def load_yaml(path: Path, source: str) -> tuple[Any, dict[str, int]]:
    """Plain data and the line map for ``path``; raises `YamlProblem` for unreadable files."""
    raw = parse_yaml(read_text(path, source), source)
    lines: dict[str, int] = {}
    return to_plain(raw, (), lines), lines
