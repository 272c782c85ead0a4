"""``AirbyteSyncTask``: one Airbyte connection synced once per run date (or interval)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import luigi

from luigi_airbyte.app.execute import StepContext, SyncRequest
from luigi_airbyte.tasks.base import StepTask, _Reporter
from luigi_airbyte.tasks.context import runtime_for


class AirbyteSyncTask(StepTask):
    """Sync an Airbyte connection, unless its data is already fresh.

    Usable on its own::

        luigi --module luigi_airbyte.tasks AirbyteSyncTask \\
            --connection "Postgres CRM → Warehouse" --freshness 6h --local-scheduler

    Settings (URL, auth *references*) come from ``[airbyte]`` in luigi.cfg and
    ``LUIGI_AIRBYTE_*`` variables; inside a pipeline they come from the pipeline file.
    """

    connection = luigi.Parameter(description="Connection id, or its name in the workspace.")
    freshness = luigi.Parameter(
        default="", description="Skip when the last succeeded sync ended within this (e.g. 6h)."
    )

    @property
    def resources(self) -> dict[str, int]:  # type: ignore[override]
        """One unit of the Airbyte instance's resource, so luigid caps concurrent syncs."""
        return {runtime_for(str(self.pipeline_file)).airbyte_resource(): 1}

    def context(self) -> StepContext:
        """Outside a pipeline the step is named after the connection it syncs."""
        ctx = super().context()
        return ctx if ctx.step else replace(ctx, step=str(self.connection))

    def request(self) -> SyncRequest:
        return SyncRequest(connection=str(self.connection), freshness=str(self.freshness))

    def complete(self) -> bool:
        return self.executor().sync_is_complete(self.context(), self.request())

    def run(self) -> None:
        self.executor().run_sync(self.context(), self.request(), reporter=_Reporter(self))

    def _node_or_none(self) -> Any:
        return None if self.pipeline == "adhoc" else super()._node_or_none()
