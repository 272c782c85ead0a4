"""Workspace webhooks in the sandbox: PATCH /workspaces/{id} stores the notification
settings (spec-validated answers); a sync that ends succeeded or failed is POSTed once,
in Airbyte's format, to a local capture server; the drop and replay faults work."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sandbox_http_helpers import FAST_CONNECTION, connection_id, wait_for_job

from luigi_airbyte.sandbox import Sandbox

SUMMARY_KEYS = {
    "workspace",
    "connection",
    "source",
    "destination",
    "jobId",
    "startedAt",
    "finishedAt",
    "success",
    "durationInSeconds",
    "bytesEmitted",
    "bytesCommitted",
    "recordsEmitted",
    "recordsCommitted",
    "recordsFilteredOut",
    "bytesFilteredOut",
    "errorMessage",
    "errorType",
    "errorOrigin",
}


class Capture:
    """A local HTTP server that keeps every POST body (and answers ``status``); with
    ``gate``, each answer waits until the gate is set."""

    def __init__(self, status: int = 200, gate: threading.Event | None = None) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                capture.bodies.append(json.loads(body))
                capture.headers.append(dict(self.headers))
                if gate is not None:
                    gate.wait(30)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def capture() -> Iterator[Capture]:
    c = Capture()
    yield c
    c.close()


def configure(client: httpx.Client, sb: Sandbox, url: str) -> dict[str, Any]:
    hook = {"webhook": {"enabled": True, "url": url}}
    r = client.patch(
        f"/workspaces/{sb.workspace_id}", json={"notifications": {"success": hook, "failure": hook}}
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def sync(client: httpx.Client, sb: Sandbox) -> int:
    conn = connection_id(sb, FAST_CONNECTION)
    job = client.post("/jobs", json={"connectionId": conn, "jobType": "sync"}).json()
    wait_for_job(client, job["jobId"])
    return int(job["jobId"])


def deliveries(sb: Sandbox, job_id: int, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    """The journal entries of ``job_id`` once there are ``count`` of them."""
    deadline = time.monotonic() + timeout
    while True:
        found = [d for d in sb.webhook_deliveries() if d["jobId"] == job_id]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def test_patch_stores_notifications_and_get_reads_them_back(
    sb: Sandbox, client: httpx.Client
) -> None:
    answer = configure(client, sb, "http://127.0.0.1:9/x")
    assert answer["notifications"]["success"]["webhook"] == {
        "enabled": True,
        "url": "http://127.0.0.1:9/x",
    }
    assert answer["notifications"]["syncDisabled"]["webhook"] == {"enabled": False}
    assert client.get(f"/workspaces/{sb.workspace_id}").json() == answer
    bad = client.patch(
        f"/workspaces/{sb.workspace_id}",
        json={"notifications": {"success": {"webhook": {"enabled": "yes"}}}},
    )
    assert bad.status_code == 400


def test_a_succeeded_sync_posts_airbytes_payload_once(
    sb: Sandbox, client: httpx.Client, capture: Capture
) -> None:
    configure(client, sb, capture.url)
    job_id = sync(client, sb)

    assert [d["outcome"] for d in deliveries(sb, job_id, 1)] == ["sent"]
    [body] = capture.bodies
    assert set(body) == {"text", "blocks", "data"}
    data = body["data"]
    assert set(data) >= SUMMARY_KEYS
    assert data["jobId"] == job_id and data["success"] is True
    assert data["connection"]["id"] == connection_id(sb, FAST_CONNECTION)
    assert data["workspace"]["id"] == sb.workspace_id
    for part in ("workspace", "connection", "source", "destination"):
        assert set(data[part]) == {"id", "name", "url"}
    job = client.get(f"/jobs/{job_id}").json()
    assert data["recordsCommitted"] == job["rowsSynced"] > 0
    assert data["errorMessage"] is None
    assert not any(
        k.lower() in ("x-airbyte-signature", "authorization") for k in capture.headers[0]
    )


def test_a_failed_sync_posts_with_the_error(
    sb: Sandbox, client: httpx.Client, capture: Capture
) -> None:
    configure(client, sb, capture.url)
    sb.set_faults(engine={"jobs": {FAST_CONNECTION: {"fail_attempts": 10}}})
    job_id = sync(client, sb)

    deliveries(sb, job_id, 1)
    [body] = capture.bodies
    assert body["data"]["success"] is False and body["data"]["jobId"] == job_id
    assert body["data"]["errorMessage"] and body["data"]["errorType"]


def test_nothing_is_sent_without_configuration(
    sb: Sandbox, client: httpx.Client, capture: Capture
) -> None:
    job_id = sync(client, sb)
    time.sleep(0.3)
    assert deliveries(sb, job_id, 1, timeout=0) == [] and capture.bodies == []


def test_drop_faults_drop(sb: Sandbox, client: httpx.Client, capture: Capture) -> None:
    configure(client, sb, capture.url)
    r = HTTP_ADMIN.put(f"{sb.base_url}/_sandbox/faults", json={"webhooks": {"drop_count": 1}})
    assert r.status_code == 200 and r.json()["webhooks"]["drop_count"] == 1
    dropped = sync(client, sb)
    sent = sync(client, sb)

    assert [d["outcome"] for d in deliveries(sb, dropped, 1)] == ["dropped"]
    assert [d["outcome"] for d in deliveries(sb, sent, 1)] == ["sent"]
    assert [b["data"]["jobId"] for b in capture.bodies] == [sent]

    sb.set_faults(webhooks={"drop_connections": [connection_id(sb, FAST_CONNECTION)]})
    assert deliveries(sb, sync(client, sb), 1)[0]["outcome"] == "dropped"
    sb.set_faults(webhooks={"drop_all": True})
    assert deliveries(sb, sync(client, sb), 1)[0]["outcome"] == "dropped"
    assert len(capture.bodies) == 1


def test_replay_fault_sends_one_twice(sb: Sandbox, client: httpx.Client, capture: Capture) -> None:
    configure(client, sb, capture.url)
    sb.set_faults(webhooks={"replay_count": 1})
    replayed = sync(client, sb)
    once = sync(client, sb)

    assert [d["outcome"] for d in deliveries(sb, replayed, 2)] == ["sent", "replayed"]
    deliveries(sb, once, 1)
    assert [b["data"]["jobId"] for b in capture.bodies] == [replayed, replayed, once]


def test_a_failed_delivery_is_logged_not_retried(
    sb: Sandbox, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    down = Capture(status=500)
    try:
        configure(client, sb, down.url)
        with caplog.at_level("WARNING", logger="luigi_airbyte.sandbox"):
            job_id = sync(client, sb)
            [entry] = deliveries(sb, job_id, 1)
            time.sleep(0.3)
        assert entry["outcome"] == "failed" and entry["status"] == 500
        assert len(down.bodies) == 1  # one attempt, no retry
        assert "Not blocking" in caplog.text
    finally:
        down.close()


def test_a_hanging_receiver_does_not_hold_up_jobs(sb: Sandbox, client: httpx.Client) -> None:
    gate = threading.Event()
    stuck = Capture(gate=gate)
    try:
        configure(client, sb, stuck.url)
        first = sync(client, sb)  # its webhook hangs in the receiver...
        wait_for_none = deliveries(sb, first, 1, timeout=0.5)
        second = sync(client, sb)  # ...and the next job still runs to its end
        assert client.get(f"/jobs/{second}").json()["status"] == "succeeded"
        assert wait_for_none == [] and len(stuck.bodies) == 1
        gate.set()
        assert [d["outcome"] for d in deliveries(sb, second, 1)] == ["sent"]
    finally:
        gate.set()
        stuck.close()


def test_bad_webhook_faults_are_400(sb: Sandbox) -> None:
    r = HTTP_ADMIN.put(f"{sb.base_url}/_sandbox/faults", json={"webhooks": {"drop": "all"}})
    assert r.status_code == 400 and "unknown webhooks fault" in r.json()["error"]


HTTP_ADMIN = httpx.Client(timeout=10, verify=False)
