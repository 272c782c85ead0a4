"""The Airbyte vocabulary is declared once: each table keyed by sync mode covers them all."""

from __future__ import annotations

from luigi_airbyte.checks.drift import SYNC_MODE_LABELS
from luigi_airbyte.sandbox.views import MODE_PAIRS
from luigi_airbyte.vocabulary import SYNC_MODE_PARTS, SYNC_MODES


def test_every_sync_mode_is_split_and_labelled_in_order() -> None:
    assert tuple(SYNC_MODE_PARTS) == SYNC_MODES
    for mode, parts in SYNC_MODE_PARTS.items():
        assert parts.sync_mode in ("full_refresh", "incremental")
        assert mode.startswith(parts.sync_mode)


def test_the_sandbox_and_the_drift_check_read_the_same_table() -> None:
    assert MODE_PAIRS["incremental_deduped_history"] == ("incremental", "append_dedup")
    assert MODE_PAIRS["full_refresh_overwrite_deduped"] == ("full_refresh", "overwrite_dedup")
    assert SYNC_MODE_LABELS["incremental_deduped_history"] == "Incremental | Append + Deduped"
    assert set(MODE_PAIRS) == set(SYNC_MODE_LABELS) == set(SYNC_MODES)
