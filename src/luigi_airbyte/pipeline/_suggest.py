"""Did-you-mean suggestions and field-path rendering shared by every validator."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from difflib import get_close_matches

Segment = str | int
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to ``word`` (case-insensitive), or None if nothing is close."""
    pool = [c for c in candidates if isinstance(c, str)]
    lowered = {c.lower(): c for c in pool}
    match = get_close_matches(str(word).lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def hint(close: str | None) -> str:
    """``; did you mean 'x'?`` to append to a message, or nothing without a suggestion."""
    return f"; did you mean {close!r}?" if close else ""


def render_path(segments: Sequence[Segment]) -> str:
    """``("pipelines", "n", "steps", 2, "after", 0)`` -> ``pipelines.n.steps[2].after[0]``."""
    out = ""
    for seg in segments:
        out = render_child(out, seg)
    return out


def render_child(rendered: str, seg: Segment) -> str:
    """``render_path((*path, seg))`` from ``rendered = render_path(path)``."""
    if isinstance(seg, int):
        return f"{rendered}[{seg}]"
    if _PLAIN_KEY.fullmatch(seg):
        return f"{rendered}.{seg}" if rendered else seg
    return rendered + '["' + seg.replace("\\", "\\\\").replace('"', '\\"') + '"]'


_SCHEME_LIKE = re.compile(r"([A-Za-z][A-Za-z0-9-]{0,7}):(?!//)\S")


def mistyped_scheme(value: object, schemes: Iterable[str]) -> tuple[str, str] | None:
    """``("envv", "env")`` when ``value`` starts with a near miss of one of ``schemes``.

    Only the scheme is returned: what follows it may be a secret and is never shown.
    """
    if not isinstance(value, str):
        return None
    match = _SCHEME_LIKE.match(value)
    if match is None:
        return None
    written = match.group(1)
    pool = list(schemes)
    if written in pool:
        return None
    close = did_you_mean(written, pool)
    return (written, close) if close else None
