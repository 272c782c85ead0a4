"""Workspace notifications: Airbyte's sync webhooks, as the sandbox sends them.

``PATCH /workspaces/{id}`` stores a workspace's ``notifications`` (each kind's ``email``
and ``webhook`` halves as given; kinds and halves not given are kept). When a *sync*
job of a workspace whose ``success`` (or ``failure``) webhook is enabled ends succeeded
(or failed), the sandbox POSTs Airbyte's payload once, unsigned:
``{"text", "blocks", "data"}`` where ``data`` is the ``SyncSummary`` (workspace,
connection, source, destination as ``{id, name, url}``, ``jobId``, ``startedAt``,
``finishedAt``, ``success``, ``durationInSeconds``, the emitted/committed/filtered-out
counts, ``errorMessage``, ``errorType``, ``errorOrigin``). A cancelled job sends nothing.

Delivery is Airbyte's: one attempt, no retry, and a failure is logged "Not blocking".
It happens on one sender thread fed by a queue, so the job runner never waits on it.

Faults (admin ``PUT /_sandbox/faults`` with a ``webhooks`` key): ``drop_all``,
``drop_connections`` (ids), ``drop_count`` (the next n deliveries) and ``replay_count``
(the next n deliveries are sent twice). ``GET /_sandbox/webhooks`` is the journal of
every delivery: ``{jobId, connectionId, workspaceId, url, success, outcome, status?,
error?, at}`` with outcome ``sent``, ``failed``, ``dropped`` or ``replayed``.
"""

from __future__ import annotations

import copy
import json
import logging
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from luigi_airbyte.sandbox.errors import BadRequest, NotFound
from luigi_airbyte.sandbox.jobstate import Job
from luigi_airbyte.sandbox.state import EngineState

logger = logging.getLogger(__name__)

KINDS = (
    "failure",
    "success",
    "connectionUpdate",
    "connectionUpdateActionRequired",
    "syncDisabled",
    "syncDisabledWarning",
)
_OFF: dict[str, Any] = {"email": {"enabled": False}, "webhook": {"enabled": False}}
SEND_TIMEOUT_S = 10.0


@dataclass
class WebhookFaults:
    """What the sender does to deliveries (see the module docstring)."""

    drop_all: bool = False
    drop_connections: list[str] = field(default_factory=list)
    drop_count: int = 0
    replay_count: int = 0

    @classmethod
    def parse(cls, body: Any) -> WebhookFaults:
        if not isinstance(body, dict):
            raise BadRequest("webhooks faults must be an object")
        unknown = set(body) - {"drop_all", "drop_connections", "drop_count", "replay_count"}
        if unknown:
            raise BadRequest(
                f"unknown webhooks fault field(s): {', '.join(sorted(unknown))}; use "
                "drop_all, drop_connections, drop_count, replay_count"
            )
        faults = cls()
        if "drop_all" in body:
            if not isinstance(body["drop_all"], bool):
                raise BadRequest("webhooks.drop_all must be true or false")
            faults.drop_all = body["drop_all"]
        conns = body.get("drop_connections", [])
        if not isinstance(conns, list) or not all(isinstance(c, str) for c in conns):
            raise BadRequest("webhooks.drop_connections must be a list of connection ids")
        faults.drop_connections = [c.lower() for c in conns]
        for name in ("drop_count", "replay_count"):
            value = body.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise BadRequest(f"webhooks.{name} must be a whole number, at least 0")
            setattr(faults, name, value)
        return faults


class WebhookSender:
    """One daemon thread sending queued deliveries, with faults and a journal."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._lock = threading.Lock()
        self.faults = WebhookFaults()
        self._journal: list[dict[str, Any]] = []
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, url: str, payload: dict[str, Any]) -> None:
        """Queue one delivery (never blocks; the thread starts on first use)."""
        with self._lock:
            if self._closed:
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="sandbox-webhooks", daemon=True
                )
                self._thread.start()
        self._queue.put((url, payload))

    def set_faults(self, faults: WebhookFaults) -> None:
        with self._lock:
            self.faults = faults

    def faults_snapshot(self) -> dict[str, Any]:
        with self._lock:
            return asdict(self.faults)

    def journal(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._journal)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=SEND_TIMEOUT_S + 2)

    def _decide(self, connection_id: str) -> tuple[bool, int]:
        """(dropped, sends) for the next delivery, using up counted faults."""
        with self._lock:
            f = self.faults
            if f.drop_all or connection_id.lower() in f.drop_connections:
                return True, 0
            if f.drop_count > 0:
                f.drop_count -= 1
                return True, 0
            if f.replay_count > 0:
                f.replay_count -= 1
                return False, 2
            return False, 1

    def _run(self) -> None:
        with httpx.Client(timeout=SEND_TIMEOUT_S, verify=False, follow_redirects=False) as http:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                url, payload = item
                self._deliver(http, url, payload)

    def _deliver(self, http: httpx.Client, url: str, payload: dict[str, Any]) -> None:
        data = payload["data"]
        entry = {
            "jobId": data["jobId"],
            "connectionId": data["connection"]["id"],
            "workspaceId": data["workspace"]["id"],
            "url": url,
            "success": data["success"],
        }
        dropped, sends = self._decide(entry["connectionId"])
        if dropped:
            self._record({**entry, "outcome": "dropped"})
            return
        body = json.dumps(payload).encode()
        for n in range(sends):
            outcome = "sent" if n == 0 else "replayed"
            try:
                response = http.post(
                    url, content=body, headers={"Content-Type": "application/json"}
                )
            except httpx.HTTPError as exc:
                logger.warning(
                    "Failed to deliver notification for job %s (%s). Not blocking.",
                    entry["jobId"],
                    type(exc).__name__,
                )
                self._record({**entry, "outcome": "failed", "error": type(exc).__name__})
                continue
            if not response.is_success:
                logger.warning(
                    "Failed to deliver notification for job %s (%d). Not blocking.",
                    entry["jobId"],
                    response.status_code,
                )
                outcome = "failed"
            self._record({**entry, "outcome": outcome, "status": response.status_code})

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._journal.append({**entry, "at": time.time()})


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _volume(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024:
            return f"{n} {unit}"
        n //= 1024
    return f"{n} TB"


class WorkspaceNotifications(EngineState):
    """The engine's part that stores notification settings and sends sync webhooks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Set before the state file is loaded (EngineState.__init__ loads it).
        self._ws_notifications: dict[str, dict[str, Any]] = {}
        self.webhooks = WebhookSender()
        super().__init__(*args, **kwargs)

    def _notifications_of(self, ws_id: str) -> dict[str, Any]:
        """The workspace's NotificationsConfig (caller holds the lock)."""
        stored = self._ws_notifications.get(ws_id, {})
        return {k: copy.deepcopy(stored.get(k, _OFF)) for k in KINDS}

    def _workspace_dict(self, ws_id: str) -> dict[str, Any]:
        return {
            "workspaceId": ws_id,
            "name": self._workspaces[ws_id].name,
            "dataResidency": "auto",
            "notifications": self._notifications_of(ws_id),
        }

    def patch_workspace(self, workspace_id: str, body: Any) -> dict[str, Any]:
        """``PATCH /workspaces/{id}`` (WorkspaceUpdateRequest): notifications are stored
        per kind and per half (``email``, ``webhook``); ``name`` and ``regionId`` are
        accepted and ignored (a sandbox workspace keeps its world name)."""
        with self._lock:
            ws_id = str(workspace_id)
            if ws_id not in self._workspaces:
                raise NotFound("workspace", ws_id)
            if not isinstance(body, dict):
                raise BadRequest("The request body must be a JSON object")
            unknown = set(body) - {"name", "notifications", "regionId"}
            if unknown:
                raise BadRequest(f"Unknown field(s): {', '.join(sorted(unknown))}")
            notes = body.get("notifications")
            if notes is not None:
                current = self._notifications_of(ws_id)
                for kind, config in _checked_notifications(notes).items():
                    current[kind].update(config)
                self._ws_notifications[ws_id] = current
                self._mark_dirty()
            return self._workspace_dict(ws_id)

    def _finish(self, job: Job, status: str, now: float) -> None:
        super()._finish(job, status, now)
        if job.job_type == "sync" and status in ("succeeded", "failed"):
            self._notify(job, status == "succeeded")

    def _notify(self, job: Job, success: bool) -> None:
        """Queue the job's webhook if its workspace wants one (caller holds the lock)."""
        cs = self._connections.get(job.connection_id)
        if cs is None:
            return
        hook = self._notifications_of(cs.workspace_id)["success" if success else "failure"]
        webhook = hook.get("webhook") or {}
        url = webhook.get("url")
        if not webhook.get("enabled") or not isinstance(url, str) or not url:
            return
        self.webhooks.submit(url, self._payload(job, success))

    def _payload(self, job: Job, success: bool) -> dict[str, Any]:
        cs = self._connections[job.connection_id]
        ui = self.public_base_url.removesuffix("/api/public/v1").removesuffix("/v1")
        ws_url = f"{ui}/workspaces/{cs.workspace_id}"
        src, dst = self._sources[cs.source], self._destinations[cs.destination]
        totals = job.totals()
        started = job.started_at or job.created_at
        finished = job.updated_at
        failure = next((a.failure for a in reversed(job.attempts) if a.failure), None)
        failure = failure if not success else None
        conn_url = f"{ws_url}/connections/{cs.id}"
        summary: dict[str, Any] = {
            "workspace": {
                "id": cs.workspace_id,
                "name": self._workspaces[cs.workspace_id].name,
                "url": ws_url,
            },
            "connection": {"id": cs.id, "name": cs.name, "url": f"{ws_url}/connections/{cs.id}"},
            "source": {"id": cs.source, "name": src.name, "url": f"{ws_url}/source/{cs.source}"},
            "destination": {
                "id": cs.destination,
                "name": dst.name,
                "url": f"{ws_url}/destination/{cs.destination}",
            },
            "jobId": job.id,
            "startedAt": _iso(started),
            "finishedAt": _iso(finished),
            "success": success,
            "durationInSeconds": int(max(0.0, finished - started)),
            "bytesEmitted": totals.bytes_emitted,
            "bytesCommitted": totals.bytes_committed,
            "recordsEmitted": totals.emitted,
            "recordsCommitted": totals.committed,
            "recordsFilteredOut": 0,
            "bytesFilteredOut": 0,
            "errorMessage": failure.get("externalMessage") if failure else None,
            "errorType": failure.get("failureType") if failure else None,
            "errorOrigin": failure.get("failureOrigin") if failure else None,
            "bytesEmittedFormatted": _volume(totals.bytes_emitted),
            "bytesCommittedFormatted": _volume(totals.bytes_committed),
        }
        title = "Sync completed" if success else "Sync failure occurred"
        line = f"{title}: <{conn_url}|{cs.name}> ({src.name} -> {dst.name}), job {job.id}"
        if failure:
            line += f"\n{summary['errorMessage']}"
        blocks = [
            {"type": "section", "text": {"type": "mrkdwn", "text": line}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*Records committed:* {totals.committed}"},
                    {"type": "mrkdwn", "text": f"*Duration:* {summary['durationInSeconds']} s"},
                ],
            },
        ]
        return {"text": line, "blocks": blocks, "data": summary}

    def _snapshot(self) -> dict[str, Any]:
        data = super()._snapshot()
        data["workspace_notifications"] = copy.deepcopy(self._ws_notifications)
        return data

    def _load_state(self) -> None:
        super()._load_state()
        assert self.state_path is not None
        try:
            saved = json.loads(Path(self.state_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        notes = saved.get("workspace_notifications") if isinstance(saved, dict) else None
        if isinstance(notes, dict):
            self._ws_notifications = {
                k: v for k, v in notes.items() if k in self._workspaces and isinstance(v, dict)
            }

    def close(self) -> None:
        super().close()  # type: ignore[misc]  # JobRunner.close, later in the MRO
        self.webhooks.close()


def _checked_notifications(notes: Any) -> dict[str, dict[str, Any]]:
    """NotificationsConfig validated: known kinds, ``email{enabled}``, ``webhook{enabled,
    url}`` with the spec's types."""
    if not isinstance(notes, dict):
        raise BadRequest("notifications must be an object")
    out: dict[str, dict[str, Any]] = {}
    for kind, config in notes.items():
        if kind not in KINDS:
            raise BadRequest(f"notifications.{kind}: unknown; use one of {', '.join(KINDS)}")
        if not isinstance(config, dict) or set(config) - {"email", "webhook"}:
            raise BadRequest(f"notifications.{kind} must be {{email?, webhook?}}")
        entry: dict[str, Any] = {}
        for half, fields in (("email", {"enabled"}), ("webhook", {"enabled", "url"})):
            if half not in config:
                continue
            value = config[half]
            if not isinstance(value, dict) or set(value) - fields:
                raise BadRequest(f"notifications.{kind}.{half} has unknown fields")
            if "enabled" in value and not isinstance(value["enabled"], bool):
                raise BadRequest(f"notifications.{kind}.{half}.enabled must be a boolean")
            if "url" in value and not isinstance(value["url"], str):
                raise BadRequest(f"notifications.{kind}.{half}.url must be a string")
            entry[half] = dict(value)
        out[kind] = entry
    return out
