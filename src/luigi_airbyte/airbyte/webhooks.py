"""Airbyte's workspace sync notifications (webhooks): the settings and the payload.

Airbyte can POST to a URL when a sync of a workspace succeeds or fails: one attempt,
unsigned, Slack-formatted ``{"text", "blocks", "data"}`` where ``data`` is the
``SyncSummary`` (airbyte-api-notes.md section 9). The URL is set per workspace through
``PATCH /workspaces/{id}`` (``notifications.success`` / ``notifications.failure``, each
``{email: {enabled}, webhook: {enabled, url}}``).

``WebhookPayload.parse`` reads such a payload: tolerant of every field it does not need
(Airbyte adds fields), strict on the three it does (``data.connection.id``,
``data.jobId``, ``data.success``). A payload is a *hint* that a job ended, never proof:
whoever receives it confirms with Airbyte (``GET /jobs/{jobId}``, or the job's details).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from luigi_airbyte.vocabulary import NOTIFICATION_KINDS

SYNC_KINDS = ("success", "failure")

_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class WebhookPayloadError(ValueError):
    """A payload that is not Airbyte's sync notification; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class WebhookHint:
    """What a sync notification claims: job ``job_id`` of ``connection_id`` ended."""

    connection_id: str
    job_id: int
    success: bool


@dataclass(frozen=True, slots=True)
class WebhookPayload:
    """Airbyte's sync notification, read once at the boundary (see module docstring)."""

    hint: WebhookHint
    workspace_id: str | None = None
    connection_name: str | None = None
    records_committed: int | None = None
    bytes_committed: int | None = None
    error_message: str | None = None

    @classmethod
    def parse(cls, raw: bytes | str | Mapping[str, Any]) -> WebhookPayload:
        """Read a payload (bytes, text or a decoded object).

        Raises:
            WebhookPayloadError: not JSON, not an object, or ``data.connection.id`` (a
                UUID), ``data.jobId`` (a positive integer) or ``data.success`` (a boolean)
                missing or of the wrong type.
        """
        body: Any = raw
        if isinstance(raw, bytes | str):
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                raise WebhookPayloadError(f"the body is not JSON ({exc})") from None
        if not isinstance(body, Mapping):
            raise WebhookPayloadError("the body is not a JSON object")
        data = body.get("data")
        if not isinstance(data, Mapping):
            raise WebhookPayloadError("no 'data' object (not a sync notification)")
        connection = data.get("connection")
        cid = connection.get("id") if isinstance(connection, Mapping) else None
        if not isinstance(cid, str) or not _UUID.match(cid):
            raise WebhookPayloadError("data.connection.id is missing or not a UUID")
        job_id = data.get("jobId")
        if isinstance(job_id, bool) or not isinstance(job_id, int) or job_id < 1:
            raise WebhookPayloadError("data.jobId is missing or not a positive integer")
        success = data.get("success")
        if not isinstance(success, bool):
            raise WebhookPayloadError("data.success is missing or not a boolean")
        workspace = data.get("workspace")
        return cls(
            hint=WebhookHint(connection_id=cid.lower(), job_id=job_id, success=success),
            workspace_id=_text(workspace.get("id")) if isinstance(workspace, Mapping) else None,
            connection_name=_text(connection.get("name"))
            if isinstance(connection, Mapping)
            else None,
            records_committed=_count(data.get("recordsCommitted")),
            bytes_committed=_count(data.get("bytesCommitted")),
            error_message=_text(data.get("errorMessage")),
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class WebhookSetting:
    """One ``NotificationConfig``'s webhook half."""

    enabled: bool
    url: str | None

    @classmethod
    def from_api(cls, config: Any) -> WebhookSetting:
        hook = config.get("webhook") if isinstance(config, Mapping) else None
        if not isinstance(hook, Mapping):
            return cls(False, None)
        url = hook.get("url")
        return cls(bool(hook.get("enabled")), url if isinstance(url, str) and url else None)


@dataclass(frozen=True, slots=True)
class SyncNotifications:
    """A workspace's sync success and failure webhooks (from ``WorkspaceResponse``)."""

    workspace_id: str
    success: WebhookSetting
    failure: WebhookSetting

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> SyncNotifications:
        notes = data.get("notifications")
        notes = notes if isinstance(notes, Mapping) else {}
        return cls(
            workspace_id=str(data["workspaceId"]),
            success=WebhookSetting.from_api(notes.get("success")),
            failure=WebhookSetting.from_api(notes.get("failure")),
        )


def sync_webhook_patch(current: Mapping[str, Any], url: str | None) -> dict[str, Any]:
    """A ``WorkspaceUpdateRequest`` body that points the success and failure webhooks at
    ``url`` (None: switches them off), keeping every other notification and the e-mail
    halves as ``current`` (a ``WorkspaceResponse``) has them."""
    notes = current.get("notifications")
    notes = notes if isinstance(notes, Mapping) else {}
    out: dict[str, Any] = {}
    for kind in NOTIFICATION_KINDS:
        config = notes.get(kind)
        if not isinstance(config, Mapping):
            if kind not in SYNC_KINDS:
                continue
            config = {}
        entry: dict[str, Any] = {}
        email = config.get("email")
        if isinstance(email, Mapping) and isinstance(email.get("enabled"), bool):
            entry["email"] = {"enabled": email["enabled"]}
        hook = config.get("webhook")
        if kind in SYNC_KINDS:
            entry["webhook"] = {"enabled": True, "url": url} if url else {"enabled": False}
        elif isinstance(hook, Mapping):
            kept: dict[str, Any] = {}
            if isinstance(hook.get("enabled"), bool):
                kept["enabled"] = hook["enabled"]
            if isinstance(hook.get("url"), str):
                kept["url"] = hook["url"]
            entry["webhook"] = kept
        out[kind] = entry
    return {"notifications": out}
