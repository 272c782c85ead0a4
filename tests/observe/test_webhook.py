"""WebhookSink and SlackWebhookSink against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from email.utils import format_datetime

import pytest

from luigi_airbyte.backoff import Backoff
from luigi_airbyte.observe import (
    Alert,
    DeliveryError,
    Event,
    EventBus,
    SlackWebhookSink,
    WebhookSink,
)
from luigi_airbyte.observe.redact import Redactor
from luigi_airbyte.observe.sinks.webhook import idempotency_key, slack_payload

from .conftest import HookServer

FAST = Backoff(attempts=4, base=0.01, cap=0.05)


def alert_event(**kw: object) -> Event:
    fields = dict(
        owner_role="data-platform",
        severity="error",
        title="Sync crm failed",
        text="Airbyte job 42 failed after 3 attempts",
        run_id="run-1",
        step="crm",
        job_id=42,
        pipeline="nightly",
    )
    fields.update(kw)
    return Alert(**fields).to_event()  # type: ignore[arg-type]


def test_posts_json_with_idempotency_key(hook_server: HookServer, redactor: Redactor) -> None:
    sink = WebhookSink(hook_server.url, redactor=redactor, backoff=FAST)
    event = Event("sync.succeeded", {"run_id": "r1", "step": "crm", "job_id": 9})
    sink.emit(event)
    sink.close()
    (got,) = hook_server.received
    assert got.json()["event"] == "sync.succeeded"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Idempotency-Key"] == idempotency_key(event)


def test_5xx_is_retried_with_the_same_key(hook_server: HookServer, redactor: Redactor) -> None:
    hook_server.fail_first = 2
    sink = WebhookSink(hook_server.url, redactor=redactor, backoff=FAST)
    sink.emit(alert_event())
    keys = hook_server.keys()
    assert len(keys) == 3 and len(set(keys)) == 1


def test_429_honours_retry_after(hook_server: HookServer, redactor: Redactor) -> None:
    hook_server.fail_first, hook_server.fail_status, hook_server.retry_after = 1, 429, "0.02"
    delays: list[float] = []
    sink = WebhookSink(hook_server.url, redactor=redactor, backoff=FAST, sleep=delays.append)
    sink.emit(alert_event())
    assert delays == [0.02]
    assert len(hook_server.received) == 2


def test_503_honours_an_http_date_retry_after(hook_server: HookServer, redactor: Redactor) -> None:
    when = datetime.fromtimestamp(time.time() + 5, tz=timezone.utc)
    hook_server.fail_first, hook_server.fail_status = 1, 503
    hook_server.retry_after = format_datetime(when, usegmt=True)
    delays: list[float] = []
    slow_cap = Backoff(attempts=2, base=0.001, cap=30.0)
    sink = WebhookSink(hook_server.url, redactor=redactor, backoff=slow_cap, sleep=delays.append)
    sink.emit(alert_event())
    # The date is whole seconds, about 5 s ahead: the wait follows it, not the 1 ms backoff.
    assert len(delays) == 1 and 3.0 < delays[0] <= 5.0
    assert len(hook_server.received) == 2


def test_http_date_retry_after_is_capped(hook_server: HookServer, redactor: Redactor) -> None:
    when = datetime.fromtimestamp(time.time() + 3600, tz=timezone.utc)
    hook_server.fail_first, hook_server.fail_status = 1, 429
    hook_server.retry_after = format_datetime(when, usegmt=True)
    delays: list[float] = []
    sink = WebhookSink(hook_server.url, redactor=redactor, backoff=FAST, sleep=delays.append)
    sink.emit(alert_event())
    assert delays == [FAST.cap]


@pytest.mark.parametrize(
    ("status", "retried"),
    [(s, True) for s in (408, 425, 429, 500, 502, 503, 504)]
    + [(s, False) for s in (400, 404, 501, 505)],
)
def test_exactly_the_documented_statuses_are_retried(
    hook_server: HookServer, redactor: Redactor, status: int, retried: bool
) -> None:
    hook_server.fail_first, hook_server.fail_status = 1, status
    sink = WebhookSink(hook_server.url, redactor=redactor, backoff=FAST, sleep=lambda _: None)
    if retried:
        sink.emit(alert_event())
        assert len(hook_server.received) == 2
    else:
        with pytest.raises(DeliveryError, match=f"HTTP {status}"):
            sink.emit(alert_event())
        assert len(hook_server.received) == 1


def test_timeout_is_retried(hook_server: HookServer, redactor: Redactor) -> None:
    hook_server.fail_first, hook_server.mode, hook_server.delay = 1, "timeout", 0.5
    sink = WebhookSink(hook_server.url, redactor=redactor, backoff=FAST, timeout=0.1)
    sink.emit(alert_event())
    assert len(hook_server.received) == 2
    assert len(set(hook_server.keys())) == 1


def test_exhausted_retries_raise(hook_server: HookServer, redactor: Redactor) -> None:
    hook_server.fail_first = 100
    sink = WebhookSink(hook_server.url, redactor=redactor, backoff=Backoff(3, 0.001, 0.001))
    with pytest.raises(DeliveryError, match="after 3 attempts") as info:
        sink.emit(alert_event())
    assert info.value.attempts == 3
    assert "hooks/alerts" not in str(info.value)  # the path may be a credential
    assert len(hook_server.received) == 3


def test_4xx_is_not_retried(hook_server: HookServer, redactor: Redactor) -> None:
    hook_server.always_status = 403
    sink = WebhookSink(hook_server.url, redactor=redactor, backoff=FAST)
    with pytest.raises(DeliveryError, match="HTTP 403") as info:
        sink.emit(alert_event())
    assert info.value.status_code == 403
    assert len(hook_server.received) == 1


def test_connection_refused_is_retried_then_raises(redactor: Redactor) -> None:
    sink = WebhookSink("http://127.0.0.1:9/h", redactor=redactor, backoff=Backoff(2, 0.001, 0.001))
    with pytest.raises(DeliveryError, match="network error"):
        sink.emit(alert_event())


def test_same_alert_is_posted_once(hook_server: HookServer, redactor: Redactor) -> None:
    sink = WebhookSink(hook_server.url, redactor=redactor, backoff=FAST)
    sink.emit(alert_event())
    sink.emit(alert_event())  # same run, step, job and kind
    sink.emit(alert_event(kind="sla"))  # a different problem of the same job
    assert len(hook_server.received) == 2


def test_repeated_progress_events_are_not_collapsed(
    hook_server: HookServer, redactor: Redactor
) -> None:
    sink = WebhookSink(hook_server.url, redactor=redactor, backoff=FAST)
    for pct in (10, 50):
        sink.emit(Event("sync.progress", {"run_id": "r", "step": "crm", "job_id": 1, "pct": pct}))
    assert len(set(hook_server.keys())) == 2


def test_alert_keys_are_stable_across_processes() -> None:
    assert idempotency_key(alert_event()) == idempotency_key(alert_event())


def test_headers_ref_is_resolved_at_send_time_and_never_logged(
    hook_server: HookServer,
    redactor: Redactor,
    canary: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook_server.fail_first = 1
    calls = []

    def headers() -> dict[str, str]:
        calls.append(1)
        return {"Authorization": f"Bearer {canary}"}

    sink = WebhookSink(hook_server.url, headers, redactor=redactor, backoff=FAST)
    with caplog.at_level(logging.DEBUG):
        sink.emit(alert_event())
    assert calls == [1]
    assert hook_server.received[-1].headers["Authorization"] == f"Bearer {canary}"
    assert canary not in caplog.text


def test_secret_in_url_query_is_registered(redactor: Redactor) -> None:
    sink = WebhookSink("https://alerts.example.com/h?token=tok-abcdef-123", redactor=redactor)
    assert "tok-abcdef-123" not in redactor.redact_str("sent with tok-abcdef-123")
    assert "tok-abcdef" not in sink.name
    sink.close()


def test_bus_runs_webhook_in_background_and_redacts(
    hook_server: HookServer, redactor: Redactor, canary: str
) -> None:
    sink = WebhookSink(hook_server.url, redactor=redactor, backoff=FAST)
    with EventBus([sink], redactor=redactor) as bus:
        bus.emit(Event("sync.failed", {"error": f"token {canary} rejected", "password": "x"}))
    body = hook_server.received[0].body.decode()
    assert "sync.failed" in body and canary not in body


def test_slack_alert_formatting() -> None:
    event = alert_event(
        title="Sync <crm> & co failed",
        links={"Airbyte job": "https://airbyte.example/jobs/42"},
        airbyte_message="Source connector crashed",
        next_step="Check the source credentials, then rerun",
    )
    payload = slack_payload(event)
    assert payload["text"].startswith(":red_circle: [ERROR] Sync <crm> & co failed")
    header, section, context, links = payload["blocks"]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert "&lt;crm&gt; &amp; co" in section["text"]["text"]
    assert "Airbyte said: Source connector crashed" in section["text"]["text"]
    assert "Next step: Check the source credentials" in section["text"]["text"]
    assert "run `run-1`" in context["elements"][0]["text"]
    assert "job `42`" in context["elements"][0]["text"]
    assert "<https://airbyte.example/jobs/42|Airbyte job>" in links["text"]["text"]


def test_slack_limits_and_plain_events() -> None:
    payload = slack_payload(alert_event(title="t" * 500, text="x" * 10_000))
    assert len(payload["blocks"][0]["text"]["text"]) <= 150
    assert len(payload["blocks"][1]["text"]["text"]) <= 3000
    plain = slack_payload(Event("run.finished", {"status": "ok"}))
    assert plain == {"text": ":information_source: *run.finished* status=ok"}


def test_slack_sink_posts_slack_payload(hook_server: HookServer, redactor: Redactor) -> None:
    sink = SlackWebhookSink(hook_server.url, redactor=redactor, backoff=FAST)
    sink.emit(alert_event())
    body = hook_server.received[0].json()
    assert set(body) == {"text", "blocks"}
    assert sink.name.startswith("slack:http://127.0.0.1:")
