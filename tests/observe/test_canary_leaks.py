"""Canary scan (reliability notes §7 item 9): secrets never reach any observe output.

One scenario wires every output at once (log handler, console, JSONL, webhook, Slack,
CloudWatch, alerts, lineage), pushes registered canaries and canaries under sensitive
keys through events, alerts and logs (with chained exceptions), then scans everything.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from pathlib import Path
from typing import Any

from luigi_airbyte.backoff import Backoff
from luigi_airbyte.observe import (
    Alert,
    AlertRouter,
    CloudWatchLogsSink,
    ConsoleSink,
    Event,
    EventBus,
    JsonLinesSink,
    LineageEmitter,
    ListEmitter,
    SlackWebhookSink,
    WebhookSink,
)
from luigi_airbyte.observe.redact import RedactingFilter, Redactor

from .conftest import HookServer
from .test_cloudwatch import read_back
from .test_lineage import MemoryTransport


def test_no_canary_in_any_output(tmp_path: Path, hook_server: HookServer, aws: Any) -> None:
    registered = f"CANARY-{uuid.uuid4()}"  # e.g. the resolved Airbyte client secret
    unregistered = f"CANARY-{uuid.uuid4()}"  # only ever appears under a sensitive key
    redactor = Redactor()
    redactor.register(registered)
    hook_server.fail_first = 1  # exercise the retry path too
    fast = Backoff(attempts=3, base=0.01, cap=0.02)

    # logging, as the CLI would configure it
    log_stream = io.StringIO()
    handler = logging.StreamHandler(log_stream)
    handler.addFilter(RedactingFilter(redactor))
    lib_logger = logging.getLogger("luigi_airbyte")
    lib_logger.addHandler(handler)
    lib_logger.setLevel(logging.DEBUG)

    console = io.StringIO()
    jsonl = tmp_path / "events.jsonl"
    bus = EventBus(redactor=redactor)
    bus.add(ConsoleSink(console, min_level="debug"))
    bus.add(JsonLinesSink(jsonl))
    bus.add(WebhookSink(hook_server.url, redactor=redactor, backoff=fast))
    bus.add(CloudWatchLogsSink("/canary", "s", client=aws))
    seen = ListEmitter()
    bus.add(seen)

    router = AlertRouter(
        {"data-platform": ["slack:" + hook_server.url, f"jsonl:{tmp_path}/alerts.jsonl"]},
        lambda uri: (
            SlackWebhookSink(uri.split(":", 1)[1], redactor=redactor, backoff=fast)
            if uri.startswith("slack:")
            else JsonLinesSink(uri.split(":", 1)[1])
        ),
        events=bus,
        redactor=redactor,
    )
    lineage_transport = MemoryTransport()
    lineage = LineageEmitter(lineage_transport, redactor=redactor)

    try:
        # events with secrets in text, nested structures and under sensitive keys
        bus.emit(
            Event(
                "sync.failed",
                {
                    "error": f"POST /v1/applications/token with client_secret={registered}",
                    "request": {"headers": {"Authorization": f"Bearer {unregistered}"}},
                    "config": {"password": unregistered, "hosts": ["db", registered]},
                    "echo": json.dumps({"client_secret": unregistered}),
                },
                level="error",
            )
        )
        # an alert whose Airbyte message echoes a secret
        result = router.alert(
            Alert(
                owner_role="data-platform",
                severity="critical",
                title="Sync crm failed",
                text=f"credential {registered} refused",
                run_id="run-1",
                step="crm",
                job_id=42,
                pipeline="nightly",
                airbyte_message=f'{{"access_token": "{unregistered}"}}',
                next_step="rotate the credential, then rerun",
            )
        )
        assert result.ok
        # logs: %-args, extra, exceptions with chained causes
        try:
            try:
                raise ConnectionError(f"auth failed for {registered}")
            except ConnectionError as exc:
                raise RuntimeError(f"token={unregistered}") from exc
        except RuntimeError:
            logging.getLogger("luigi_airbyte.sync").exception(
                "sync %s failed with %s", "crm", registered, extra={"api_key": unregistered}
            )
        lineage.fail(
            run_id="run-1",
            pipeline="nightly",
            step="crm",
            step_type="sync",
            error=f"password={unregistered} and {registered}",
        )
    finally:
        router.close()
        bus.close()
        lib_logger.removeHandler(handler)

    outputs = {
        "logs": log_stream.getvalue(),
        "console": console.getvalue(),
        "jsonl": jsonl.read_text(),
        "alerts.jsonl": (tmp_path / "alerts.jsonl").read_text(),
        "webhook bodies": "\n".join(r.body.decode() for r in hook_server.received),
        "cloudwatch": "\n".join(e["message"] for e in read_back(aws, "/canary", "s")),
        "in-memory events": json.dumps([e.to_dict() for e in seen.events], default=str),
        "lineage": "\n".join(
            json.dumps(e, default=str) for e in map(_ol_json, lineage_transport.events)
        ),
    }
    for where, text in outputs.items():
        assert text, f"{where} is empty: the scenario did not exercise it"
        assert registered not in text, f"registered canary leaked into {where}"
        assert unregistered not in text, f"unregistered canary leaked into {where}"
        assert "CANARY-" not in text, f"a canary prefix leaked into {where}"
    # the useful content survived redaction
    assert "sync.failed" in outputs["cloudwatch"]
    assert "Sync crm failed" in outputs["webhook bodies"]
    assert "RuntimeError" in outputs["logs"] and "ConnectionError" in outputs["logs"]


def _ol_json(event: Any) -> Any:
    from openlineage.client.serde import Serde

    return json.loads(Serde.to_json(event))
