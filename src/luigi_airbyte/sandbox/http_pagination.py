"""``next``/``previous`` links written the way Airbyte's server writes them, quirks included.

Airbyte builds both links with one mutable Micronaut ``UriBuilder`` (``PaginationMapper`` in
airbyte-server ``publicapi/mappers``; ``DefaultUriBuilder`` in micronaut-http). Read together,
they give links that clients in the wild have to cope with, so the sandbox reproduces them:

- ``next`` is ``<apiHost>/v1/<resource>?...&limit=L&offset=O+L`` whenever the page is
  non-empty (even a short last page) and ``""`` when it is empty.
- ``previous`` is ``""`` at offset 0, else the same URL with ``offset=max(O-L, 0)``. Because it
  reuses the builder after ``next`` appended ``limit``, it carries ``limit=L&limit=L`` whenever
  ``next`` was non-empty.
- A filter that was not given (``jobType`` on /jobs) still leaves an empty entry behind, which
  renders as a stray ``&`` (``/v1/jobs?&connectionId=...``).
- Values are form-encoded (``java.net.URLEncoder``), so comma-joined ``workspaceIds`` come out
  as ``a%2Cb``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*_")


def java_url_encode(text: str) -> str:
    """``URLEncoder.encode(text, UTF_8)``: like quote_plus, but '~' is escaped and '*' is not."""
    out: list[str] = []
    for byte in text.encode("utf-8"):
        if byte in _SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def _java_str(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def normalize_uuid(text: str) -> str:
    """How ``UUID.fromString(x).toString()`` prints an id; other strings pass through."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text


class UriBuilder:
    """The parts of Micronaut's DefaultUriBuilder that PaginationMapper relies on."""

    def __init__(self, base: str) -> None:
        self._base = base
        self._params: dict[str, list[str]] = {}

    def query_param(self, name: str, value: object | None) -> UriBuilder:
        """Append a value; ``None`` still registers the name (with no values)."""
        values = self._params.get(name, [])
        self._params[name] = [*values, *([] if value is None else [_java_str(value)])]
        return self

    def replace_query_param(self, name: str, value: object) -> UriBuilder:
        """Set the only value of ``name``, keeping its position."""
        self._params[name] = [_java_str(value)]
        return self

    def build(self) -> str:
        """Render like ``DefaultUriBuilder.buildQueryParams`` (including its stray '&')."""
        query = ""
        items = list(self._params.items())
        for index, (name, values) in enumerate(items):
            query += "&".join(f"{java_url_encode(name)}={java_url_encode(v)}" for v in values)
            if index < len(items) - 1:
                query += "&"
        return f"{self._base}?{query}" if query else self._base


def next_url(page: Sequence[Any], limit: int, offset: int, builder: UriBuilder) -> str:
    """``PaginationMapper.getNextUrl``."""
    if not page:
        return ""
    return builder.query_param("limit", limit).replace_query_param("offset", offset + limit).build()


def previous_url(limit: int, offset: int, builder: UriBuilder) -> str:
    """``PaginationMapper.getPreviousUrl``."""
    if offset == 0:
        return ""
    return (
        builder.query_param("limit", limit)
        .replace_query_param("offset", max(offset - limit, 0))
        .build()
    )


def page_response(
    items: Sequence[Any], limit: int, offset: int, builder: UriBuilder
) -> dict[str, Any]:
    """Slice ``items`` and wrap the page as ``{previous, next, data}`` (next is computed first)."""
    page = list(items[offset : offset + limit])
    nxt = next_url(page, limit, offset, builder)
    prev = previous_url(limit, offset, builder)
    return {"previous": prev, "next": nxt, "data": page}
