"""One benchmark's section of RESULTS.md, kept between its ``<!-- name: begin/end -->``
markers: replaced in place when present, appended otherwise."""

from __future__ import annotations

from pathlib import Path


def write_section(results: Path, begin: str, end: str, section: str) -> None:
    """Put ``section`` (which starts with ``begin`` and ends with ``end``) into ``results``."""
    old = results.read_text(encoding="utf-8") if results.exists() else ""
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + section + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + section + "\n"
    results.write_text(new, encoding="utf-8")
