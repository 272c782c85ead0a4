"""Webhook sinks: POST each event as JSON, retried, with an ``Idempotency-Key`` header.

Retries cover timeouts, network errors and HTTP 408, 425, 429, 500, 502, 503 and 504 (not
other 5xx). Waits come from ``luigi_airbyte.backoff``; a ``Retry-After`` in seconds or as
an HTTP date is honoured up to the backoff's cap. A retried POST keeps the same key, so a
receiver that honours ``Idempotency-Key`` never shows an alert twice; the sink itself also
never re-posts a key it already delivered.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from luigi_airbyte.backoff import Backoff, parse_retry_after
from luigi_airbyte.observe.events import Event
from luigi_airbyte.observe.redact import Redactor, default_redactor
from luigi_airbyte.observe.sinks.base import DeliveryError, safe_url

__all__ = ["HeadersRef", "SlackWebhookSink", "WebhookSink", "idempotency_key", "slack_payload"]

logger = logging.getLogger(__name__)

#: Static headers, or a callable resolved at send time (so secret headers such as a bearer
#: token come from the secrets layer when needed and are never stored in configuration).
HeadersRef = Mapping[str, str] | Callable[[], Mapping[str, str]]

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
USER_AGENT = "luigi-airbyte"


def idempotency_key(event: Event) -> str:
    """A stable key for ``event``: name + run id + step + job id.

    Alerts carry a ``dedup_key`` (run, step, job, kind) and get the same key in every
    process. Other events also include their timestamp, so two progress events of one job
    are not collapsed into one, while a retried POST still reuses its key.
    """
    f = event.fields
    if f.get("dedup_key"):
        basis = [event.name, str(f["dedup_key"])]
    else:
        ids = [str(f.get(k, "")) for k in ("run_id", "step", "job_id")]
        basis = [event.name, *ids, event.at.isoformat()]
    return hashlib.sha256("\x1f".join(basis).encode("utf-8")).hexdigest()[:40]


class WebhookSink:
    """POSTs ``render(event)`` as JSON to ``url``.

    ``emit`` blocks while retrying, so the bus runs this sink on a worker thread
    (``prefers_background``); the alert router calls it directly to learn the outcome.
    Raises :class:`DeliveryError` once retries are exhausted or on a non-retryable status.
    """

    prefers_background = True
    kind = "webhook"

    def __init__(
        self,
        url: str,
        headers_ref: HeadersRef | None = None,
        *,
        timeout: float = 10.0,
        backoff: Backoff | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        redactor: Redactor | None = None,
        dedup_size: int = 10_000,
    ) -> None:
        self.url = url
        self.name = f"{self.kind}:{safe_url(url)}"
        self.headers_ref = headers_ref
        self.backoff = backoff or Backoff()
        self.redactor = redactor if redactor is not None else default_redactor()
        self._sleep = sleep
        self._client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)
        self._delivered: OrderedDict[str, None] = OrderedDict()
        self._dedup_size = dedup_size
        self._lock = threading.Lock()
        self._register_url_secrets(url)

    def _register_url_secrets(self, url: str) -> None:
        """A password or query value in the URL is a credential (Slack paths: see redact)."""
        parts = urlsplit(url)
        self.redactor.register(parts.password)
        for _, value in parse_qsl(parts.query):
            self.redactor.register(value)

    def render(self, event: Event) -> dict[str, Any]:
        """The JSON body for ``event``; subclasses format for a specific service."""
        return event.to_dict()

    def _headers(self, key: str) -> dict[str, str]:
        extra = self.headers_ref() if callable(self.headers_ref) else (self.headers_ref or {})
        for value in extra.values():
            self.redactor.register(value)  # a header value must never show up in a log line
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **extra,
            "Idempotency-Key": key,
        }

    def emit(self, event: Event) -> None:
        key = idempotency_key(event)
        with self._lock:
            if key in self._delivered:
                logger.debug("webhook %s already has event %s (key %s)", self.name, event.name, key)
                return
        body = json.dumps(self.render(event), default=str, ensure_ascii=False).encode("utf-8")
        headers = self._headers(key)
        attempts = max(1, self.backoff.attempts)
        last = ""
        for attempt in range(1, attempts + 1):
            wait: float | None = None
            try:
                resp = self._client.post(self.url, content=body, headers=headers)
            except httpx.TimeoutException:
                last = "timed out"
            except httpx.TransportError as exc:
                last = f"network error ({type(exc).__name__})"
            else:
                if resp.is_success:
                    self._remember(key)
                    return
                snippet = self.redactor.redact_str(resp.text[:200].strip())
                last = f"HTTP {resp.status_code}" + (f": {snippet}" if snippet else "")
                if resp.status_code not in RETRY_STATUSES:
                    raise DeliveryError(
                        f"webhook {self.name} refused event {event.name} with {last}; "
                        "check the URL and the receiver's credentials, this is not retried",
                        sink=self.name,
                        attempts=attempt,
                        status_code=resp.status_code,
                    )
                wait = parse_retry_after(resp.headers.get("Retry-After"), cap=self.backoff.cap)
            if attempt < attempts:
                delay = wait if wait is not None else self.backoff.delay(attempt)
                logger.info(
                    "webhook %s: attempt %d/%d for event %s failed (%s); retrying in %.2fs",
                    self.name,
                    attempt,
                    attempts,
                    event.name,
                    last,
                    delay,
                )
                self._sleep(delay)
        raise DeliveryError(
            f"webhook {self.name} did not accept event {event.name} after {attempts} attempts "
            f"(last: {last}); check that the receiver is up",
            sink=self.name,
            attempts=attempts,
        )

    def _remember(self, key: str) -> None:
        with self._lock:
            self._delivered[key] = None
            while len(self._delivered) > self._dedup_size:
                self._delivered.popitem(last=False)

    def flush(self) -> None:
        return None  # every emit is sent synchronously

    def close(self) -> None:
        self._client.close()


# -- Slack ----------------------------------------------------------------------------------

_SEVERITY_ICON = {
    "critical": ":rotating_light:",
    "error": ":red_circle:",
    "warning": ":warning:",
    "info": ":information_source:",
    "debug": ":information_source:",
}


def _mrkdwn(text: str) -> str:
    """Escape the three characters Slack treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(event: Event) -> dict[str, Any]:
    """A Slack incoming-webhook message (``text`` fallback + Block Kit blocks).

    Respects Slack's limits: header text 150 characters, section text 3,000.
    """
    f = event.fields
    severity = str(f.get("severity", event.level))
    icon = _SEVERITY_ICON.get(severity, _SEVERITY_ICON["info"])
    if event.name == "alert":
        title = str(f.get("title") or "luigi-airbyte alert")
        body = str(f.get("text") or "")
        ids = [
            f"{label} `{_mrkdwn(str(f[k]))}`"
            for label, k in (
                ("pipeline", "pipeline"),
                ("step", "step"),
                ("run", "run_id"),
                ("job", "job_id"),
            )
            if f.get(k) not in (None, "")
        ]
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": _cut(f"{title}", 150)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(_mrkdwn(body), 3000)}},
        ]
        if ids:
            context = " · ".join(ids)
            context += f" · owner `{_mrkdwn(str(f.get('owner_role', '')))}`"
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
        links = f.get("links") or {}
        if isinstance(links, Mapping) and links:
            text = " · ".join(f"<{url}|{_mrkdwn(str(label))}>" for label, url in links.items())
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, 3000)}})
        return {"text": _cut(f"{icon} [{severity.upper()}] {title}", 3000), "blocks": blocks}
    details = ", ".join(f"{k}={v}" for k, v in f.items())
    line = f"{icon} *{_mrkdwn(event.name)}*" + (f" {_mrkdwn(details)}" if details else "")
    return {"text": _cut(line, 3000)}


class SlackWebhookSink(WebhookSink):
    """A webhook sink that formats messages for Slack incoming webhooks."""

    kind = "slack"

    def render(self, event: Event) -> dict[str, Any]:
        return slack_payload(event)
