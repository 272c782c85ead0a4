"""Offset pagination for the public API's list endpoints.

Airbyte's ``next`` link is non-empty whenever a page has data, even the last, short
page, so following it costs an extra request at best and loops at worst. The stop rule
is ours: stop when a page is empty or shorter than the limit we asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

MAX_PAGE_SIZE = 100

FetchPage = Callable[[int, int], Sequence[Mapping[str, Any]]]


def check_page_size(page_size: int) -> int:
    """Airbyte accepts limits 1..100; reject anything else before a request is made."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
    return page_size


def paginate(
    fetch: FetchPage, *, page_size: int, max_items: int | None = None
) -> Iterator[Mapping[str, Any]]:
    """Yield items page by page until a short or empty page (or ``max_items``).

    Args:
        fetch: ``fetch(offset, limit)`` returns one page's ``data`` list.
        page_size: the limit sent with every request.
        max_items: stop after this many items (None: all).
    """
    check_page_size(page_size)
    if max_items is not None and max_items <= 0:
        return
    offset = 0
    yielded = 0
    while True:
        page = fetch(offset, page_size)
        for item in page:
            yield item
            yielded += 1
            if max_items is not None and yielded >= max_items:
                return
        if len(page) < page_size:
            return
        offset += len(page)
