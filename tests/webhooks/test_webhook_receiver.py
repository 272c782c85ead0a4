"""The webhook receiver: valid hints reach the sink once; everything else is logged and
ignored (malformed, unknown connection, replay) or refused (wrong token, oversize)."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from luigi_airbyte.app.webhook_receiver import StoreHintSink, WebhookReceiver
from luigi_airbyte.store import Store

CONN = "9f3c1c5e-1111-4a5b-9c2d-000000000001"
STRANGER = "9f3c1c5e-1111-4a5b-9c2d-0000000000ff"
TOKEN = "s3cret-path-token"
HTTP = httpx.Client(timeout=5, verify=False)


class Sink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def hint(self, connection_id: str, job_id: int) -> None:
        self.calls.append((connection_id, job_id))


def payload(connection_id: str = CONN, job_id: int = 42, **extra: Any) -> dict[str, Any]:
    return {
        "text": "Sync completed",
        "blocks": [],
        "data": {
            "workspace": {"id": "w", "name": "W", "url": "u"},
            "connection": {"id": connection_id, "name": "crm", "url": "u"},
            "jobId": job_id,
            "success": True,
            "recordsCommitted": 3,
            **extra,
        },
    }


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def receiver(sink: Sink) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(sink, connections={CONN}, token=TOKEN, max_body=4096) as r:
        r.start()
        yield r


def post(receiver: WebhookReceiver, body: Any, path: str | None = None) -> httpx.Response:
    host, port = receiver.address
    url = f"http://{host}:{port}{path if path is not None else '/' + TOKEN}"
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HTTP.post(url, content=content, headers={"Content-Type": "application/json"})


def test_a_valid_payload_makes_one_sink_call(receiver: WebhookReceiver, sink: Sink) -> None:
    response = post(receiver, payload())
    assert response.status_code == 200
    assert sink.calls == [(CONN, 42)]


def test_binds_loopback_by_default(sink: Sink) -> None:
    with WebhookReceiver(sink, connections={CONN}) as r:
        assert r.address[0] == "127.0.0.1"
        assert r.url == f"http://127.0.0.1:{r.address[1]}/"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "malformed payload"),
        (payload(job_id="42"), 400, "malformed payload"),
        (payload(connection_id=STRANGER), 202, "is not one of this receiver's"),
    ],
)
def test_bad_payloads_are_logged_and_never_reach_the_sink(
    receiver: WebhookReceiver,
    sink: Sink,
    caplog: pytest.LogCaptureFixture,
    body: Any,
    status: int,
    message: str,
) -> None:
    with caplog.at_level(logging.WARNING, logger="luigi_airbyte.webhooks"):
        assert post(receiver, body).status_code == status
    assert sink.calls == []
    assert message in caplog.text


def test_a_replay_is_logged_and_ignored(
    receiver: WebhookReceiver, sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="luigi_airbyte.webhooks"):
        post(receiver, payload(job_id=5))
        second = post(receiver, payload(job_id=5))
    assert second.status_code == 202
    assert sink.calls == [(CONN, 5)]
    assert "already hinted (a replay)" in caplog.text


@pytest.mark.parametrize("path", ["/", "/wrong", "/" + TOKEN + "x", "/" + TOKEN[:-1]])
def test_a_wrong_token_is_a_404(
    receiver: WebhookReceiver, sink: Sink, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="luigi_airbyte.webhooks"):
        assert post(receiver, payload(), path=path).status_code == 404
    assert sink.calls == []
    assert "wrong path" in caplog.text
    assert TOKEN not in caplog.text


def test_an_oversize_body_is_refused_unread(
    receiver: WebhookReceiver, sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    big = payload(padding="x" * 5000)
    with caplog.at_level(logging.WARNING, logger="luigi_airbyte.webhooks"):
        assert post(receiver, big).status_code == 413
    assert sink.calls == []
    assert "is over 4096" in caplog.text


def test_a_slow_client_is_cut_off(sink: Sink, caplog: pytest.LogCaptureFixture) -> None:
    with WebhookReceiver(sink, connections={CONN}, read_timeout=0.3) as r:
        r.start()
        body = json.dumps(payload()).encode()
        with (
            caplog.at_level(logging.WARNING, logger="luigi_airbyte.webhooks"),
            socket.create_connection(r.address, timeout=5) as s,
        ):
            head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
            s.sendall(head.encode() + body[:10])  # and never the rest
            assert s.recv(100) == b""  # the receiver hangs up
    assert sink.calls == []
    assert "not sent in time" in caplog.text


def test_the_store_sink_records_each_job_once(tmp_path: Any) -> None:
    with Store(f"sqlite:///{tmp_path / 'm.db'}") as store:
        with WebhookReceiver(StoreHintSink(store), connections={CONN}) as r:
            r.start()
            for _ in range(2):
                post(r, payload(job_id=9), path="/")
        assert [(h.connection_id, h.job_id) for h in store.hints_after(0)] == [(CONN, 9)]


def test_closing_the_receiver_does_not_wait_for_the_server_loop() -> None:
    # It looked for close() every 0.2 s: the end of every run with webhooks waited for
    # it (0.23 s at the end of `benchmarks/scale.py --watcher hooks`).
    took = 0.0
    for _ in range(20):
        receiver = WebhookReceiver(Sink(), connections=[CONN], port=0).start()
        time.sleep(0.01)
        started = time.monotonic()
        receiver.close()
        took += time.monotonic() - started
    assert took < 1.0
