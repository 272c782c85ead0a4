"""``AirbyteClient``: one object for the public API v1 and, where present, the config API.

Everything that can go wrong on the wire is decided here, once:

* every request goes through one send loop that applies the ``RetryPolicy``
  (never resending a ``POST /jobs`` that may have reached the server);
* error responses become the luigi-airbyte error tree with Airbyte's own message;
* httpx exceptions are translated at this edge and never escape;
* payloads are parsed into frozen models at the boundary.

The config API (self-hosted only) adds attempt-level stats, connector checks and
discover. It is found lazily and its absence degrades those features to None. Its
endpoints, and the applications endpoints, live in ``_endpoints.py``; reading answers
and small wire helpers in ``_http.py``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx

from luigi_airbyte import __version__
from luigi_airbyte.airbyte._auth import AirbyteAuth, AirbyteClientCredentials
from luigi_airbyte.airbyte._endpoints import (
    ApplicationEndpoints,
    ConfigAPIEndpoints,
    WorkspaceEndpoints,
)
from luigi_airbyte.airbyte._errors import (
    Redactor,
    error_from_response,
    make_redactor,
    raise_if_cut_short,
    transport_error,
)
from luigi_airbyte.airbyte._http import (
    Json,
    ResponseReader,
    _iso,
    _seg,
    _sent,
    config_api_root,
    make_http_client,
    plain_http_only,
)
from luigi_airbyte.airbyte._pagination import FetchPage, check_page_size, paginate
from luigi_airbyte.airbyte._retry import (
    RETRYABLE_STATUSES,
    RetryPolicy,
)
from luigi_airbyte.airbyte.models import (
    Connection,
    Destination,
    Job,
    JobStatus,
    JobType,
    Source,
    StreamProperties,
    Workspace,
)
from luigi_airbyte.backoff import parse_retry_after
from luigi_airbyte.closing import Closing
from luigi_airbyte.errors import (
    AirbyteAPIError,
    AirbyteError,
    AirbyteTransportError,
    AuthenticationError,
    ConfigError,
    ConnectionLookupError,
    JobCreateUncertainError,
)

logger = logging.getLogger("luigi_airbyte.airbyte")

DEFAULT_USER_AGENT = f"luigi-airbyte/{__version__} httpx/{httpx.__version__}"
CLOUD_API_HOST = "api.airbyte.com"
CLOUD_UI_URL = "https://cloud.airbyte.com"
PUBLIC_API_SUFFIX = "/api/public/v1"
SLOW_READ_TIMEOUT = 300.0  # connector checks and discover run a whole job server-side

_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_ORDER_BY = re.compile(r"^(createdAt|updatedAt)\|(ASC|DESC)$")
_NO_AUTH_HINT = (
    "This Airbyte needs a credential: configure client credentials "
    "(on abctl installs, `abctl local credentials` shows them)"
)

T = TypeVar("T")


class AirbyteClient(
    ConfigAPIEndpoints, ApplicationEndpoints, WorkspaceEndpoints, ResponseReader, Closing
):
    """Typed, retrying client for Airbyte's public API (Cloud or self-hosted).

    Args:
        url: public API base: ``https://api.airbyte.com/v1`` (Cloud) or
            ``http://host:8000/api/public/v1`` (self-hosted).
        auth: an ``httpx.Auth``, usually ``AirbyteClientCredentials``; None for
            deployments without auth.
        config_api_url: ``"auto"`` derives ``<root>/api`` from a ``/api/public/v1`` url
            and probes it on first use; a URL uses that, in either form: the spec's
            ``http://host:8000/api`` or the ``http://host:8000/api/v1`` that Airbyte's docs
            and dagster-airbyte write; None disables the config API.
        timeout: seconds, or an ``httpx.Timeout``.
        retry: the retry policy (default ``RetryPolicy()``).
        transport: an httpx transport; ``httpx.MockTransport`` in tests.
        verify: TLS verification: a bool or a CA bundle file or directory.
        user_agent: sent with every request.

    Example::

        auth = AirbyteClientCredentials(client_id, client_secret)
        with AirbyteClient(url="http://localhost:8000/api/public/v1", auth=auth) as airbyte:
            job = airbyte.create_job(airbyte.resolve_connection("crm").connection_id)
    """

    def __init__(
        self,
        *,
        url: str,
        auth: httpx.Auth | None = None,
        config_api_url: str | None = "auto",
        timeout: float | httpx.Timeout = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: bool | str = True,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"the Airbyte url must start with http:// or https://, got {url!r}")
        self._url = url.rstrip("/")
        parsed = httpx.URL(self._url)
        self._origin = f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"
        self._cloud = parsed.host == CLOUD_API_HOST
        self._root: str | None = None
        if self._url.endswith(PUBLIC_API_SUFFIX):
            self._root = self._url[: -len(PUBLIC_API_SUFFIX)]
        self._auth = auth
        if isinstance(auth, AirbyteClientCredentials):
            auth._bind_base_url(self._url)
        self._retry = retry if retry is not None else RetryPolicy()
        self._no_retry = RetryPolicy(max_attempts=1, sleep=self._retry.sleep)
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        # Built on first request (a process that never calls Airbyte pays nothing), and
        # without TLS set-up (~40 ms) when every URL it may reach is plain http.
        self._http_client: httpx.Client | None = None
        self._closed = False
        self._http_kwargs: dict[str, Any] = {
            "auth": auth,
            "timeout": self._timeout,
            "transport": transport,
            "verify": verify,
            "headers": {"User-Agent": user_agent, "Accept": "application/json"},
            "follow_redirects": False,
        }
        self._redact: Redactor = make_redactor(self._secret_values)
        self._config_setting = config_api_url
        self._config_url: str | None = None
        self._config_known = False
        self._config_lock = threading.Lock()
        self._connections: dict[str, Connection] = {}
        #: 429s without Retry-After (operator throttling) this client has met.
        self.throttled_count = 0

    # -- lifecycle ------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection pool."""
        self._closed = True
        if self._http_client is not None:
            self._http_client.close()

    @property
    def _http(self) -> httpx.Client:
        if self._http_client is None:
            if self._closed:
                raise RuntimeError("Cannot send a request, as the client has been closed.")
            plain = plain_http_only(self._auth, self._url, self._config_setting or "")
            self._http_client = make_http_client(self._http_kwargs, plain_http=plain)
        return self._http_client

    def __repr__(self) -> str:
        return f"AirbyteClient(url={self._url!r}, auth={self._auth!r})"

    @property
    def url(self) -> str:
        """The public API base URL."""
        return self._url

    @property
    def is_cloud(self) -> bool:
        """Whether this is Airbyte Cloud (no config API, cloud.airbyte.com UI)."""
        return self._cloud

    @property
    def ui_url(self) -> str:
        """The base URL of Airbyte's web UI."""
        if self._cloud:
            return CLOUD_UI_URL
        return self._root if self._root is not None else self._origin

    # -- plumbing -------------------------------------------------------------------
    def _secret_values(self) -> list[str]:
        if isinstance(self._auth, AirbyteAuth):
            return list(self._auth.secret_values())
        return []

    def _auth_hint(self) -> str:
        if isinstance(self._auth, AirbyteAuth):
            return self._auth.failure_hint()
        if self._auth is None:
            return _NO_AUTH_HINT
        return ""

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool,
        retry: bool = True,
        timeout: httpx.Timeout | None = None,
        hints: Mapping[int | str, str] | None = None,
        create_job_for: str | None = None,
    ) -> httpx.Response:
        """Send one logical request, retrying only what is safe; raise our errors."""
        policy = self._retry if retry else self._no_retry
        path = httpx.URL(url).path
        started = policy.clock()
        started_wall = datetime.now(timezone.utc)
        attempt = 0
        throttled = 0
        while True:
            attempt += 1
            request = self._http.build_request(
                method,
                url,
                params=params,
                json=json,
                timeout=timeout if timeout is not None else self._timeout,
            )
            t0 = time.perf_counter()
            try:
                response = self._http.send(request)
                raise_if_cut_short(response, request)
            except httpx.HTTPError as exc:
                sent = _sent(exc, request)
                if policy.is_retryable_error(exc, sent=sent, idempotent=idempotent):
                    delay = policy.next_delay(attempt, started)
                    if delay is not None:
                        self._log_retry(method, path, attempt, policy, type(exc).__name__, delay)
                        policy.sleep(delay)
                        continue
                if create_job_for is not None and sent:
                    raise self._uncertain(
                        path, create_job_for, started_wall, type(exc).__name__
                    ) from exc
                note = f"gave up after {attempt} attempts" if attempt > 1 else ""
                raise transport_error(
                    exc,
                    method=method,
                    path=path,
                    target=f"{request.url.scheme}://{request.url.netloc.decode('ascii')}",
                    redact=self._redact,
                    note=note,
                ) from exc
            except AirbyteAPIError as exc:
                # Raised by the auth flow at the token endpoint: ours was not sent.
                if exc.status_code in RETRYABLE_STATUSES:
                    delay = policy.next_delay(attempt, started)
                    if delay is not None:
                        reason = f"token endpoint answered {exc.status_code}"
                        self._log_retry(method, path, attempt, policy, reason, delay)
                        policy.sleep(delay)
                        continue
                raise
            status = response.status_code
            level = logging.DEBUG if response.is_success and idempotent else logging.INFO
            logger.log(
                level,
                "HTTP %s %s -> %d (%.0f ms)",
                method,
                path,
                status,
                (time.perf_counter() - t0) * 1000,
            )
            if response.is_success:
                return response
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if status == 429 and wait is None and idempotent:
                # Throttling: an operator limits this user, with no hint how long.
                throttled += 1
                self.throttled_count += 1
                delay = policy.next_throttle_delay(throttled, started)
                if delay is not None:
                    logger.warning(
                        "throttled by Airbyte: %s %s answered 429 without Retry-After "
                        "(%d in a row); backing off %.1f s (ceiling %.0f s per wait, "
                        "%.0f s in all)",
                        method,
                        path,
                        throttled,
                        delay,
                        policy.throttle_max_delay,
                        policy.throttle_max_elapsed,
                    )
                    response.close()
                    policy.sleep(delay)
                    continue
            elif policy.is_retryable_status(status, idempotent=idempotent):
                delay = policy.next_delay(attempt, started, wait)
                if delay is not None:
                    self._log_retry(method, path, attempt, policy, f"HTTP {status}", delay)
                    response.close()
                    policy.sleep(delay)
                    continue
            error = error_from_response(
                response,
                method=method,
                path=path,
                redact=self._redact,
                hints=hints,
                auth_hint=self._auth_hint(),
                attempts=attempt,
                throttled=throttled,
            )
            if create_job_for is not None and status >= 500:
                raise self._uncertain(
                    path, create_job_for, started_wall, f"HTTP {status}"
                ) from error
            raise error

    @staticmethod
    def _log_retry(
        method: str, path: str, attempt: int, policy: RetryPolicy, reason: str, delay: float
    ) -> None:
        logger.warning(
            "retrying %s %s: attempt %d of %d failed (%s); next try in %.2f s",
            method,
            path,
            attempt,
            policy.max_attempts,
            reason,
            delay,
        )

    @staticmethod
    def _uncertain(
        path: str, connection_id: str, started: datetime, reason: str
    ) -> JobCreateUncertainError:
        return JobCreateUncertainError(
            f"POST {path} for connection {connection_id} got no clear answer ({reason}): "
            "a job may have been created. Do not post again; list the connection's jobs "
            f"created since about {_iso(started)} (allow for clock skew) and attach to the new one",
            method="POST",
            path=path,
        )

    def _get(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        hints: Mapping[int | str, str] | None = None,
    ) -> httpx.Response:
        return self._send("GET", self._url + path, params=params, idempotent=True, hints=hints)

    # -- config API discovery ---------------------------------------------------------
    def has_config_api(self) -> bool:
        """Whether the config API is available (probes it on first call)."""
        return self._config_base() is not None

    def config_api_url(self) -> str | None:
        """The config API's base URL, or None without one (probes it on first call)."""
        return self._config_base()

    def _config_base(self) -> str | None:
        with self._config_lock:
            if self._config_known:
                return self._config_url
            setting = self._config_setting
            if setting is None:
                self._config_known = True
                return None
            if setting != "auto":
                self._config_url = config_api_root(setting)
                self._config_known = True
                return self._config_url
            if self._cloud or self._root is None:
                self._config_known = True
                logger.info(
                    "no Airbyte config API for %s (Airbyte Cloud or a url not ending in %s); "
                    "attempt-level stats, connector checks and discover are unavailable",
                    self._url,
                    PUBLIC_API_SUFFIX,
                )
                return None
            candidate = self._root + "/api"
            try:
                self._send("GET", candidate + "/v1/health", idempotent=True, retry=False)
            except AirbyteError as exc:
                # Remember a clear "no" (404, refused, auth); a 5xx or timeout may pass.
                transient = (isinstance(exc, AirbyteAPIError) and exc.status_code >= 500) or (
                    isinstance(exc, AirbyteTransportError)
                    and not isinstance(exc.__cause__, httpx.ConnectError)
                )
                self._config_known = not transient
                logger.info(
                    "Airbyte config API not available at %s (%s); attempt-level stats, "
                    "connector checks and discover are unavailable",
                    candidate,
                    type(exc).__name__,
                )
                return None
            self._config_url = candidate
            self._config_known = True
            logger.debug("Airbyte config API found at %s", candidate)
            return candidate

    def _slow_timeout(self) -> httpx.Timeout:
        t = self._timeout
        read = None if t.read is None else max(t.read, SLOW_READ_TIMEOUT)
        return httpx.Timeout(connect=t.connect, read=read, write=t.write, pool=t.pool)

    # -- health and workspaces ------------------------------------------------------------
    def health(self) -> bool:
        """Whether Airbyte answers its health check. Auth failures still raise."""
        try:
            self._get("/health")
        except AuthenticationError:
            raise
        except AirbyteError as exc:
            logger.warning("Airbyte health check failed: %s", exc)
            return False
        return True

    def list_workspaces(self) -> list[Workspace]:
        """Every workspace the credential can see."""
        return [
            Workspace.from_api(item)
            for item in paginate(self._page_fetcher("/workspaces", {}), page_size=100)
        ]

    def _page_fetcher(self, path: str, params: Mapping[str, Any]) -> FetchPage:
        def fetch(offset: int, limit: int) -> list[Json]:
            query = {**params, "limit": limit, "offset": offset}
            return self._items(self._get(path, params=query))

        return fetch

    # -- sources, destinations, streams ---------------------------------------------
    def get_source(self, source_id: str) -> Source:
        """One source (secrets in its configuration arrive masked)."""
        response = self._get(f"/sources/{_seg(source_id)}", hints={404: "Check the source id"})
        result = self._parse(response, Source.from_api, self._object(response))
        return result

    def get_destination(self, destination_id: str) -> Destination:
        """One destination (secrets in its configuration arrive masked)."""
        response = self._get(
            f"/destinations/{_seg(destination_id)}", hints={404: "Check the destination id"}
        )
        result = self._parse(response, Destination.from_api, self._object(response))
        return result

    def get_stream_properties(
        self, source_id: str, destination_id: str | None = None
    ) -> list[StreamProperties]:
        """What the source offers per stream (sync modes, cursors, keys, fields)."""
        params: dict[str, Any] = {"sourceId": source_id, "ignoreCache": "false"}
        if destination_id:
            params["destinationId"] = destination_id
        response = self._get("/streams", params=params)
        return [StreamProperties.from_api(item) for item in self._items(response)]

    # -- connections ------------------------------------------------------------------
    def list_connections(
        self,
        workspace_ids: Sequence[str] | None = None,
        *,
        include_deleted: bool = False,
        page_size: int = 100,
    ) -> Iterator[Connection]:
        """Every connection in the workspaces (all visible ones by default), lazily."""
        params: dict[str, Any] = {"includeDeleted": "true" if include_deleted else "false"}
        if workspace_ids:
            params["workspaceIds"] = list(workspace_ids)
        fetch = self._page_fetcher("/connections", params)
        for item in paginate(fetch, page_size=check_page_size(page_size)):
            connection = Connection.from_api(item)
            self._connections[connection.connection_id] = connection
            yield connection

    def remember_connections(self, connections: Sequence[Connection]) -> None:
        """Seed the connection cache (job URLs) with a listing taken elsewhere in the run."""
        self._connections.update({c.connection_id: c for c in connections})

    def get_connection(self, connection_id: str) -> Connection:
        """One connection by id."""
        response = self._get(
            f"/connections/{_seg(connection_id)}",
            hints={404: "Check the connection id, and that this credential can see it"},
        )
        connection = self._parse(response, Connection.from_api, self._object(response))
        self._connections[connection.connection_id] = connection
        return connection

    def patch_connection(self, connection_id: str, body: Mapping[str, Any]) -> Connection:
        """``PATCH /connections/{id}`` with a partial ``ConnectionPatchRequest``.

        Beware: ``configurations.streams`` *replaces* the selection, so a stream left out
        is deselected. The body holds absolute values, so resending it is safe (retried
        like a read). Never touches sources, destinations or secrets.

        Raises:
            AirbyteAPIError: Airbyte refused a value (400/422, its message included).
        """
        response = self._send(
            "PATCH",
            f"{self._url}/connections/{_seg(connection_id)}",
            json=dict(body),
            idempotent=True,
            hints={
                404: "Check the connection id, and that this credential can see it",
                403: "Changing a connection needs a credential with editor rights",
            },
        )
        connection = self._parse(response, Connection.from_api, self._object(response))
        self._connections[connection.connection_id] = connection
        return connection

    def cached_connection(self, connection_id: str) -> Connection | None:
        """The connection as last read by this client (listing or get), without a request."""
        return self._connections.get(connection_id)

    def resolve_connection(
        self,
        name_or_id: str,
        *,
        workspace_id: str | None = None,
        visible: Sequence[Connection] | None = None,
    ) -> Connection:
        """Find a connection by id (UUID-looking) or by exact name.

        ``visible`` is a listing the caller already holds (resolving many names then
        costs one listing, not one each); without it the connections are listed here.

        Raises:
            ConnectionLookupError: no connection has that name, or several do.
            NotFoundError: a UUID-looking value is not a connection id.
        """
        if _UUID.match(name_or_id.strip()):
            return self.get_connection(name_or_id.strip())
        if visible is None:
            visible = list(self.list_connections([workspace_id] if workspace_id else None))
        matches = [c for c in visible if c.name == name_or_id]
        if not matches:
            raise ConnectionLookupError(name_or_id, known=[c.name for c in visible])
        if len(matches) > 1:
            raise ConnectionLookupError(
                name_or_id, candidates=[f"{c.name} ({c.connection_id})" for c in matches]
            )
        return matches[0]

    # -- jobs ---------------------------------------------------------------------------
    def create_job(self, connection_id: str, job_type: JobType = JobType.SYNC) -> Job:
        """Start a job. Never resent once the request may have reached Airbyte.

        Raises:
            SyncAlreadyRunningError: a sync is running on the connection (attach to it).
            StateConflictError: the connection cannot sync now (inactive, for example).
            JobCreateUncertainError: the request was sent but the answer was lost, cut
                short, unreadable or a 5xx: a job may exist; reconcile with ``list_jobs``.
        """
        body = {"connectionId": connection_id, "jobType": JobType(job_type).value}
        started = datetime.now(timezone.utc)
        response = self._send(
            "POST",
            self._url + "/jobs",
            json=body,
            idempotent=False,
            create_job_for=connection_id,
            hints={
                "state-conflict": "Airbyte only syncs active connections; enable it in Airbyte",
                404: "Check the connection id, and that this credential can see it",
                422: "The public API does not accept this job type for this connection",
            },
        )
        try:
            return self._parse(response, Job.from_api, self._object(response))
        except AirbyteAPIError as exc:
            # Airbyte said yes (2xx): a job exists even if its description is unreadable.
            path = response.request.url.path
            raise self._uncertain(
                path, connection_id, started, f"unreadable answer: {exc}"
            ) from exc

    def get_job(self, job_id: int) -> Job:
        """One job by id."""
        response = self._get(f"/jobs/{int(job_id)}", hints={404: "Check the job id"})
        job = self._parse(response, Job.from_api, self._object(response))
        return job

    def cancel_job(self, job_id: int) -> Job:
        """Ask Airbyte to cancel a job; the returned status may still say running.

        Raises:
            StateConflictError: the job is not running (it may have just finished).
        """
        response = self._send(
            "DELETE",
            f"{self._url}/jobs/{int(job_id)}",
            idempotent=False,
            hints={
                "state-conflict": "The job is not running; it may have finished already",
                404: "Check the job id",
            },
        )
        job = self._parse(response, Job.from_api, self._object(response))
        return job

    def list_jobs(
        self,
        connection_id: str | None = None,
        *,
        job_type: JobType | str | None = None,
        status: JobStatus | str | None = None,
        created_at_start: datetime | None = None,
        created_at_end: datetime | None = None,
        updated_at_start: datetime | None = None,
        order_by: str = "createdAt|DESC",
        page_size: int = 100,
        max_items: int | None = None,
        workspace_ids: Sequence[str] | None = None,
    ) -> Iterator[Job]:
        """Jobs, newest first by default, lazily across pages.

        Stops on an empty or short page (Airbyte's ``next`` link is set even on the
        last page). A job seen twice because new jobs shifted the offsets is skipped.
        Naive datetimes are taken as UTC.
        """
        if not _ORDER_BY.match(order_by):
            raise ValueError(f"order_by must be like 'createdAt|DESC', got {order_by!r}")
        check_page_size(page_size)
        params: dict[str, Any] = {"orderBy": order_by}
        if connection_id:
            params["connectionId"] = connection_id
        if workspace_ids:
            params["workspaceIds"] = list(workspace_ids)
        if job_type is not None:
            params["jobType"] = job_type.value if isinstance(job_type, JobType) else job_type
        if status is not None:
            params["status"] = status.value if isinstance(status, JobStatus) else status
        if created_at_start is not None:
            params["createdAtStart"] = _iso(created_at_start)
        if created_at_end is not None:
            params["createdAtEnd"] = _iso(created_at_end)
        if updated_at_start is not None:
            params["updatedAtStart"] = _iso(updated_at_start)
        return self._iter_jobs(params, page_size, max_items)

    def _iter_jobs(
        self, params: Mapping[str, Any], page_size: int, max_items: int | None
    ) -> Iterator[Job]:
        if max_items is not None and max_items <= 0:
            return
        seen: set[int] = set()
        for item in paginate(self._page_fetcher("/jobs", params), page_size=page_size):
            job = Job.from_api(item)
            if job.job_id in seen:
                continue
            seen.add(job.job_id)
            yield job
            if max_items is not None and len(seen) >= max_items:
                return

    # -- UI links ---------------------------------------------------------------------------
    def job_url(self, job: Job, connection: Connection | None = None) -> str:
        """The job's page in Airbyte's UI; the UI root if the workspace cannot be found."""
        conn = connection or self._connections.get(job.connection_id)
        if conn is None and job.connection_id:
            try:
                conn = self.get_connection(job.connection_id)
            except AirbyteError as exc:
                logger.debug("cannot build a job URL for job %d: %s", job.job_id, exc)
        if conn is None or not conn.workspace_id:
            return self.ui_url + "/"
        return (
            f"{self.ui_url}/workspaces/{conn.workspace_id}/connections/{conn.connection_id}"
            f"/job-history#{job.job_id}::0"
        )
