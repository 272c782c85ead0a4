"""`SecretValue`: a resolved secret that cannot end up in a log line by accident.

It is deliberately *not* a ``str`` subclass: a subclass leaks through concatenation,
``json.dumps`` and C-level formatting even when ``__str__`` is masked. Code that needs
the text must call `reveal()`, which makes every use visible in review.
"""

from __future__ import annotations

import hmac
from typing import NoReturn

MASK = "****"


class SecretValue:
    """A secret string whose ``str``/``repr``/``format`` are masked; `reveal()` returns it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("SecretValue wraps a str")
        self._value = value

    def reveal(self) -> str:
        """The secret itself. Pass it straight to the code that needs it; never log it."""
        return self._value

    def __repr__(self) -> str:
        return f"SecretValue('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((SecretValue, self._value))

    def __reduce__(self) -> NoReturn:
        # Pickling would ship the secret to another process (luigid, multiprocessing).
        raise TypeError("SecretValue cannot be pickled; pass the SecretRef and resolve it there")
