"""AlertRouter: role routes, default fallback, unrouted alerts, dedup, failures."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from luigi_airbyte.backoff import Backoff
from luigi_airbyte.errors import ConfigError
from luigi_airbyte.observe import (
    Alert,
    AlertRouter,
    DeliveryError,
    Event,
    ListEmitter,
    Owners,
    WebhookSink,
)
from luigi_airbyte.observe.redact import Redactor

from .conftest import HookServer


class Collect(ListEmitter):
    """A route sink that records what it got; named by its URI."""

    def __init__(self, uri: str, fail: int = 0, error: Exception | None = None) -> None:
        super().__init__()
        self.uri = uri
        self.fail = fail
        self.error = error or RuntimeError("receiver down")
        self.flushed = 0
        self.closed = 0

    def emit(self, event: Event) -> None:
        if self.fail:
            self.fail -= 1
            raise self.error
        super().emit(event)

    def flush(self) -> None:
        self.flushed += 1

    def close(self) -> None:
        self.closed += 1


class Factory:
    def __init__(self, **fail: int) -> None:
        self.sinks: dict[str, Collect] = {}
        self.fail = fail

    def __call__(self, uri: str) -> Collect:
        sink = self.sinks[uri] = Collect(uri, fail=self.fail.get(uri.split(":", 1)[1], 0))
        return sink


def make_alert(**kw: object) -> Alert:
    fields: dict[str, object] = dict(
        owner_role="data-platform",
        severity="error",
        title="Sync crm failed",
        text="Airbyte job 42 for connection crm failed",
        run_id="run-1",
        step="crm",
        job_id=42,
        pipeline="nightly",
        airbyte_message="Source connector exited with code 1",
        next_step="Check the source credentials in Airbyte, then rerun the pipeline",
        links={"job": "http://airbyte.local/jobs/42"},
    )
    fields.update(kw)
    return Alert(**fields)  # type: ignore[arg-type]


OWNERS = Owners({"data-platform": ["console:a", "console:b"], "default": ["console:oncall"]})


def router(
    owners: Owners = OWNERS, factory: Factory | None = None, **kw: object
) -> tuple[AlertRouter, Factory, ListEmitter]:
    factory = factory or Factory()
    events = ListEmitter()
    r = AlertRouter(
        owners,
        factory,
        events=events,
        redactor=Redactor(),
        sleep=lambda _: None,
        **kw,  # type: ignore[arg-type]
    )
    return r, factory, events


def test_alert_goes_to_every_route_of_the_role() -> None:
    r, factory, events = router()
    result = r.alert(make_alert())
    assert result.ok and result.role == "data-platform"
    assert result.delivered == ("console:a", "console:b")
    for uri in ("console:a", "console:b"):
        (event,) = factory.sinks[uri].events
        assert event.name == "alert" and event.fields["dedup_key"] == "run-1|crm|42|failure"
        assert factory.sinks[uri].flushed == 1
    assert "console:oncall" not in factory.sinks
    assert events.names() == ["alert.sent"]


def test_alert_text_says_what_ids_airbyte_message_and_next_step() -> None:
    text = make_alert().message()
    assert "Sync crm failed" in text
    assert "Airbyte job 42 for connection crm failed" in text
    for part in ("pipeline: nightly", "step: crm", "run: run-1", "Airbyte job: 42"):
        assert part in text
    assert "Airbyte said: Source connector exited with code 1" in text
    assert "Next step: Check the source credentials" in text
    assert "job: http://airbyte.local/jobs/42" in text


def test_unknown_role_falls_back_to_default() -> None:
    r, _, events = router()
    result = r.alert(make_alert(owner_role="finance"))
    assert result.role == "default" and result.delivered == ("console:oncall",)
    assert events.names() == ["alert.fallback", "alert.sent"]
    assert events.events[0].fields["routed_to"] == "default"


def test_role_with_no_routes_falls_back_too() -> None:
    r, _, _ = router(Owners({"data-platform": [], "default": ["console:oncall"]}))
    assert r.alert(make_alert()).role == "default"


def test_unknown_role_without_default_is_an_error_event(caplog: pytest.LogCaptureFixture) -> None:
    r, factory, events = router(Owners({"data-platform": ["console:a"]}))
    with caplog.at_level(logging.ERROR):
        result = r.alert(make_alert(owner_role="finance"))
    assert not result.ok and result.role is None
    (event,) = events.events
    assert event.name == "alert.unrouted" and event.level == "error"
    assert "Sync crm failed" in event.fields["text"]  # the alert content is kept, not lost
    assert "finance" in caplog.text
    assert not factory.sinks


def test_dedup_per_run_step_job_kind() -> None:
    r, factory, events = router()
    assert r.alert(make_alert()).ok
    again = r.alert(make_alert(title="retry raised it again"))
    assert again.deduplicated and again.ok
    assert r.alert(make_alert(kind="sla")).delivered  # another kind of problem
    assert r.alert(make_alert(job_id=43)).delivered  # another job
    assert r.alert(make_alert(run_id="run-2")).delivered  # another run
    assert len(factory.sinks["console:a"].events) == 4
    assert events.names().count("alert.deduplicated") == 1


def test_persisted_dedup_keys() -> None:
    stored: list[str] = []
    r1, _, _ = router(on_sent=stored.append)
    r1.alert(make_alert())
    assert stored == ["run-1|crm|42|failure"]
    r2, factory, _ = router(sent_keys=stored)  # e.g. a resumed run
    assert r2.alert(make_alert()).deduplicated
    assert not factory.sinks


def test_transient_failure_is_retried() -> None:
    factory = Factory(a=1)
    r, _, events = router(factory=factory)
    result = r.alert(make_alert())
    assert result.ok and len(factory.sinks["console:a"].events) == 1
    assert "alert.failed" not in events.names()


def test_delivery_failure_is_recorded_as_alert_failed(caplog: pytest.LogCaptureFixture) -> None:
    factory = Factory(a=5)
    r, _, events = router(factory=factory, attempts=3)
    with caplog.at_level(logging.ERROR):
        result = r.alert(make_alert())
    assert result.failed == ("console:a",) and result.delivered == ("console:b",)
    assert not result.ok
    failed = [e for e in events.events if e.name == "alert.failed"]
    assert len(failed) == 1
    assert failed[0].fields["route"] == "console:a"
    assert failed[0].fields["attempts"] == 3
    assert "receiver down" in failed[0].fields["error"]
    assert "alert.sent" in events.names()  # b got it


def test_route_retries_wait_from_the_shared_backoff() -> None:
    factory = Factory(a=9)
    sleeps: list[float] = []
    r = AlertRouter(
        Owners({"default": ["console:a"]}),
        factory,
        redactor=Redactor(),
        attempts=5,
        retry_delay=1.0,
        sleep=sleeps.append,
    )
    assert not r.alert(make_alert()).ok
    assert sleeps == [1.0, 2.0, 4.0, 8.0]  # retry_delay, doubling, no jitter


def test_all_routes_failing_leaves_the_alert_retryable() -> None:
    factory = Factory(a=2, b=2)
    r, _, events = router(factory=factory, attempts=2)
    first = r.alert(make_alert())
    assert not first.delivered and len(first.failed) == 2
    assert "alert.sent" not in events.names()
    second = r.alert(make_alert())  # nothing was delivered, so it is not a duplicate
    assert second.ok


def test_bad_route_uri_becomes_alert_failed(tmp_path: Path) -> None:
    events = ListEmitter()
    r = AlertRouter(
        Owners({"data-platform": ["bogus:thing", f"jsonl:{tmp_path}/alerts.jsonl"]}),
        events=events,
        redactor=Redactor(),
    )
    result = r.alert(make_alert())
    r.close()
    assert result.failed == ("bogus:thing",) and len(result.delivered) == 1
    (failed,) = [e for e in events.events if e.name == "alert.failed"]
    assert "unknown sink kind" in failed.fields["error"]
    stored = json.loads((tmp_path / "alerts.jsonl").read_text())
    assert stored["event"] == "alert" and stored["run_id"] == "run-1"


def test_webhook_500_then_ok_delivers_once(hook_server: HookServer) -> None:
    hook_server.fail_first = 2
    redactor = Redactor()
    events = ListEmitter()
    fast = Backoff(attempts=4, base=0.01, cap=0.02)
    r = AlertRouter(
        {"data-platform": ["webhook:" + hook_server.url]},
        lambda uri: WebhookSink(uri.split(":", 1)[1], redactor=redactor, backoff=fast),
        events=events,
        redactor=redactor,
    )
    assert r.alert(make_alert()).ok
    assert r.alert(make_alert()).deduplicated
    r.close()
    assert len(hook_server.received) == 3  # two 500s, one success, no second alert
    assert len(set(hook_server.keys())) == 1
    assert events.names() == ["alert.sent", "alert.deduplicated"]


def test_webhook_4xx_is_not_retried_by_the_router(hook_server: HookServer) -> None:
    hook_server.always_status = 404
    redactor = Redactor()
    events = ListEmitter()
    r = AlertRouter(
        {"data-platform": ["webhook:" + hook_server.url]},
        lambda uri: WebhookSink(uri.split(":", 1)[1], redactor=redactor),
        events=events,
        redactor=redactor,
        attempts=3,
        sleep=lambda _: None,
    )
    assert not r.alert(make_alert()).ok
    assert len(hook_server.received) == 1
    assert events.names() == ["alert.failed"]
    assert "404" in events.events[0].fields["error"]
    assert "hooks/alerts" not in json.dumps(events.events[0].to_dict())


def test_router_never_raises_even_if_events_emitter_breaks() -> None:
    class Broken:
        def emit(self, event: Event) -> None:
            raise OSError("full")

    r = AlertRouter(OWNERS, Factory(), events=Broken(), redactor=Redactor())
    assert r.alert(make_alert()).ok


def test_close_closes_route_sinks() -> None:
    r, factory, _ = router()
    r.alert(make_alert())
    r.close()
    assert all(s.closed == 1 for s in factory.sinks.values())


def test_owners_from_pipeline_config() -> None:
    owners = Owners.from_config(
        {
            "data-platform": {"alerts": ["webhook:https://hooks.example/alerts", "console"]},
            "analytics": ["slack:https://hooks.slack.com/services/T/B/X"],
            "finance": {"alerts": "console"},
        }
    )
    assert owners["data-platform"] == ("webhook:https://hooks.example/alerts", "console")
    assert owners.resolve("analytics")[0] == "analytics"
    assert "services/T/B/X" not in repr(owners)


def test_owners_from_config_lists_every_problem() -> None:
    with pytest.raises(ConfigError) as info:
        Owners.from_config(
            {
                "a": {"alerts": ["kafka:x", "webhook:http://plain.example/h"]},
                "b": {"alerts": [1, 2]},
            },
            source="pipeline.yaml",
        )
    problems = info.value.problems
    assert [p.field for p in problems] == [
        "owners.b.alerts",
        "owners.a.alerts[0]",
        "owners.a.alerts[1]",
    ]
    assert all(p.fix for p in problems) and all(p.source == "pipeline.yaml" for p in problems)


def test_delivery_error_from_sink_is_reported_verbatim_but_redacted(canary: str) -> None:
    redactor = Redactor()
    redactor.register(canary)

    class Leaky(Collect):
        def emit(self, event: Event) -> None:
            raise DeliveryError(f"refused: token {canary}", status_code=401)

    events = ListEmitter()
    r = AlertRouter({"x": ["console"]}, Leaky, events=events, redactor=redactor)
    assert not r.alert(make_alert(owner_role="x")).ok
    assert canary not in json.dumps([e.to_dict() for e in events.events], default=str)
