"""Helpers for the Airbyte client tests: a scriptable in-memory Airbyte (httpx.MockTransport)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

BASE = "http://airbyte.test:8000/api/public/v1"
PUBLIC = "/api/public/v1"
CONFIG = "/api"
TOKEN_PATH = PUBLIC + "/applications/token"
CONN_ID = "9f3c1c5e-1111-4a5b-9c2d-000000000001"
WS_ID = "0c7c1c5e-2222-4a5b-9c2d-000000000002"

Reply = Callable[[httpx.Request], httpx.Response]


def reply(
    status: int = 200,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    text: str | None = None,
) -> Reply:
    """A canned answer; JSON unless ``text`` is given."""

    def make(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        if body is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return make


def fail(exc_type: type[httpx.TransportError], message: str = "boom") -> Reply:
    """Raise a transport error instead of answering."""

    def make(request: httpx.Request) -> httpx.Response:
        raise exc_type(message, request=request)

    return make


@dataclass
class FakeAirbyte:
    """Routes (method, path) to a queue of replies; the last reply repeats. Records requests."""

    routes: dict[tuple[str, str], list[Reply]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, method: str, path: str, *replies: Reply) -> FakeAirbyte:
        self.routes[(method.upper(), path)] = list(replies)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        # a snapshot: auth flows mutate and resend the same Request object
        snapshot = httpx.Request(
            request.method, request.url, headers=request.headers, content=request.content
        )
        with self.lock:
            self.requests.append(snapshot)
            queue = self.routes.get((request.method, request.url.path))
            if not queue:
                return httpx.Response(
                    404, json={"status": 404, "title": "resource-not-found", "detail": "no route"}
                )
            handler = queue.pop(0) if len(queue) > 1 else queue[0]
        return handler(request)

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    def count(self, method: str, path: str) -> int:
        return len(self.calls(method, path))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def token(self, token: str = "tok-1", expires_in: int = 900) -> FakeAirbyte:
        return self.on(
            "POST",
            TOKEN_PATH,
            reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}),
        )


class Sleeps(list[float]):
    """An injectable sleep that records instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class FakeClock:
    """A controllable clock (epoch seconds)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def job_body(job_id: int = 1, status: str = "running", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "jobId": job_id,
        "status": status,
        "jobType": "sync",
        "startTime": "2024-05-01T10:00:00Z",
        "connectionId": CONN_ID,
    }
    body.update(extra)
    return body


def connection_body(
    connection_id: str = CONN_ID, name: str = "crm", workspace_id: str = WS_ID
) -> dict[str, Any]:
    return {
        "connectionId": connection_id,
        "name": name,
        "sourceId": "src-1",
        "destinationId": "dst-1",
        "workspaceId": workspace_id,
        "status": "active",
        "schedule": {"scheduleType": "manual"},
        "configurations": {"streams": [{"name": "users", "syncMode": "incremental_append"}]},
        "createdAt": 1_700_000_000,
        "tags": [],
    }


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)
