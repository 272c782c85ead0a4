"""Luigi's scheduling as one pass of each executor's (``StepExecutor.scheduling_pass``).

While Luigi's worker adds the graph, nothing it adds has run yet, yet it asks every task
twice whether it is complete (the root's ``complete()`` asks all steps, then Luigi asks
each) and once for its retry policy. Outside a pass each answer read the store: a
ledger query, a rejection lookup and three queries for the policy, ~6 ms per task in
the run process before the first task could start. Our worker (``tasks/build.py``)
holds a pass from its first ``add`` until ``run``: every executor a task asks joins it
(``join``), answers from its batch, and writes the pass's skip notes in one
transaction when it ends. Outside a pass (a task reporting its end, a retry) each task
reads the store itself: its own attempt may have changed it.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from luigi_airbyte.app.execute import StepExecutor

_local = threading.local()


def start_pass() -> None:
    """Luigi's worker begins adding tasks on this thread (kept if a pass is under way)."""
    if getattr(_local, "stack", None) is None:
        _local.stack, _local.joined = ExitStack(), set()


def end_pass() -> None:
    """The pass ends: each joined executor writes its skip notes."""
    stack: ExitStack | None = getattr(_local, "stack", None)
    _local.stack, _local.joined = None, set()
    if stack is not None:
        stack.close()


def join(executor: StepExecutor) -> StepExecutor:
    """Enter ``executor``'s pass for the rest of this one, if one is under way."""
    stack: ExitStack | None = getattr(_local, "stack", None)
    if stack is not None and id(executor) not in _local.joined:
        _local.joined.add(id(executor))
        stack.enter_context(executor.scheduling_pass())
    return executor
