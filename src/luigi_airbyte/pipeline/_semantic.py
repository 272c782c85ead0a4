"""Checks that need the whole file: names, references, cycles, owners, literal secrets.

They run on the raw YAML data, not on validated models, so they still report when
another part of the file has a type error: a user sees every problem in one go.
Each check skips values of the wrong type (the model validation reports those).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from typing import Any

from luigi_airbyte.pipeline._errors import Finding
from luigi_airbyte.pipeline._steps import CHECK_KINDS, step_kind_of
from luigi_airbyte.pipeline._suggest import Segment, did_you_mean, mistyped_scheme
from luigi_airbyte.pipeline._suggest import hint as did_you_mean_hint
from luigi_airbyte.pipeline._types import NAME_PATTERN
from luigi_airbyte.secrets import (
    REFERENCE_HELP,
    SCHEMES,
    is_secret_key,
    literal_secret_reason,
    looks_like_reference_attempt,
    suggest_reference,
)

Path = tuple[Segment, ...]
_ROLE = re.compile(NAME_PATTERN)
_SKIP_SECRET_SCAN = frozenset({"tables", "streams", "query", "description"})
_PERSON_FIX = (
    "name a role, e.g. data-platform, and route its alerts (owners: <role>: alerts: [...])"
)


def semantic_findings(data: Any) -> list[Finding]:
    """Every cross-field problem in a raw pipeline-file mapping."""
    if not isinstance(data, dict):
        return []
    found = list(_literal_secrets(data, ()))
    owners = data.get("owners") if isinstance(data.get("owners"), dict) else {}
    assert isinstance(owners, dict)
    found += _owner_roles(owners)
    whs = data.get("warehouses")
    warehouses = [k for k in whs if isinstance(k, str)] if isinstance(whs, dict) else []
    pipelines = data.get("pipelines")
    if isinstance(pipelines, dict):
        for name, pipeline in pipelines.items():
            if isinstance(pipeline, dict):
                found += _pipeline(("pipelines", name), pipeline, list(owners), warehouses)
    return found


# --- literal secrets ----------------------------------------------------------------------


def _literal_secrets(node: Any, path: Path, key: str = "") -> Iterator[Finding]:
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(k, str) and k in _SKIP_SECRET_SCAN:
                continue
            yield from _literal_secrets(v, (*path, k), str(k))
    elif isinstance(node, list):
        if key in ("argv", "args"):
            return  # argv has its own, stricter check
        for i, item in enumerate(node):
            yield from _literal_secrets(item, (*path, i), key)
    else:
        reason = literal_secret_reason(key, node)
        typo = mistyped_scheme(node, SCHEMES) if reason else None
        if typo:
            written, meant = typo
            yield Finding(
                path,
                f"unknown secret reference scheme {written!r}; did you mean '{meant}:'?",
                f"write {meant}: instead of {written}: ({REFERENCE_HELP})",
            )
        elif reason:
            yield Finding(
                path,
                f"literal secret in {key!r}: {reason}; secrets must be references",
                suggest_reference(key, node),
            )


# --- owners -------------------------------------------------------------------------------


def _looks_like_person(name: str) -> bool:
    return "@" in name


def _owner_roles(owners: dict[Any, Any]) -> list[Finding]:
    found = []
    for role in owners:
        role_text = str(role)
        if _looks_like_person(role_text):
            found.append(
                Finding(
                    ("owners", role),
                    f"owner {role_text!r} is a person; owners must be roles",
                    _PERSON_FIX,
                )
            )
        elif not _ROLE.fullmatch(role_text):
            found.append(
                Finding(
                    ("owners", role),
                    f"invalid role name {role_text[:40]!r}",
                    "use letters, digits, '_', '.' and '-', e.g. data-platform",
                )
            )
    return found


def _owner_ref(path: Path, value: Any, roles: list[str]) -> list[Finding]:
    if not isinstance(value, str):
        return []
    if _looks_like_person(value):
        return [Finding(path, f"owner {value!r} is a person; owners must be roles", _PERSON_FIX)]
    if value in roles:
        return []
    if not roles:
        return [
            Finding(
                path,
                f"unknown owner {value!r}",
                f"declare it: owners: {{{value}: {{alerts: [...]}}}}",
            )
        ]
    close = did_you_mean(value, roles)
    hint = did_you_mean_hint(close)
    return [
        Finding(
            path,
            f"unknown owner {value!r}{hint}",
            f"use a role declared under owners: {', '.join(roles)}",
        )
    ]


# --- pipelines ----------------------------------------------------------------------------


class _StepInfo:
    def __init__(self, index: int, kind: str, name: str, raw: dict[Any, Any]) -> None:
        self.index = index
        self.kind = kind
        self.name = name
        self.raw = raw
        self.deps: list[tuple[str, Path]] = []  # (step name, where it is declared)


def _step_infos(path: Path, steps: list[Any]) -> tuple[list[_StepInfo], list[Finding]]:
    infos: list[_StepInfo] = []
    found: list[Finding] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(steps):
        kind = step_kind_of(raw)
        if kind is None or not isinstance(raw, dict):
            continue
        named_by_kind = kind in ("sync", "sync_each", "check")
        key = kind if named_by_kind else ("name" if "name" in raw else kind)
        name = raw.get(kind) if named_by_kind else raw.get("name", kind)
        if not isinstance(name, str):
            continue
        if name in seen:
            how = (
                ""
                if named_by_kind or "name" in raw
                else f" (a {kind} step without `name:` is called {kind!r})"
            )
            found.append(
                Finding(
                    (*path, i, key),
                    f"duplicate step name {name!r}, also used by steps[{seen[name]}]{how}",
                    "give each step a unique name" + ("" if named_by_kind else " with `name:`"),
                )
            )
            continue
        seen[name] = i
        infos.append(_StepInfo(i, kind, name, raw))
    return infos, found


def _pipeline(
    path: Path, pipeline: dict[Any, Any], roles: list[str], warehouses: list[str]
) -> list[Finding]:
    found: list[Finding] = []
    if "owner" not in pipeline:
        example = next((r for r in roles if _ROLE.fullmatch(str(r))), "data-platform")
        found.append(
            Finding(
                (*path, "owner"),
                f"pipeline {path[-1]!r} has no owner",
                f"add `owner: {example}` (a role under owners:) so failures reach someone",
            )
        )
    found += _owner_ref((*path, "owner"), pipeline.get("owner"), roles)
    steps = pipeline.get("steps")
    if not isinstance(steps, list):
        return found
    steps_path = (*path, "steps")
    infos, dup = _step_infos(steps_path, steps)
    found += dup
    by_name = {s.name: s for s in infos}
    for info in infos:
        here = (*steps_path, info.index)
        found += _owner_ref((*here, "owner"), info.raw.get("owner"), roles)
        found += _after(here, info, by_name)
        found += _warehouses(here, info, warehouses)
        found += _argv(here, info)
        if info.kind == "check":
            found += _check(here, info, by_name)
        if info.kind == "sync_each":
            found += _sync_each(here, info, roles)
    found += _cycles(infos)
    return found


def _after(here: Path, info: _StepInfo, by_name: dict[str, _StepInfo]) -> list[Finding]:
    after = info.raw.get("after")
    if not isinstance(after, list):
        return []
    found = []
    for j, dep in enumerate(after):
        if not isinstance(dep, str):
            continue
        where = (*here, "after", j)
        if dep == info.name:
            found.append(Finding(where, f"step {info.name!r} lists itself in after", "remove it"))
        elif dep not in by_name:
            close = did_you_mean(dep, by_name)
            hint = did_you_mean_hint(close)
            fix = f"use {close!r}" if close else f"use one of: {', '.join(by_name)}"
            found.append(Finding(where, f"after refers to unknown step {dep!r}{hint}", fix))
        else:
            info.deps.append((dep, where))
    return found


def _check(here: Path, info: _StepInfo, by_name: dict[str, _StepInfo]) -> list[Finding]:
    present = [k for k in CHECK_KINDS if k in info.raw]
    if not present:
        return [
            Finding(
                here,
                f"check {info.name!r} does not say what to check",
                "add one of: sql: {warehouse, query}, freshness: {sync, max_age}, "
                "drift: {sync}, counts: {sync}",
            )
        ]
    if len(present) > 1:
        return [
            Finding(
                (*here, present[1]),
                f"check {info.name!r} has several kinds ({', '.join(present)})",
                "split it into one check step per kind",
            )
        ]
    kind = present[0]
    spec = info.raw.get(kind)
    if kind == "sql" or not isinstance(spec, dict) or not isinstance(spec.get("sync"), str):
        return []
    target = spec["sync"]
    where = (*here, kind, "sync")
    syncs = [n for n, s in by_name.items() if s.kind == "sync"]
    if target not in by_name:
        close = did_you_mean(target, syncs)
        hint = did_you_mean_hint(close)
        return [
            Finding(
                where,
                f"unknown sync step {target!r}{hint}",
                f"use one of: {', '.join(syncs) or '(none)'}",
            )
        ]
    other = by_name[target]
    if other.kind != "sync":
        return [
            Finding(
                where,
                f"{target!r} is a {other.kind} step, not a sync step",
                f"use one of: {', '.join(syncs)}",
            )
        ]
    if target != info.name:
        info.deps.append((target, where))
    if kind == "drift" and not isinstance(other.raw.get("expect"), dict):
        return [
            Finding(
                where,
                f"drift check {info.name!r} has nothing to compare: "
                f"sync step {target!r} has no expect:",
                f"add expect: {{streams: ...}} to sync step {target!r}",
            )
        ]
    return []


def _sync_each(here: Path, info: _StepInfo, roles: list[str]) -> list[Finding]:
    """Overrides must name connections the selection can match (checked offline against
    the name globs; ``validate --online`` checks them against Airbyte), with known owners."""
    overrides = info.raw.get("overrides")
    if not isinstance(overrides, dict):
        return []
    select = info.raw.get("select")
    names = select.get("name") if isinstance(select, dict) else None
    patterns = [names] if isinstance(names, str) else names if isinstance(names, list) else []
    patterns = [p for p in patterns if isinstance(p, str)] or ["*"]
    found: list[Finding] = []
    for key, override in overrides.items():
        where = (*here, "overrides", key)
        if isinstance(override, dict):
            found += _owner_ref((*where, "owner"), override.get("owner"), roles)
        if not isinstance(key, str) or _UUID.fullmatch(key):
            continue
        if not any(fnmatch.fnmatchcase(key, p) for p in patterns):
            found.append(
                Finding(
                    where,
                    f"override for {key!r}, which select.name ({', '.join(patterns)}) "
                    "does not match",
                    "use the exact name of a selected connection, or widen select.name",
                )
            )
    return found


_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def _warehouses(here: Path, info: _StepInfo, warehouses: list[str]) -> list[Finding]:
    specs: list[tuple[Path, Any]] = []
    if info.kind in ("sync", "sync_each") and "counts" in info.raw:
        specs.append(((*here, "counts"), info.raw["counts"]))
    overrides = info.raw.get("overrides") if info.kind == "sync_each" else None
    if isinstance(overrides, dict):
        for key, override in overrides.items():
            if isinstance(override, dict) and "counts" in override:
                specs.append(((*here, "overrides", key, "counts"), override["counts"]))
    if info.kind == "check":
        for kind in ("sql", "counts"):
            if kind in info.raw:
                specs.append(((*here, kind), info.raw[kind]))
    found = []
    for where, spec in specs:
        if not isinstance(spec, dict):
            continue
        name = spec.get("warehouse")
        if name is None:
            if len(warehouses) != 1:
                why = (
                    "no warehouses are declared"
                    if not warehouses
                    else "several warehouses are declared"
                )
                fix = (
                    "declare one: warehouses: {main: {url: duckdb:///warehouse.duckdb}}"
                    if not warehouses
                    else f"add `warehouse:` (one of: {', '.join(warehouses)})"
                )
                found.append(Finding((*where, "warehouse"), f"which warehouse? {why}", fix))
        elif isinstance(name, str) and name not in warehouses:
            close = did_you_mean(name, warehouses)
            hint = did_you_mean_hint(close)
            fix = (
                f"use one of: {', '.join(warehouses)}"
                if warehouses
                else "declare it under warehouses:"
            )
            found.append(Finding((*where, "warehouse"), f"unknown warehouse {name!r}{hint}", fix))
    return found


_FLAG = re.compile(r"--?([A-Za-z0-9][A-Za-z0-9_.-]*)(?:=(.*))?")


def _argv(here: Path, info: _StepInfo) -> list[Finding]:
    section = info.raw.get(info.kind)
    key = {"command": "argv", "spark": "args"}.get(info.kind)
    if key is None or not isinstance(section, dict) or not isinstance(section.get(key), list):
        return []
    args = section[key]
    found = []
    env_fix = "pass it through env: (env: {API_TOKEN: env:API_TOKEN}) and read it in the program"
    for j, arg in enumerate(args):
        if not isinstance(arg, str):
            continue
        where = (*here, info.kind, key, j)
        flag = _FLAG.fullmatch(arg)
        nxt = args[j + 1] if j + 1 < len(args) else None
        if looks_like_reference_attempt(arg):
            found.append(
                Finding(
                    where,
                    "a secret reference in argv would put the secret on the command line",
                    env_fix,
                )
            )
        elif literal_secret_reason("", arg):
            found.append(
                Finding(where, "literal secret in argv (visible to every local user)", env_fix)
            )
        elif flag and is_secret_key(flag.group(1)) and (flag.group(2) or _is_value(nxt)):
            found.append(
                Finding(
                    where,
                    f"literal secret in argv: {arg.split('=')[0]} takes a secret value",
                    env_fix,
                )
            )
    return found


def _is_value(arg: Any) -> bool:
    """A plain argument that would be a flag's value (not another flag, not a reference)."""
    return (
        isinstance(arg, str) and not arg.startswith("-") and not looks_like_reference_attempt(arg)
    )


# --- cycles -------------------------------------------------------------------------------


def _cycles(infos: list[_StepInfo]) -> list[Finding]:
    by_name = {s.name: s for s in infos}
    graph = {s.name: [d for d, _ in s.deps if d in by_name and d != s.name] for s in infos}
    found = []
    for component in _strongly_connected(graph):
        if len(component) < 2:
            continue
        start = min(component, key=lambda n: by_name[n].index)
        cycle = _cycle_through(start, graph, set(component))
        where = dict(by_name[start].deps)[cycle[1]]
        found.append(
            Finding(
                where,
                "dependency cycle: " + " → ".join(cycle) + " (each step waits for the next)",
                "remove one of these dependencies so the steps can run in order",
            )
        )
    return found


def _strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative-enough for pipeline sizes (recursion depth = steps)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            out.append(component)

    for node in graph:
        if node not in index:
            visit(node)
    return out


def _cycle_through(start: str, graph: dict[str, list[str]], members: set[str]) -> list[str]:
    """A shortest cycle start -> ... -> start inside one strongly connected component."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for nxt in graph[node]:
                if nxt not in members:
                    continue
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if nxt not in parents:
                    parents[nxt] = node
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    return [start, start]
