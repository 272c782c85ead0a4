"""Names the Airbyte API itself defines, declared once.

The file model (a stream's ``sync_mode``), the client (which notification kinds a webhook
payload may be), the drift check (a sync mode's label in the Airbyte UI) and the sandbox
(which sync modes a world may declare and how the Config API splits them, which
notification kinds a workspace has) all speak Airbyte's vocabulary; these are its words, not any
layer's models, so every package may import them (like ``errors.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, NamedTuple, get_args

#: A stream's sync mode, as the Public API names it (``syncMode`` of a StreamConfiguration).
SyncMode = Literal[
    "full_refresh_overwrite",
    "full_refresh_overwrite_deduped",
    "full_refresh_append",
    "full_refresh_update",
    "full_refresh_soft_delete",
    "incremental_append",
    "incremental_deduped_history",
    "incremental_update",
    "incremental_soft_delete",
]
SYNC_MODES: tuple[str, ...] = get_args(SyncMode)


class SyncModeParts(NamedTuple):
    """How the Config API splits a sync mode, and how the Airbyte UI labels it."""

    sync_mode: str  # the Config API's ``syncMode``: full_refresh or incremental
    destination_sync_mode: str  # its ``destinationSyncMode``
    label: str


#: Each sync mode of `SYNC_MODES`, in that order, split and labelled.
SYNC_MODE_PARTS: Mapping[str, SyncModeParts] = {
    "full_refresh_overwrite": SyncModeParts(
        "full_refresh", "overwrite", "Full refresh | Overwrite"
    ),
    "full_refresh_overwrite_deduped": SyncModeParts(
        "full_refresh", "overwrite_dedup", "Full refresh | Overwrite + Deduped"
    ),
    "full_refresh_append": SyncModeParts("full_refresh", "append", "Full refresh | Append"),
    "full_refresh_update": SyncModeParts("full_refresh", "update", "Full refresh | Update"),
    "full_refresh_soft_delete": SyncModeParts(
        "full_refresh", "soft_delete", "Full refresh | Soft delete"
    ),
    "incremental_append": SyncModeParts("incremental", "append", "Incremental | Append"),
    "incremental_deduped_history": SyncModeParts(
        "incremental", "append_dedup", "Incremental | Append + Deduped"
    ),
    "incremental_update": SyncModeParts("incremental", "update", "Incremental | Update"),
    "incremental_soft_delete": SyncModeParts(
        "incremental", "soft_delete", "Incremental | Soft delete"
    ),
}

#: The keys of a workspace's ``notifications`` (NotificationsConfig), in the spec's order.
NOTIFICATION_KINDS = (
    "failure",
    "success",
    "connectionUpdate",
    "connectionUpdateActionRequired",
    "syncDisabled",
    "syncDisabledWarning",
)

__all__ = ["NOTIFICATION_KINDS", "SYNC_MODES", "SYNC_MODE_PARTS", "SyncMode", "SyncModeParts"]
