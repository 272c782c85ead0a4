"""The Airbyte HTTP client: auth, retries, typed models, errors, pagination.

Knows nothing of Luigi. Everything public is listed in ``__all__``; the underscore
modules are private.
"""

from __future__ import annotations

from luigi_airbyte.airbyte._auth import (
    AirbyteAuth,
    AirbyteClientCredentials,
    BasicAuth,
    BearerToken,
    OIDCClientCredentials,
    SecretLike,
)
from luigi_airbyte.airbyte._catalog import StoredStream
from luigi_airbyte.airbyte._retry import RetryPolicy
from luigi_airbyte.airbyte.client import AirbyteClient
from luigi_airbyte.airbyte.models import (
    Application,
    AttemptInfo,
    Connection,
    ConnectionStatus,
    ConnectorCheck,
    Destination,
    DiscoveredStream,
    Job,
    JobDetails,
    JobStats,
    JobStatus,
    JobType,
    Source,
    StreamConfig,
    StreamProperties,
    StreamStats,
    Workspace,
)
from luigi_airbyte.airbyte.webhooks import (
    SyncNotifications,
    WebhookHint,
    WebhookPayload,
    WebhookPayloadError,
    WebhookSetting,
)
from luigi_airbyte.backoff import parse_retry_after

__all__ = [
    "AirbyteAuth",
    "AirbyteClient",
    "AirbyteClientCredentials",
    "Application",
    "AttemptInfo",
    "BasicAuth",
    "BearerToken",
    "Connection",
    "ConnectionStatus",
    "ConnectorCheck",
    "Destination",
    "DiscoveredStream",
    "Job",
    "JobDetails",
    "JobStats",
    "JobStatus",
    "JobType",
    "OIDCClientCredentials",
    "RetryPolicy",
    "SecretLike",
    "Source",
    "StoredStream",
    "StreamConfig",
    "StreamProperties",
    "StreamStats",
    "SyncNotifications",
    "WebhookHint",
    "WebhookPayload",
    "WebhookPayloadError",
    "WebhookSetting",
    "Workspace",
    "parse_retry_after",
]
