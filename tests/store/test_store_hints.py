"""The webhook_hints table (migration 6): one row per connection and job, read by cursor."""

from __future__ import annotations

from luigi_airbyte.store import Store

CONN = "9f3c1c5e-1111-4a5b-9c2d-000000000001"
OTHER = "9f3c1c5e-1111-4a5b-9c2d-000000000002"


def test_a_hint_is_recorded_once_per_connection_and_job(store: Store) -> None:
    assert store.record_hint(CONN, 7) is True
    assert store.record_hint(CONN, 7) is False  # a replay
    assert store.record_hint(CONN.upper(), 7) is False  # the same id, other case
    assert store.record_hint(OTHER, 7) is True

    assert [(h.connection_id, h.job_id) for h in store.hints_after(0)] == [(CONN, 7), (OTHER, 7)]


def test_hints_after_reads_on_from_a_cursor(store: Store) -> None:
    for job in (1, 2, 3):
        store.record_hint(CONN, job)
    first = store.hints_after(0, limit=2)
    assert [h.job_id for h in first] == [1, 2]
    rest = store.hints_after(first[-1].id)
    assert [h.job_id for h in rest] == [3]
    assert store.hints_after(rest[-1].id) == []
    assert rest[0].received_at.tzinfo is not None
