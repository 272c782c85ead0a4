"""What every HTTP handler of the sandbox shares: the call context, the request log, and
strict parameter parsing that answers 400 the way Airbyte does instead of guessing.
"""

from __future__ import annotations

import collections
import fnmatch
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from luigi_airbyte.sandbox.auth import TokenIssuer
from luigi_airbyte.sandbox.errors import BadRequest
from luigi_airbyte.sandbox.http_faults import HttpFaultInjector

if TYPE_CHECKING:
    from luigi_airbyte.sandbox.engine import Engine

JOB_TYPES = ("sync", "reset", "refresh", "clear")
JOB_STATUSES = ("pending", "queued", "running", "incomplete", "failed", "succeeded", "cancelled")


class RequestLog:
    """Append-only journal of Airbyte API calls (bounded), for tests and the admin API."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=maxlen)

    def add(self, entry: dict[str, Any]) -> None:
        """Record one finished (or dropped) request."""
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> int:
        """Forget everything; returns how many entries were dropped."""
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            return count

    def entries(
        self, path: str | None = None, method: str | None = None, endpoint: str | None = None
    ) -> list[dict[str, Any]]:
        """Entries in order, filtered.

        ``path`` matches the exact path, any path ending with it (so ``/jobs`` finds both
        mounts but not ``/jobs/7``), or a glob when it contains ``*``/``?``. ``endpoint`` is the
        fault-style key, e.g. ``"POST /jobs"``.
        """
        with self._lock:
            items = list(self._entries)
        if method:
            items = [e for e in items if e["method"] == method.upper()]
        if endpoint:
            items = [e for e in items if e.get("endpoint") == endpoint]
        if path:
            glob = any(c in path for c in "*?[")
            items = [
                e
                for e in items
                if (fnmatch.fnmatchcase(e["path"], path) if glob else e["path"].endswith(path))
            ]
        return items


@dataclass
class SandboxState:
    """Everything the handlers need; one per running sandbox."""

    engine: Engine
    tokens: TokenIssuer = field(default_factory=TokenIssuer)
    faults: HttpFaultInjector = field(default_factory=HttpFaultInjector)
    log: RequestLog = field(default_factory=RequestLog)
    base_url: str = "http://127.0.0.1"
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Call:
    """One routed request: the request, its path arguments, and where it came in."""

    state: SandboxState
    request: Request
    args: dict[str, str]
    mount: str

    @property
    def engine(self) -> Engine:
        """The engine behind the sandbox."""
        return self.state.engine

    @property
    def api_host(self) -> str:
        """Airbyte's ``apiHost``: pagination links are ``<apiHost>/v1/...`` for this mount."""
        prefix = self.mount[: -len("/v1")] if self.mount.endswith("/v1") else ""
        return f"{self.state.base_url}{prefix}"


Handler = Callable[[Call], Response]


@dataclass(frozen=True)
class Route:
    """A routing table row; ``template`` is the path relative to the mount, spec style."""

    api: str
    method: str
    template: str
    handler: Handler
    auth: bool = True

    @property
    def key(self) -> str:
        """The fault/log key, e.g. ``"GET /jobs/{jobId}"``."""
        return f"{self.method} {self.template}"


def route_table(api: str, rows: Iterable[tuple[str, str, Handler, bool]]) -> list[Route]:
    """One API's routing rows from ``(method, template, handler, auth)``."""
    return [Route(api, method, template, handler, auth) for method, template, handler, auth in rows]


# --- parameter parsing ------------------------------------------------------------------------


def query_int(request: Request, name: str, default: int, lo: int, hi: int | None = None) -> int:
    """An integer query parameter within bounds (400 otherwise)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name}: '{raw}' is not an integer") from None
    if value < lo:
        raise BadRequest(f"{name}: must be greater than or equal to {lo}")
    if hi is not None and value > hi:
        raise BadRequest(f"{name}: must be less than or equal to {hi}")
    return value


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter (``true``/``false``, case-insensitive)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise BadRequest(f"{name}: '{raw}' is not a boolean")


def query_list(request: Request, name: str) -> list[str]:
    """An array parameter in either form: repeated keys (SDK) or comma-joined (next links)."""
    out: list[str] = []
    for raw in request.args.getlist(name):
        out.extend(part.strip() for part in raw.split(",") if part.strip())
    return out


def query_enum(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    """An enum query parameter, or None when absent."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise BadRequest(f"{name}: '{raw}' is not one of {', '.join(allowed)}")
    return raw


def parse_datetime(name: str, raw: str) -> datetime:
    """An ISO 8601 date-time with offset (as Micronaut binds OffsetDateTime)."""
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}: '{raw}' is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise BadRequest(f"{name}: '{raw}' has no UTC offset")
    return value.astimezone(timezone.utc)


def query_datetime(request: Request, name: str) -> datetime | None:
    """An optional ISO 8601 date-time query parameter."""
    raw = request.args.get(name)
    return None if raw is None or raw == "" else parse_datetime(name, raw)


def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object (400 if it is not one)."""
    data = request.get_data(cache=True)
    if not data.strip():
        raise BadRequest("Required request body is missing")
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise BadRequest(f"Malformed JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    return body
