"""Luigi imported without the optional packages a run does not use from it.

``import luigi`` took ~0.18 s here, half of it for packages Luigi imports only if they
are installed (``try: import ... except ImportError``), for features a run of ours does
not use:

- ``jsonschema`` (``luigi.parameter``): to validate a ``DictParameter`` or
  ``ListParameter`` given a ``schema``; none of our tasks gives one;
- ``tornado`` (``tenacity``, which ``luigi.rpc`` imports): to retry tornado coroutines;
  Luigi retries plain calls;
- ``requests`` and ``requests_unixsocket`` (``luigi.rpc``): the client of a central
  scheduler. With Luigi's local scheduler there is none; under luigid they stay, as the
  better of Luigi's two clients (the other opens a connection per call).

While the ``run`` command imports Luigi, those packages look absent to the importing
thread (``absent``): Luigi's import took 85 ms instead of 176 (local scheduler), 124 ms
under luigid (medians of 9, ``python -c``). Other threads, busy meanwhile (the prefetch's
requests may resolve a ``vault:`` credential, whose client imports ``requests``), import
them as usual, and so does everyone once the block ends; only the modules imported within
it (Luigi's, and ``tenacity``: no other then asks for them) keep the answer "not
installed".

Only in a process that allowed it (`allow`: the ``luigi-airbyte`` console script); a test
or an embedding program calling the same code keeps Luigi's full import.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType

LUIGI_UNUSED = ("jsonschema", "tornado")
"""Optional packages of Luigi's that no run uses."""
LUIGI_UNUSED_LOCAL = (*LUIGI_UNUSED, "requests_unixsocket", "requests")
"""The same with Luigi's local scheduler: no central scheduler's client either."""

_allowed = False


def allow() -> None:
    """Let `absent` hide packages in this process (called by the console script only)."""
    global _allowed
    _allowed = True


def luigi_unused(*, remote_scheduler: bool) -> tuple[str, ...]:
    """The packages a run's import of Luigi may do without."""
    return LUIGI_UNUSED if remote_scheduler else LUIGI_UNUSED_LOCAL


class _Hide:
    """A finder first on ``sys.meta_path`` (an ``importlib.abc.MetaPathFinder``, without
    importing that module): "not installed" for ``names`` (and their submodules), to one
    thread. A module already imported never reaches a finder. It raises rather than
    answer ``None`` (which would let the next finder find it), so in that thread
    ``importlib.util.find_spec`` of a hidden name raises too: nothing Luigi's import runs
    asks that way."""

    def __init__(self, names: Sequence[str], thread: int) -> None:
        self.names = frozenset(names)
        self.thread = thread

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if threading.get_ident() == self.thread and fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None  # someone else's: the next finder looks


@contextmanager
def absent(names: Sequence[str]) -> Iterator[None]:
    """In the block, this thread's imports of ``names`` not yet imported raise
    ``ModuleNotFoundError``, as if they were not installed; other threads' do not, nor any
    after the block. A no-op unless `allow` was called."""
    if not _allowed or not names:
        yield
        return
    finder = _Hide(names, threading.get_ident())
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


__all__ = ["LUIGI_UNUSED", "LUIGI_UNUSED_LOCAL", "absent", "allow", "luigi_unused"]
