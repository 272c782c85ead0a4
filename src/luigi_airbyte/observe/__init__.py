"""luigi_airbyte.observe: events, sinks, alert routing by owner role, redaction, lineage.

Depends only on the standard library, httpx, and (lazily) boto3 / openlineage-python.
Lineage names are imported from :mod:`luigi_airbyte.observe.lineage` itself; they are
re-exported here without importing openlineage until an emitter is created.
"""

from luigi_airbyte.observe.alerts import (
    DEFAULT_ROLE,
    SEVERITIES,
    Alert,
    AlertResult,
    AlertRouter,
    Owners,
)
from luigi_airbyte.observe.bus import EventBus, SinkStats
from luigi_airbyte.observe.events import (
    LEVELS,
    Emitter,
    Event,
    ListEmitter,
    NullEmitter,
    Sink,
    level_rank,
    utcnow,
)
from luigi_airbyte.observe.lineage import (
    LineageDataset,
    LineageEmitter,
    dbt_datasets,
    sync_datasets,
)
from luigi_airbyte.observe.redact import (
    DEFAULT_SENSITIVE_KEYS,
    REDACTED,
    RedactingFilter,
    Redactor,
    default_redactor,
    install_redaction,
)
from luigi_airbyte.observe.sinks import (
    CloudWatchLogsSink,
    ConsoleSink,
    DeliveryError,
    JsonLinesSink,
    SinkError,
    SinkURI,
    SinkURIError,
    SlackWebhookSink,
    WebhookSink,
    parse_sink_uri,
    sink_from_uri,
)

__all__ = [
    "DEFAULT_ROLE",
    "DEFAULT_SENSITIVE_KEYS",
    "LEVELS",
    "REDACTED",
    "SEVERITIES",
    "Alert",
    "AlertResult",
    "AlertRouter",
    "CloudWatchLogsSink",
    "ConsoleSink",
    "DeliveryError",
    "Emitter",
    "Event",
    "EventBus",
    "JsonLinesSink",
    "LineageDataset",
    "LineageEmitter",
    "ListEmitter",
    "NullEmitter",
    "Owners",
    "RedactingFilter",
    "Redactor",
    "Sink",
    "SinkError",
    "SinkStats",
    "SinkURI",
    "SinkURIError",
    "SlackWebhookSink",
    "WebhookSink",
    "dbt_datasets",
    "default_redactor",
    "install_redaction",
    "level_rank",
    "parse_sink_uri",
    "sink_from_uri",
    "sync_datasets",
    "utcnow",
]
