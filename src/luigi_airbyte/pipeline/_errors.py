"""Turn pydantic's errors into `Finding`s that name the field as written in the file.

Pydantic's error locations contain union tags (``steps.0.sync.connection``); walking
the model types alongside the location strips them and finds the model that owns each
key, which is where "did you mean" suggestions come from. Messages never echo a value
under a secret-looking key.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from luigi_airbyte.pipeline._steps import STEP_CLASSES, STEP_KINDS, Step
from luigi_airbyte.pipeline._suggest import Segment, did_you_mean, render_path
from luigi_airbyte.pipeline._suggest import hint as did_you_mean_hint
from luigi_airbyte.pipeline._types import describe
from luigi_airbyte.secrets import is_secret_key, looks_like_literal_secret


@dataclass(frozen=True)
class Finding:
    """A problem located by path segments; the loader adds the file and the line."""

    segments: tuple[Segment, ...]
    message: str
    fix: str
    kind: str = ""  # "missing" / "unknown_key" let the loader merge a typo with its twin
    renames_to: str | None = None

    @property
    def field(self) -> str:
        return render_path(self.segments) or "(file)"


def _unwrap(tp: Any) -> Any:
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
            continue
        if _is_union(tp):
            members = [m for m in get_args(tp) if m is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _tag_of(member: Any) -> set[str]:
    model = _unwrap(member)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return set()
    kind = getattr(model, "kind", "")
    if isinstance(kind, str) and kind:
        return {kind}
    field = model.model_fields.get("type")
    if field is not None and get_origin(field.annotation) is not None:
        return {str(a) for a in get_args(field.annotation)}
    return set()


def _field(model: type[BaseModel], key: Segment) -> Any:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return info.annotation
    return Any


def allowed_keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def walk_loc(root: type[BaseModel], loc: tuple[Segment, ...]) -> tuple[tuple[Segment, ...], Any]:
    """File path segments for a pydantic ``loc``, and the model owning the last key."""
    tp: Any = root
    out: list[Segment] = []
    owner: Any = None
    for seg in loc:
        if seg == "[key]":  # pydantic's mark of a bad dict key: the key is already there
            continue
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            owner = tp
            out.append(seg)
            tp = _field(tp, seg)
        elif _is_union(tp):
            match = next((m for m in get_args(tp) if str(seg) in _tag_of(m)), None)
            tp = match if match is not None else Any  # a union tag is not part of the path
        elif get_origin(tp) in (list, tuple):
            out.append(seg)
            tp = get_args(tp)[0] if get_args(tp) else Any
        elif get_origin(tp) is dict:
            out.append(seg)
            tp = get_args(tp)[1] if get_args(tp) else Any
        else:
            out.append(seg)
            tp = Any
    return tuple(out), owner


def value_at(data: Any, segments: tuple[Segment, ...]) -> Any:
    """The raw value at a path, or None when it does not exist."""
    node = data
    for seg in segments:
        in_list = isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node)
        if not in_list and not (isinstance(node, dict) and seg in node):
            return None
        node = node[seg]
    return node


# What a value of the wrong type should have been, and the fix, for each of pydantic's
# error types that mean it (``int_parsing`` and ``int_from_float`` are both "not a whole number").
_WRONG_TYPE: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("string_type",), "a string", "quote the value"),
    (
        ("int_type", "int_parsing", "int_from_float"),
        "a whole number",
        "write a whole number, e.g. 4",
    ),
    (("bool_type", "bool_parsing"), "true or false", "write true or false"),
    (("float_type", "float_parsing"), "a number", "write a number"),
    (("list_type", "tuple_type"), "a list", "write a list, e.g. [a, b]"),
    (
        ("dict_type", "model_type", "model_attributes_type"),
        "a mapping",
        "write key: value pairs under this key",
    ),
)
_EXPECTED = {kind: (expected, fix) for kinds, expected, fix in _WRONG_TYPE for kind in kinds}
_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}
MISSING_FIX = {
    "version": "add `version: 1` at the top of the file",
    "pipelines": "add a `pipelines:` mapping with at least one pipeline",
    "owner": "add `owner: <role>` naming a role declared under `owners:`",
    "connection": "add `connection:` with the Airbyte connection's name or id",
    "steps": "add `steps:` with at least one step",
    "type": "add `type:` (client_credentials, oidc, bearer, basic or none)",
}


def _safe(segments: tuple[Segment, ...], value: Any) -> str:
    key = next((str(s) for s in reversed(segments) if isinstance(s, str)), "")
    if is_secret_key(key) or looks_like_literal_secret(key, value):
        return "a value" if not isinstance(value, (dict, list)) else describe(value)
    return describe(value)


def _step_kind_message(raw: Any) -> tuple[str, str]:
    kinds = ", ".join(STEP_KINDS)
    if not isinstance(raw, dict):
        return (
            f"a step must be a mapping, got {describe(raw)}",
            f"start the step with one of: {kinds}",
        )
    present = [k for k in STEP_KINDS if k in raw]
    if len(present) > 1:
        return (
            f"a step has several kinds ({', '.join(present)}); each step has exactly one",
            "split it into separate steps",
        )
    common = set().union(*(allowed_keys(c) for c in STEP_CLASSES.values()))
    for key in raw:
        if not isinstance(key, str) or key in common:
            continue
        close = did_you_mean(key, STEP_KINDS)
        if close:
            return (
                f"unknown step kind {key!r}; did you mean {close!r}?",
                f"rename {key!r} to {close!r}",
            )
        return f"unknown step kind {key!r}", f"start the step with one of: {kinds}"
    return "the step has no kind", f"start the step with one of: {kinds}"


def finding_from_error(root: type[BaseModel], data: Any, err: ErrorDetails) -> Finding:
    """One pydantic error as a `Finding` with a human message and a fix."""
    segments, owner = walk_loc(root, tuple(err["loc"]))
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    last = segments[-1] if segments else ""
    value = err.get("input")
    if kind == "missing":
        fix = MISSING_FIX.get(str(last), f"add `{last}:`")
        return Finding(segments, f"missing required key {last!r}", fix, kind="missing")
    if kind == "extra_forbidden":
        return _unknown_key(segments, owner, str(last))
    if kind == "step_kind":
        message, fix = _step_kind_message(value_at(data, segments))
        return Finding(segments, message, fix)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _bad_tag(segments, ctx)
    if "fix" in ctx:  # our own PydanticCustomError
        return Finding(segments, err["msg"], str(ctx["fix"]))
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        options = [
            o.strip().strip("'") for o in expected.replace(" or ", ",").split(",") if o.strip()
        ]
        close = did_you_mean(str(value), options) if isinstance(value, str) else None
        hint = did_you_mean_hint(close)
        return Finding(
            segments, f"{_safe(segments, value)} is not allowed{hint}", f"use one of: {expected}"
        )
    if kind in _EXPECTED:
        expected, fix = _EXPECTED[kind]
        return Finding(segments, f"expected {expected}, got {_safe(segments, value)}", fix)
    if kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        limit = ctx.get(key)
        return Finding(
            segments, f"{_safe(segments, value)} must be {op} {limit}", f"use a value {op} {limit}"
        )
    if kind == "too_short":
        return _too_short(segments, int(ctx.get("min_length", 1)))
    if kind == "string_pattern_mismatch":
        return Finding(
            segments, f"{_safe(segments, value)} has the wrong form", f"match {ctx.get('pattern')}"
        )
    return Finding(segments, err["msg"], "see `luigi-airbyte schema` for the expected shape")


def _too_short(segments: tuple[Segment, ...], n: int) -> Finding:
    last = str(segments[-1]) if segments else ""
    if last == "query":
        return Finding(segments, "the query is empty", "write the SQL to run")
    return Finding(segments, f"needs at least {n} item{'s' if n != 1 else ''}", f"add at least {n}")


def _unknown_key(segments: tuple[Segment, ...], owner: Any, key: str) -> Finding:
    allowed = (
        allowed_keys(owner) if isinstance(owner, type) and issubclass(owner, BaseModel) else []
    )
    if (
        isinstance(owner, type)
        and issubclass(owner, Step)
        and key == "name"
        and "name" not in allowed
    ):
        return Finding(
            segments,
            f"a {owner.kind} step is named by its `{owner.kind}:` value, not by `name:`",
            f"remove `name:` and write `{owner.kind}: <name>`",
        )
    close = did_you_mean(key, allowed)
    if close:
        return Finding(
            segments,
            f"unknown key {key!r}; did you mean {close!r}?",
            f"rename it to {close!r}",
            kind="unknown_key",
            renames_to=close,
        )
    listed = ", ".join(sorted(allowed)) or "none"
    return Finding(segments, f"unknown key {key!r}", f"remove it; allowed keys here: {listed}")


def _bad_tag(segments: tuple[Segment, ...], ctx: dict[str, Any]) -> Finding:
    expected = [
        t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip()
    ]
    options = ", ".join(expected) or "client_credentials, oidc, bearer, basic, none"
    tag = ctx.get("tag")
    path = (*segments, "type")
    if tag is None:
        return Finding(path, "missing required key 'type'", f"add `type:` (one of: {options})")
    close = did_you_mean(str(tag), expected)
    hint = did_you_mean_hint(close)
    return Finding(path, f"unknown type {str(tag)[:40]!r}{hint}", f"use one of: {options}")


def findings_from_validation_error(
    root: type[BaseModel], data: Any, exc: ValidationError
) -> list[Finding]:
    return [finding_from_error(root, data, e) for e in exc.errors()]
