"""Check results across runs: what a date's checks last said about a step."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import sqlalchemy as sa

from luigi_airbyte.store.run_records import CheckRecord
from luigi_airbyte.store.schema import check_results, runs

if TYPE_CHECKING:
    from luigi_airbyte.store.database import Store


def latest_checks(
    store: Store, pipeline: str, step_name: str, run_date: date
) -> tuple[CheckRecord, ...]:
    """The check results of ``step_name`` from the newest run of ``pipeline`` for
    ``run_date`` that recorded any (what a reload judges a load by)."""
    newest = (
        sa.select(check_results.c.run_id)
        .select_from(check_results.join(runs, runs.c.run_id == check_results.c.run_id))
        .where(
            (runs.c.pipeline == pipeline)
            & (runs.c.run_date == run_date)
            & (check_results.c.step_name == step_name)
        )
        .order_by(check_results.c.id.desc())
        .limit(1)
    )
    with store.read(f"look up the latest checks of step {step_name!r}") as conn:
        run_id = conn.execute(newest).scalar()
    if run_id is None:
        return ()
    return store.get_run(run_id).checks_for(step_name)
