"""Run records for steps started by plain Luigi (``luigi --module``), not ``run``.

Such a process has no run service around it, so no end to close a run at: each step
closes the run record when it ends (a killed process's run is reaped as usual), and the
next step of the same pipeline and date in the process opens that record again. One
``PipelineTask`` is one run, whose exit code is the lowest of its failed steps' (as a
``luigi-airbyte run``'s is), not one run per step.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

from luigi_airbyte.app.identity import acting_identity
from luigi_airbyte.app.run_record import RunHandle, open_run, reap_abandoned
from luigi_airbyte.app.step_context import StepContext
from luigi_airbyte.exit_codes import for_run

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime


class LuigiRuns:
    """The run records of one process's plain-Luigi steps, one per pipeline and date."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._handles: dict[tuple[str, date], RunHandle] = {}
        self._failed: dict[str, list[int]] = {}  # run id -> its failed steps' exit codes

    def ensure(self, ctx: StepContext) -> StepContext:
        """``ctx`` with its run: its own (``run``), else this process's record for its
        pipeline and date, opened (or opened again) for the step."""
        if ctx.run_id:
            return ctx
        key = (ctx.pipeline, ctx.run_date)
        handle = self._handles.get(key)
        if handle is None or handle.finished:
            store = self.rt.store()
            if handle is None:
                reap_abandoned(store)
            handle = self._handles[key] = open_run(
                store,
                ctx.pipeline,
                ctx.run_date,
                argv=sys.argv,
                scheduler="luigi",
                identity=acting_identity(self.rt),
                run_id=handle.run_id if handle is not None else None,  # its next step
            )
        return replace(ctx, run_id=handle.run_id)

    def _handle(self, ctx: StepContext) -> RunHandle | None:
        if not ctx.run_id:
            return None
        return next((h for h in self._handles.values() if h.run_id == ctx.run_id), None)

    def owns(self, ctx: StepContext) -> bool:
        """Whether ``ctx``'s run is one of these (no ``run`` command around the step)."""
        return self._handle(ctx) is not None

    def step_ended(self, ctx: StepContext, code: int) -> None:
        """Close the run after a step, with the code of all its steps so far."""
        handle = self._handle(ctx)
        if handle is None or handle.finished:
            return
        failed = self._failed.setdefault(handle.run_id, [])
        if code:
            failed.append(code)
        run_code = for_run(succeeded=not failed, failed_step_codes=failed)
        handle.finish("succeeded" if run_code == 0 else "failed", run_code)
