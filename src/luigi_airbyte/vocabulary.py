"""Names the Airbyte API itself defines, declared once.

The file model (a stream's ``sync_mode``), the client (which notification kinds a webhook
payload may be) and the sandbox (which sync modes a world may declare, which notification
kinds a workspace has) all speak Airbyte's vocabulary; these are its words, not any
layer's models, so every package may import them (like ``errors.py``).
"""

from __future__ import annotations

from typing import Literal, get_args

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

#: The keys of a workspace's ``notifications`` (NotificationsConfig), in the spec's order.
NOTIFICATION_KINDS = (
    "failure",
    "success",
    "connectionUpdate",
    "connectionUpdateActionRequired",
    "syncDisabled",
    "syncDisabledWarning",
)

__all__ = ["NOTIFICATION_KINDS", "SYNC_MODES", "SyncMode"]
