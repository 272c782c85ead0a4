"""Event sinks: console, JSON lines, CloudWatch Logs, webhooks (generic and Slack)."""

from luigi_airbyte.observe.sinks.base import DeliveryError, SinkError, safe_url
from luigi_airbyte.observe.sinks.cloudwatch import CloudWatchLogsSink, batch_log_events
from luigi_airbyte.observe.sinks.console import ConsoleSink, format_line
from luigi_airbyte.observe.sinks.jsonl import JsonLinesSink
from luigi_airbyte.observe.sinks.uri import (
    SINK_KINDS,
    SinkURI,
    SinkURIError,
    display_uri,
    parse_sink_uri,
    sink_from_uri,
)
from luigi_airbyte.observe.sinks.webhook import (
    HeadersRef,
    SlackWebhookSink,
    WebhookSink,
    idempotency_key,
    slack_payload,
)

__all__ = [
    "SINK_KINDS",
    "CloudWatchLogsSink",
    "ConsoleSink",
    "DeliveryError",
    "HeadersRef",
    "JsonLinesSink",
    "SinkError",
    "SinkURI",
    "SinkURIError",
    "SlackWebhookSink",
    "WebhookSink",
    "batch_log_events",
    "display_uri",
    "format_line",
    "idempotency_key",
    "parse_sink_uri",
    "safe_url",
    "sink_from_uri",
    "slack_payload",
]
