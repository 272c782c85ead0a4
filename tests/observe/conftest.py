"""Fixtures for the observe tests: canary secrets, a loopback webhook receiver, moto."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from luigi_airbyte.observe.redact import Redactor


@pytest.fixture
def canary() -> str:
    return f"CANARY-{uuid.uuid4()}"


@pytest.fixture
def redactor(canary: str) -> Redactor:
    r = Redactor()
    r.register(canary)
    return r


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HookServer:
    """A real HTTP receiver on 127.0.0.1 that fails the first ``fail_first`` calls.

    ``mode`` is "status" (answer ``fail_status``) or "timeout" (sleep ``delay`` seconds).
    """

    url: str = ""
    fail_first: int = 0
    fail_status: int = 500
    mode: str = "status"
    delay: float = 0.0
    always_status: int | None = None
    retry_after: str | None = None
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self, environ: dict[str, Any], start_response: Any) -> Any:
        req = Request(environ)
        with self.lock:
            self.received.append(Received(dict(req.headers), req.get_data()))
            n = len(self.received)
        if self.always_status is not None:
            return Response("nope", status=self.always_status)(environ, start_response)
        if n <= self.fail_first:
            if self.mode == "timeout":
                time.sleep(self.delay)
                return Response("late", status=200)(environ, start_response)
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return Response("boom", status=self.fail_status, headers=headers)(
                environ, start_response
            )
        return Response("ok", status=200)(environ, start_response)

    def bodies(self) -> list[Any]:
        with self.lock:
            return [r.json() for r in self.received]

    def keys(self) -> list[str | None]:
        with self.lock:
            return [r.headers.get("Idempotency-Key") for r in self.received]


@pytest.fixture
def hook_server() -> Iterator[HookServer]:
    hs = HookServer()
    server = make_server("127.0.0.1", 0, hs.app, threaded=True)
    hs.url = f"http://127.0.0.1:{server.server_port}/hooks/alerts"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield hs
    finally:
        server.shutdown()
        thread.join(5)


AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def _logs_client() -> Iterator[Any]:
    """One boto3 client for the session: building it is the slow part of each moto test.

    moto intercepts through a botocore hook, so this client talks to whichever
    ``mock_aws`` is active, each with fresh state.
    """
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with pytest.MonkeyPatch.context() as mp:
        for var, value in AWS_ENV.items():
            mp.setenv(var, value)
        with moto.mock_aws():  # only while building it; each test starts its own mock
            client = boto3.client("logs", region_name="us-east-1")
        yield client


@pytest.fixture
def aws(_logs_client: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A CloudWatch Logs client backed by a fresh moto state (fake credentials, us-east-1)."""
    import moto

    for var, value in AWS_ENV.items():
        monkeypatch.setenv(var, value)
    with moto.mock_aws():
        yield _logs_client
