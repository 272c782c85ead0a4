"""OpenLineage events for one step execution (START, then COMPLETE or FAIL)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from luigi_airbyte.app.step_context import StepContext

logger = logging.getLogger(__name__)


class StepLineage:
    """OpenLineage START/COMPLETE/FAIL for one step execution; a no-op when not configured.

    OpenLineage wants a UUID per run of a job; ours is derived from the run id and step so
    the three events of one step execution share it.
    """

    def __init__(self, emitter: Any, ctx: StepContext, kind: str) -> None:
        self.emitter = emitter
        self.kind = kind
        self.args = {
            "run_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ctx.run_id}/{ctx.step}")),
            "pipeline": ctx.pipeline,
            "step": ctx.step,
            "step_type": kind,
        }

    def _send(self, method: str, outcome: Mapping[str, Any] | None, **extra: Any) -> None:
        if self.emitter is None:
            return
        inputs, outputs = (outcome or {}).get("lineage", ((), ()))
        try:
            getattr(self.emitter, method)(**self.args, inputs=inputs, outputs=outputs, **extra)
        except Exception as exc:  # noqa: BLE001 - lineage must never fail a step
            logger.warning(
                "OpenLineage %s event for %s not sent: %s", method, self.args["step"], exc
            )

    def start(self) -> None:
        self._send("start", None)

    def complete(self, outcome: Mapping[str, Any]) -> None:
        self._send("complete", outcome)

    def fail(self, error: str, outcome: Mapping[str, Any]) -> None:
        self._send("fail", outcome, error=error)
