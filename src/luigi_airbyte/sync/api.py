"""The slice of the Airbyte client the runner uses, as a structural ``Protocol``.

Depending on this instead of ``AirbyteClient`` keeps the runner testable with a small
scripted fake, and keeps it working while the client's internals change: the real
client satisfies it without inheriting from it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from luigi_airbyte.airbyte.models import (
    Connection,
    Job,
    JobDetails,
    JobStatus,
    JobType,
    RefreshMode,
)
from luigi_airbyte.errors import AirbyteError, AirbyteTransportError, RateLimitedError, ServerError

#: Failures worth another try on a read: the request may not have arrived, or Airbyte
#: was briefly unable to answer. Anything else (401, 404, 400) will not fix itself.
TRANSIENT_ERRORS: tuple[type[AirbyteError], ...] = (
    AirbyteTransportError,
    ServerError,
    RateLimitedError,
)


class AirbyteJobsAPI(Protocol):
    """Job operations of the Airbyte client (see ``luigi_airbyte.airbyte.client``)."""

    def get_job(self, job_id: int, /) -> Job:
        """``GET /jobs/{id}``; transient failures raise transport/5xx/429 errors."""
        ...

    def create_job(self, connection_id: str, /, job_type: JobType) -> Job:
        """``POST /jobs``; raises ``SyncAlreadyRunningError`` (409) or
        ``JobCreateUncertainError`` (answer lost; never retried by the client)."""
        ...

    def cancel_job(self, job_id: int, /) -> Job:
        """``DELETE /jobs/{id}``; the answer may still show the job running."""
        ...

    def list_jobs(
        self,
        connection_id: str | None = None,
        *,
        job_type: JobType | None = None,
        status: JobStatus | None = None,
        created_at_start: datetime | None = None,
        created_at_end: datetime | None = None,
        order_by: str = "createdAt|DESC",
        page_size: int = 100,
        max_items: int | None = None,
    ) -> Iterator[Job]:
        """``GET /jobs`` across pages."""
        ...

    def get_job_details(self, job_id: int, /) -> JobDetails | None:
        """Attempts and per-stream stats (config API); ``None`` where that API is unavailable."""
        ...

    def job_url(self, job: Job, /, connection: Connection | None = None) -> str:
        """A link to the job in the Airbyte UI."""
        ...


@runtime_checkable
class RefreshAPI(Protocol):
    """A client that can start refreshes (the config API's ``/v1/connections/refresh``)."""

    def refresh_streams(
        self, connection_id: str, streams: Sequence[str] = (), *, mode: RefreshMode = "Truncate"
    ) -> Job:
        """Start a refresh; the errors are ``create_job``'s."""
        ...
