"""The garbage collector during a run's start-up: paused, then frozen and resumed.

Start-up (importing the library, loading the file, building one Luigi task per step, the
scheduling pass) allocates a heap that lives until the run ends, with almost no cyclic
garbage; the collector walked it again and again as it grew: ~30 ms of a fully fresh run
of 1,000 syncs (38 young and 3 middle collections). The ``run`` command pauses the
collector for its start-up (`pause`) and `resume` ends the pause where start-up ends:

- the run's first scheduling pass ended (``StepExecutor.scheduling_pass``);
- before any fork (Luigi's task processes): the pattern of Python's ``gc.freeze``
  documentation, so a child shares its parent's heap instead of copying it on write;
- the command ended, whatever happened (``execute_run``'s ``finally``).

`resume` freezes what start-up built (``gc.freeze``: the collector never walks it again)
and turns the collector back on for the rest of the run, which may last hours. Cyclic
garbage made during the pause stays with the frozen heap until the process exits: at
start-up there is little (~2 MB for 1,000 steps). Only a pause this module made is
resumed: a process whose collector was already off keeps it off.

Pauses happen only in a process that allowed them (`allow_pauses`: the ``luigi-airbyte``
console script); a test or an embedding program calling the same code is left alone.
"""

from __future__ import annotations

import functools
import gc
import os
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")

_lock = threading.Lock()
_allowed = False
_paused = False


def allow_pauses() -> None:
    """Let `pause` pause this process's collector (called by the console script only)."""
    global _allowed
    _allowed = True


def pause() -> None:
    """Turn the collector off until `resume`, if pauses are allowed and it is on (a no-op
    otherwise)."""
    global _paused
    with _lock:
        if _allowed and not _paused and gc.isenabled():
            gc.disable()
            _paused = True


def resume() -> None:
    """End a pause made by `pause`: freeze the heap built so far, turn the collector on."""
    global _paused
    with _lock:
        if not _paused:
            return
        _paused = False
        gc.freeze()
        gc.enable()


def paused_start_up(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``fn`` with the collector paused (`pause`) until start-up ends, and resumed when
    ``fn`` returns or raises at the latest."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        pause()
        try:
            return fn(*args, **kwargs)
        finally:
            resume()

    return wrapper


def paused() -> bool:
    """Whether a pause made by `pause` is in effect."""
    return _paused


os.register_at_fork(before=resume)

__all__ = ["allow_pauses", "pause", "paused", "paused_start_up", "resume"]
