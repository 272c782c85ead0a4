"""Read a YAML file into plain Python plus a map from field path to line number.

ruamel.yaml's round-trip loader records where every key and list item was; we copy
those positions into ``{"pipelines.nightly.steps[2].after[0]": 14, ...}`` and hand
pydantic plain dicts and lists. YAML 1.2 rules apply (``yes``/``no`` are strings).
Problems never quote the file's content, which may hold a secret.

Hostile input is bounded: the path is stat-ed before it is opened (a FIFO or a device is
refused instead of read), explicit tags other than YAML's core ones (``!!python/...``,
``!custom``) are refused by name, and aliases may not expand the document past
``MAX_VALUES`` values (an "alias bomb" is refused while it is being copied, in bounded
memory).

Speed: libyaml's C parser (``ruamel.yaml.clib``) reads the file first when it can answer
exactly as the round-trip loader would, building the same data and line map from its
events (``_fast_load``); for anything it cannot vouch for, and for every error, the
round-trip loader reads the file and its answer stands.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import (
    CommentedMap,
    CommentedOrderedMap,
    CommentedSeq,
    CommentedSet,
    TaggedScalar,
)
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.reader import Reader

from luigi_airbyte.errors import Problem
from luigi_airbyte.pipeline._suggest import Segment, render_child, render_path

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_VALUES = 100_000
"""The most keys, items and scalars a file may expand to once its aliases are copied."""
_CORE = "tag:yaml.org,2002:"
_PLAIN_TAGS = frozenset(_CORE + t for t in ("str", "int", "float", "bool", "null", "map", "seq"))
_DUP_KEY = re.compile(r'found duplicate key "([^"]{0,80})"')


class YamlProblem(Exception):
    """The file could not be read as YAML; carries the one `Problem`."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def _problem(
    source: str, message: str, fix: str, line: int | None = None, field: str = "(file)"
) -> YamlProblem:
    return YamlProblem(Problem(source=source, field=field, message=message, fix=fix, line=line))


_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _check_regular_file(path: Path, source: str) -> None:
    """Refuse anything but a regular file before opening it: a FIFO would block forever."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise _os_problem(source, exc) from None
    if stat.S_ISDIR(mode):
        raise _os_problem(source, IsADirectoryError())
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise _problem(
            source,
            f"is {kind}, not a regular file",
            "give the path of the pipeline YAML file itself",
        )


def _os_problem(source: str, exc: OSError) -> YamlProblem:
    """What the operating system said about the file, with the fix."""
    if isinstance(exc, FileNotFoundError):
        return _problem(
            source, "file not found", "check the path (relative to the current directory)"
        )
    if isinstance(exc, IsADirectoryError):
        return _problem(source, "is a directory, not a file", "give the pipeline YAML file's path")
    return _problem(source, f"cannot be read ({exc.strerror})", "check the path and permissions")


def read_text(path: Path, source: str) -> str:
    """The file's text; missing, unreadable, huge or non-UTF-8 files become a `YamlProblem`."""
    _check_regular_file(path, source)
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _os_problem(source, exc) from None
    if len(data) > MAX_FILE_BYTES:
        raise _problem(
            source,
            f"is over {MAX_FILE_BYTES} bytes; a pipeline file is far smaller",
            "check the path",
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


def _expanded_size(node: Any, memo: dict[int, int], limit: int) -> int:
    """How many values ``node`` becomes once copied: an alias counts its anchor's whole value.

    Memoised by node identity, so an alias bomb (an anchor used nine times, each of those
    nine times, ...) is measured in microseconds without being expanded.
    """
    if not isinstance(node, (CommentedMap, CommentedSeq)):
        return 1
    known = memo.get(id(node))
    if known is not None:
        return known
    total = 1
    children = node.values() if isinstance(node, CommentedMap) else node
    for child in children:
        total += _expanded_size(child, memo, limit)
        if total > limit:
            break  # the answer is "too big"; do not look further
    memo[id(node)] = total
    return total


def check_expansion(raw: Any, source: str, limit: int = MAX_VALUES) -> None:
    """Refuse a document that expands past ``limit`` values, naming the top-level key."""
    memo: dict[int, int] = {}
    if _expanded_size(raw, memo, limit) <= limit:
        return
    field, line, running = "(file)", None, 1
    if isinstance(raw, CommentedMap):
        for key in raw:
            running += 1 + _expanded_size(raw[key], memo, limit)
            if running > limit:
                field = render_path((key if isinstance(key, (str, int)) else str(key),))
                try:
                    line = raw.lc.key(key)[0] + 1
                except (KeyError, TypeError, AttributeError):
                    line = None
                break
    raise _problem(
        source,
        f"the file expands to more than {limit} values (YAML anchors and aliases "
        "copied inside each other, an 'alias bomb'?)",
        "write the values out, or use an anchor only for a small shared block",
        line,
        field,
    )


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


def _tag_of(node: Any) -> str | None:
    """The explicit tag of a node, if any (``!!python/object:...``, ``!foo``)."""
    if isinstance(node, CommentedOrderedMap):
        return _CORE + "omap"
    if isinstance(node, CommentedSet):
        return _CORE + "set"
    if isinstance(node, (bytes, bytearray)):
        return _CORE + "binary"
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", None)
    return value if isinstance(value, str) else None


def to_plain(
    node: Any, path: tuple[Segment, ...], lines: dict[str, int], source: str = "<data>"
) -> Any:
    """Copy ruamel nodes into dict/list/scalars, recording each key's and item's line.

    Raises `YamlProblem` for an unknown tag. Call `check_expansion` first: an alias is
    copied in full each time it is used.
    """
    tag = _tag_of(node)
    if tag is not None and tag not in _PLAIN_TAGS:
        raise _problem(
            source,
            f"YAML tag {_tag_name(tag)!r} is not allowed (a pipeline file holds plain "
            "mappings, lists, strings, numbers and booleans)",
            f"remove {_tag_name(tag)!r}; quote the value if it is meant as text",
            lines.get(render_path(path)),
            render_path(path) or "(file)",
        )
    if isinstance(node, TaggedScalar):
        return str(node.value)  # !!str 1 and friends: a core tag, keep the text
    if isinstance(node, (CommentedMap, CommentedSeq)):
        return _copy_container(node, path, lines, source)
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


def _copy_container(
    node: CommentedMap | CommentedSeq,
    path: tuple[Segment, ...],
    lines: dict[str, int],
    source: str,
) -> Any:
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key in node:
            child = (*path, key if isinstance(key, (str, int)) else str(key))
            try:
                lines[render_path(child)] = node.lc.key(key)[0] + 1
            except (KeyError, TypeError, AttributeError):
                pass
            out[key if isinstance(key, (str, int, float, bool)) or key is None else str(key)] = (
                to_plain(node[key], child, lines, source)
            )
        return out
    items: list[Any] = []
    for i, item in enumerate(node):
        try:
            lines[render_path((*path, i))] = node.lc.item(i)[0] + 1
        except (KeyError, TypeError, AttributeError):
            pass
        items.append(to_plain(item, (*path, i), lines, source))
    return items


class _NotFast(Exception):
    """The fast path does not answer for this text: the round-trip loader will."""


def _c_events(text: str) -> Iterator[Any]:
    """libyaml's events for ``text`` (raises ``_NotFast`` when the C parser is missing)."""
    try:
        from _ruamel_yaml import CParser  # type: ignore[import-not-found]  # C, optional
    except ImportError:
        raise _NotFast from None
    parser = CParser(text)
    try:
        while True:
            event = parser.get_event()
            yield event
            if isinstance(event, StreamEndEvent):
                return
    finally:
        parser.dispose()


_YAML_TYPES: tuple[Any, Any] | None = None


def _resolver_and_constructor() -> tuple[Any, Any]:
    """The round-trip loader's own resolver and constructor: scalars mean what they mean there."""
    global _YAML_TYPES
    if _YAML_TYPES is None:
        yaml = YAML(typ="rt")
        _YAML_TYPES = (yaml.resolver, yaml.constructor)
    return _YAML_TYPES


_SCALAR_TAGS = ("str", "int", "float", "bool", "null")
_C_DIFFERS = re.compile("[\t\x85\u2028\u2029\ufeff]|\r(?!\n)")
"""Text where libyaml and the round-trip loader disagree (found by fuzzing): tabs (libyaml
accepts some the round-trip scanner refuses), the Unicode line breaks NEL, LS and PS, a
byte-order mark inside the text, a lone carriage return."""


def _fast_scalar(event: ScalarEvent, resolver: Any, constructor: Any) -> Any:
    """A plain scalar as the round-trip loader builds it (then `to_plain` copies it)."""
    tag = resolver.resolve(ScalarNode, event.value, event.implicit)
    kind = str(tag)[len(_CORE) :] if str(tag).startswith(_CORE) else ""
    if kind not in _SCALAR_TAGS:
        raise _NotFast  # a timestamp, a merge key, ...: rare; the round-trip loader answers
    node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
    return getattr(constructor, f"construct_yaml_{kind}")(node)


def _fast_load(text: str) -> tuple[Any, dict[str, int]]:
    """Plain data and line map from libyaml's events, or ``_NotFast``.

    Answers only where the answer is certainly the round-trip loader's: one document with
    no directive, no tag, no anchor or alias, only str/int/float/bool/null scalars, string
    keys, no duplicate key, at most ``MAX_VALUES`` values, printable text without the
    characters of ``_C_DIFFERS``. Anything else, and any error of the C parser (it refuses
    some valid plain scalars in flow style, such as ``{url: duckdb:///x}``) or nesting
    deeper than ``_FAST_DEPTH``, is left to the round-trip loader, so every success and
    every error is what it says.
    """
    if Reader.NON_PRINTABLE.search(text) or _C_DIFFERS.search(text):
        raise _NotFast
    builder = _FastBuilder()
    for event in _c_events(text):
        builder.feed(event)
    return builder.root, builder.lines


_SKIPPED_EVENTS = (StreamStartEvent, DocumentEndEvent, StreamEndEvent)


class _FastBuilder:
    """Plain data and the line map from libyaml's events, with an explicit stack (no
    recursion on deep input). A frame: [container, its path, the pending key (maps only),
    that key's path, the container's path rendered, the key's path rendered] (each line-map
    key is rendered from its parent's, not from the whole path again)."""

    def __init__(self) -> None:
        self.resolver, self.constructor = _resolver_and_constructor()
        self.lines: dict[str, int] = {}
        self.stack: list[list[Any]] = []
        self.root: Any = None
        self.documents = self.values = 0
        self.scalars: dict[tuple[str, Any, Any], Any] = {}

    def feed(self, event: Any) -> None:
        kind = type(event)
        if kind in _SKIPPED_EVENTS:
            return
        if kind is DocumentStartEvent:
            self.documents += 1
            if self.documents > 1 or event.version is not None or event.tags:
                raise _NotFast
            return
        if kind is MappingEndEvent or kind is SequenceEndEvent:
            self.stack.pop()
            return
        if kind is AliasEvent or event.anchor is not None or event.tag is not None:
            raise _NotFast
        self.values += 1
        if self.values > MAX_VALUES:
            raise _NotFast
        top = self.stack[-1] if self.stack else None
        if top is not None and type(top[0]) is dict and top[2] is _NO_KEY:
            self._key(top, event)
        else:
            self._value(top, event, kind)

    def _scalar(self, event: ScalarEvent) -> Any:
        """Built once per text, implicitness and style: the resolver and constructor answer
        from nothing else (a 1,000-step file repeats its keys and most values)."""
        memo = (event.value, event.implicit, event.style)
        found = self.scalars.get(memo, _NO_KEY)
        if found is _NO_KEY:
            found = self.scalars[memo] = _fast_scalar(event, self.resolver, self.constructor)
        return found

    def _key(self, frame: list[Any], event: Any) -> None:
        if type(event) is not ScalarEvent:
            raise _NotFast
        key = self._scalar(event)
        if type(key) is not str or key in frame[0]:
            raise _NotFast  # a non-string key, or a duplicate (reported with its line)
        frame[2], frame[3], frame[5] = key, (*frame[1], key), render_child(frame[4], key)
        self.lines[frame[5]] = event.start_mark.line + 1

    def _value(self, frame: list[Any] | None, event: Any, kind: type) -> None:
        path: tuple[Segment, ...] = ()
        rendered = ""
        if frame is not None and type(frame[0]) is list:
            path = (*frame[1], len(frame[0]))
            rendered = render_child(frame[4], len(frame[0]))
            self.lines[rendered] = event.start_mark.line + 1
        elif frame is not None:
            path, rendered = frame[3], frame[5]
        if kind is ScalarEvent:
            value: Any = to_plain(self._scalar(event), path, self.lines)
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            value = {} if kind is MappingStartEvent else []
        else:
            raise _NotFast
        if frame is None:
            self.root = value
        elif type(frame[0]) is list:
            frame[0].append(value)
        else:
            frame[0][frame[2]] = value
            frame[2] = _NO_KEY
        if kind is not ScalarEvent:
            if len(self.stack) >= _FAST_DEPTH:
                raise _NotFast  # deep nesting: the round-trip loader's answer (and its bound)
            pending = _NO_KEY if type(value) is dict else None
            self.stack.append([value, path, pending, None, rendered, ""])


_NO_KEY = object()
_FAST_DEPTH = 64
"""Deeper nesting than this is left to the round-trip loader (no pipeline file nests so)."""


def _load_round_trip(text: str, source: str) -> tuple[Any, dict[str, int]]:
    raw = parse_yaml(text, source)
    check_expansion(raw, source)
    lines: dict[str, int] = {}
    return to_plain(raw, (), lines, source), lines


def load_yaml(path: Path, source: str) -> tuple[Any, dict[str, int]]:
    """Plain data and the line map for ``path``; raises `YamlProblem` for unreadable files.

    libyaml's C parser reads the file when it can answer exactly as the round-trip loader
    would (`_fast_load`, about 10x faster on a 1,000-step file); otherwise, and for every
    error, the round-trip loader reads it and reports what it always has.
    """
    text = read_text(path, source)
    try:
        return _fast_load(text)
    except Exception:  # noqa: BLE001 (any doubt: the round-trip loader gives the answer)
        pass
    try:
        return _load_round_trip(text, source)
    except RecursionError:  # the round-trip loader recurses per level: ~300 of [ or {
        raise _problem(
            source,
            "the YAML nests too deeply to be read (hundreds of levels)",
            "flatten it: a pipeline file nests a few levels",
        ) from None
