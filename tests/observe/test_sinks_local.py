"""Console and JSON-lines sinks, and the sink URI parser."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from luigi_airbyte.errors import ConfigError
from luigi_airbyte.observe import (
    CloudWatchLogsSink,
    ConsoleSink,
    Event,
    EventBus,
    JsonLinesSink,
    SinkURIError,
    SlackWebhookSink,
    WebhookSink,
    parse_sink_uri,
    sink_from_uri,
)
from luigi_airbyte.observe.redact import Redactor

AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def test_console_line_format() -> None:
    out = io.StringIO()
    sink = ConsoleSink(out)
    sink.emit(Event("sync.succeeded", {"connection": "crm", "job_id": 42, "msg": "a b"}, at=AT))
    sink.emit(Event("multi", {"text": "line1\nline2"}, at=AT, level="warning"))
    lines = out.getvalue().splitlines()
    assert (
        lines[0] == '2024-05-01T12:00:00Z INFO    sync.succeeded connection=crm job_id=42 msg="a b"'
    )
    assert lines[1].startswith("2024-05-01T12:00:00Z WARNING multi text=")
    assert len(lines) == 2  # one line per event, even with newlines in fields


def test_console_min_level_and_default_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    sink = ConsoleSink(min_level="warning")
    sink.emit(Event("quiet"))
    sink.emit(Event("loud", level="error"))
    sink.flush()
    err = capsys.readouterr().err
    assert "loud" in err and "quiet" not in err


def test_jsonl_appends_one_object_per_line(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "events.jsonl"
    sink = JsonLinesSink(path)
    sink.emit(Event("a", {"n": 1, "when": AT}, at=AT))
    sink.close()
    sink2 = JsonLinesSink(path)  # a second run appends
    sink2.emit(Event("b", {"nested": {"k": [1, 2]}}, at=AT, level="error"))
    sink2.flush()
    sink2.close()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows == [
        {"event": "a", "at": AT.isoformat(), "level": "info", "n": 1, "when": str(AT)},
        {"event": "b", "at": AT.isoformat(), "level": "error", "nested": {"k": [1, 2]}},
    ]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_jsonl_through_bus_is_redacted(tmp_path: Path, redactor: Redactor, canary: str) -> None:
    path = tmp_path / "events.jsonl"
    with EventBus([JsonLinesSink(path)], redactor=redactor) as bus:
        bus.emit(Event("sync.failed", {"error": f"login failed for {canary}", "token": "tok-123"}))
    text = path.read_text()
    assert canary not in text and "tok-123" not in text
    assert json.loads(text)["event"] == "sync.failed"


@pytest.mark.parametrize(
    ("uri", "kind", "target", "options"),
    [
        ("console", "console", "stderr", {}),
        ("console:stdout", "console", "stdout", {}),
        ("jsonl:/var/log/la/events.jsonl", "jsonl", "/var/log/la/events.jsonl", {}),
        ("jsonl:///var/log/x.jsonl", "jsonl", "/var/log/x.jsonl", {}),
        ("cloudwatch:/luigi-airbyte/prod", "cloudwatch", "/luigi-airbyte/prod", {}),
        (
            "cloudwatch:etl?stream=nightly&region=eu-west-1&retention_days=30",
            "cloudwatch",
            "etl",
            {"stream": "nightly", "region": "eu-west-1", "retention_days": "30"},
        ),
        (
            "webhook:https://alerts.example.com/hook",
            "webhook",
            "https://alerts.example.com/hook",
            {},
        ),
        ("webhook:http://127.0.0.1:8080/h", "webhook", "http://127.0.0.1:8080/h", {}),
        (
            "slack:https://hooks.slack.com/services/T/B/X",
            "slack",
            "https://hooks.slack.com/services/T/B/X",
            {},
        ),
        ("  WEBHOOK:https://a.example/h ", "webhook", "https://a.example/h", {}),
    ],
)
def test_parse_valid_uris(uri: str, kind: str, target: str, options: dict[str, str]) -> None:
    spec = parse_sink_uri(uri)
    assert (spec.kind, spec.target, dict(spec.options)) == (kind, target, options)


@pytest.mark.parametrize(
    ("uri", "fix"),
    [
        ("", "use one of"),
        ("kafka:topic", "start with one of"),
        ("jsonl:", "for example"),
        ("console:somewhere", "write console"),
        ("cloudwatch:grp?bogus=1", "?stream="),
        ("cloudwatch:my group", "cloudwatch:/my/log-group"),
        ("cloudwatch:g?stream=a:b", "fix ?stream="),
        ("cloudwatch:g?retention_days=ten", "retention_days=30"),
        ("webhook:ftp://x/y", "https://host/path"),
        ("webhook:not a url", "https://host/path"),
        ("webhook:http://alerts.example.com/h", "https://"),
        ("slack:https://", "https://host/path"),
    ],
)
def test_bad_uris_say_how_to_fix(uri: str, fix: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_sink_uri(uri)
    assert isinstance(info.value, SinkURIError)
    assert fix in info.value.fix
    problem = info.value.problem("pipeline.yaml", "owners.data.alerts[0]")
    assert "fix:" in str(ConfigError([problem]))


def test_bad_uri_error_does_not_echo_the_webhook_path() -> None:
    with pytest.raises(SinkURIError) as info:
        parse_sink_uri("slack:http://hooks.slack.com/services/T0/B0/SECRETPATH")
    assert "SECRETPATH" not in str(info.value)


def test_sink_from_uri_builds_each_kind(tmp_path: Path, redactor: Redactor) -> None:
    assert isinstance(sink_from_uri("console"), ConsoleSink)
    assert sink_from_uri("console:stdout").stream is sys.stdout  # type: ignore[attr-defined]
    assert isinstance(sink_from_uri(f"jsonl:{tmp_path}/e.jsonl"), JsonLinesSink)
    cw = sink_from_uri("cloudwatch:/g?stream=s&region=eu-west-1&retention_days=7")
    assert isinstance(cw, CloudWatchLogsSink)
    assert (cw.log_group, cw.log_stream, cw.region, cw.retention_days) == (
        "/g",
        "s",
        "eu-west-1",
        7,
    )
    hook = sink_from_uri("webhook:https://a.example/h", redactor=redactor)
    assert type(hook) is WebhookSink
    slack = sink_from_uri("slack:https://hooks.slack.com/services/T/B/X", redactor=redactor)
    assert isinstance(slack, SlackWebhookSink)
    assert "services" not in slack.name  # the name used in logs hides the path
    hook.close()
    slack.close()


def test_jsonl_emit_many_writes_the_lines_emit_would(tmp_path: Path) -> None:
    """The skip notes of a scheduling pass go out in one write: the same lines as one by one."""
    events = [Event("step.fresh", {"step": f"s{i}", "message": "é"}) for i in range(3)]
    one, many = JsonLinesSink(tmp_path / "one.jsonl"), JsonLinesSink(tmp_path / "many.jsonl")
    for event in events:
        one.emit(event)
    many.emit_many(events)
    one.close()
    many.close()
    assert (tmp_path / "many.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()
    assert len((tmp_path / "many.jsonl").read_text(encoding="utf-8").splitlines()) == 3
