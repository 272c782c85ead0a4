"""HTTP-level faults: errors, throttling, latency and dropped connections on chosen endpoints.

A fault names an endpoint as ``"<METHOD> <path template>"`` relative to the API base, e.g.
``"POST /jobs"``, ``"GET /jobs/{jobId}"`` or ``"POST /api/v1/jobs/get"`` for the Config API;
``"*"`` matches everything and shell wildcards work in either half (``"GET /jobs*"``). A
concrete path (``"GET /jobs/7"``) matches too.

Each fault counts the calls it matches. It fires on the calls listed in ``nth`` (1-based), or
with probability ``rate`` from its own ``random.Random(seed)``, or on every call when neither is
set. When it fires: sleep ``latency_ms``; answer ``status`` (503 when a fault gives no status,
no latency and no drop) (with ``Retry-After`` when
``retry_after`` is set); or, with ``drop_connection``, let the request take effect and then close
the TCP connection without a response -- the ambiguous failure a client must reconcile.
``message`` puts Airbyte's own words in the problem body (``data.message``; a 409 is then a
``state-conflict``, e.g. "Job is not currently running"), and ``after_apply`` lets the
request take effect before the status is answered (a 500 "Timed out waiting for a sync job
to be created" whose job exists anyway). Faults never touch ``/_sandbox/``.
"""

from __future__ import annotations

import fnmatch
import json
import random
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, NoReturn

from werkzeug.wrappers import Response

_FIELDS = (
    "endpoint",
    "status",
    "rate",
    "nth",
    "retry_after",
    "latency_ms",
    "drop_connection",
    "message",
    "after_apply",
)


@dataclass
class HttpFault:
    """One configured fault; see the module docstring for the semantics."""

    endpoint: str = "*"
    status: int | None = None
    rate: float | None = None
    nth: list[int] | None = None
    retry_after: float | None = None
    latency_ms: float = 0
    drop_connection: bool = False
    seed: int | None = None
    message: str | None = None
    after_apply: bool = False

    @classmethod
    def from_any(cls, obj: Any) -> HttpFault:
        """Build from a dict or any object with the same attributes (e.g. the world's model)."""
        if hasattr(obj, "model_dump"):
            # Only what the world file actually said: its model defaults status to 503.
            given = obj.model_fields_set
            obj = {k: v for k, v in obj.model_dump().items() if k in given}
        if not isinstance(obj, Mapping):
            raise ValueError(f"an http fault must be a mapping, got {type(obj).__name__}")
        # "calls"/"fired" come from snapshot(); ignoring them lets a GET be PUT back as is.
        obj = {k: v for k, v in obj.items() if k not in ("calls", "fired")}
        unknown = set(obj) - {*_FIELDS, "seed"}
        if unknown:
            raise ValueError(f"unknown http fault field(s): {', '.join(sorted(unknown))}")
        data = {k: v for k, v in obj.items() if v is not None}
        if "status" not in obj and not data.get("latency_ms") and not data.get("drop_connection"):
            data["status"] = 503  # a bare fault fails the request, as in the world schema
        fault = cls(**data)
        fault.validate()
        return fault

    def validate(self) -> None:
        """Reject values that would make the fault silently do nothing or crash later."""
        _, _, path = self.endpoint.strip().partition(" ")
        if self.endpoint.strip() != "*" and not path.strip():
            raise ValueError(f"fault endpoint {self.endpoint!r}: use '<METHOD> <path>' or '*'")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"fault status {self.status}: must be an HTTP error (400..599)")
        if self.rate is not None and not 0 <= self.rate <= 1:
            raise ValueError(f"fault rate {self.rate}: must be between 0 and 1")
        if self.nth is not None and any(n < 1 for n in self.nth):
            raise ValueError(f"fault nth {self.nth}: call numbers start at 1")
        if self.status is None and not self.drop_connection and not self.latency_ms:
            raise ValueError(
                f"fault on {self.endpoint!r} does nothing: "
                "set status, latency_ms or drop_connection"
            )

    def matches(self, method: str, template: str, path: str) -> bool:
        """True if this fault applies to a request (template or concrete path)."""
        pattern = self.endpoint.strip()
        if pattern == "*":
            return True
        want_method, _, want_path = pattern.partition(" ")
        if not fnmatch.fnmatchcase(method.upper(), want_method.upper()):
            return False
        want_path = want_path.strip()
        return want_path in (template, path) or (
            any(c in want_path for c in "*?")
            and (fnmatch.fnmatchcase(template, want_path) or fnmatch.fnmatchcase(path, want_path))
        )


@dataclass
class Decision:
    """What to do to one request: sleep first, then maybe fail or drop it."""

    latency_s: float = 0.0
    status: int | None = None
    retry_after: float | None = None
    drop_connection: bool = False
    faults: list[int] = field(default_factory=list)
    message: str | None = None
    after_apply: bool = False


@dataclass
class _Slot:
    fault: HttpFault
    rng: random.Random
    calls: int = 0
    fired: int = 0


class HttpFaultInjector:
    """Thread-safe fault table; replacing it resets call counters and seeded RNGs."""

    def __init__(self, faults: Iterable[Any] = ()) -> None:
        self._lock = threading.Lock()
        self._slots: list[_Slot] = []
        self.set(faults)

    def set(self, faults: Iterable[Any]) -> None:
        """Replace every fault (validating all of them first)."""
        parsed = [HttpFault.from_any(f) for f in faults]
        with self._lock:
            self._slots = [_Slot(f, random.Random(f.seed)) for f in parsed]

    def snapshot(self) -> list[dict[str, Any]]:
        """The faults with how often each matched (``calls``) and fired (``fired``)."""
        with self._lock:
            return [{**asdict(s.fault), "calls": s.calls, "fired": s.fired} for s in self._slots]

    def decide(self, method: str, template: str, path: str) -> Decision | None:
        """Count this call against every matching fault and combine those that fire."""
        decision = Decision()
        with self._lock:
            for index, slot in enumerate(self._slots):
                if not slot.fault.matches(method, template, path):
                    continue
                slot.calls += 1
                if not self._fires(slot):
                    continue
                slot.fired += 1
                decision.faults.append(index)
                decision.latency_s += slot.fault.latency_ms / 1000
                # The first firing fault that fails the request decides how; latencies add up.
                if decision.status is None and not decision.drop_connection:
                    if slot.fault.status is not None:
                        decision.status = slot.fault.status
                        decision.retry_after = slot.fault.retry_after
                        decision.message = slot.fault.message
                        decision.after_apply = slot.fault.after_apply
                    else:
                        decision.drop_connection = slot.fault.drop_connection
        return decision if decision.faults else None

    @staticmethod
    def _fires(slot: _Slot) -> bool:
        fault = slot.fault
        if fault.nth is not None:
            return slot.calls in fault.nth
        if fault.rate is not None:
            return slot.rng.random() < fault.rate
        return True


def apply_latency(decision: Decision) -> None:
    """Sleep for the decision's latency (called on the request thread)."""
    if decision.latency_s > 0:
        time.sleep(decision.latency_s)


def format_retry_after(seconds: float) -> str:
    """Delay-seconds as RFC 9110 wants it; fractions are kept for fast tests (non-standard)."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


_STATUS_BODIES: dict[int, tuple[str, str, str]] = {
    # status -> (type, title, detail); 500 and 503 are Airbyte's documented problems.
    500: (
        "https://reference.airbyte.com/reference/errors",
        "unexpected-problem",
        "An unexpected problem has occurred. If this is an error that needs to be addressed, "
        "please submit a pull request or github issue.",
    ),
    503: (
        "https://reference.airbyte.com/reference/errors",
        "service-unavailable",
        "The server is currently unable to handle the request.",
    ),
    # 429 is not a documented Airbyte problem; this body is an approximation.
    429: (
        "https://reference.airbyte.com/reference/errors",
        "rate-limited",
        "Too many requests. Slow down and retry later.",
    ),
}

_GATEWAY_HTML = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_REASONS = {502: "Bad Gateway", 504: "Gateway Time-out"}


def fault_response(decision: Decision) -> Response:
    """The error a fault answers with: problem JSON, or an nginx page for gateway errors."""
    status = decision.status or 500
    headers: dict[str, str] = {}
    if decision.retry_after is not None:
        headers["Retry-After"] = format_retry_after(decision.retry_after)
    if status in _REASONS:
        body = _GATEWAY_HTML.format(code=status, reason=_REASONS[status])
        return Response(body, status=status, headers=headers, content_type="text/html")
    type_, title, detail = _STATUS_BODIES.get(
        status, ("https://reference.airbyte.com/reference/errors", "injected-fault", "Injected.")
    )
    if decision.message is not None and status == 409:
        type_ = "https://reference.airbyte.com/reference/errors#409-state-conflict"
        title, detail = "state-conflict", "State conflict"
    problem: dict[str, Any] = {"status": status, "type": type_, "title": title, "detail": detail}
    if decision.message is not None:
        problem["data"] = {"message": decision.message}
    return Response(
        json.dumps(problem), status=status, headers=headers, content_type="application/json"
    )


def drop_connection(environ: Mapping[str, Any]) -> NoReturn:
    """Close the client's TCP connection without a response, then unwind the WSGI call.

    Werkzeug's dev server treats a ``ConnectionError`` escaping the app as a dropped
    connection and writes nothing; the shutdown makes the client see EOF/reset at once.
    """
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionResetError("sandbox fault: connection dropped on purpose")
