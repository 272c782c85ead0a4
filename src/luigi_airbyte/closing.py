"""``Closing``: ``with thing:`` closes ``thing`` on the way out, for any class with ``close()``.

The one copy of the ``__enter__``/``__exit__`` pair that the client, the event bus, the
store and the warehouses share. It sits below every package, like ``errors``.
"""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

_C = TypeVar("_C", bound="Closing")


class Closing:
    """Mixin: ``__enter__`` returns the object, ``__exit__`` calls its ``close()``."""

    def close(self) -> object:
        raise NotImplementedError

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
