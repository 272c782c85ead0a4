"""The config API's endpoints and the applications endpoints, as a part of ``AirbyteClient``.

The config API (self-hosted only) adds the stored catalog, attempt-level stats,
connector checks and discover; each returns None where it is absent. The applications
endpoints (public API) serve credential rotation. Both are mixed into ``AirbyteClient``
and go through its one send loop (``_send``); ``_Core`` says what they use of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar

import httpx

from luigi_airbyte.airbyte._catalog import StoredStream
from luigi_airbyte.airbyte._http import Json, _iso, _seg
from luigi_airbyte.airbyte._pagination import paginate
from luigi_airbyte.airbyte.models import (
    Application,
    ConnectorCheck,
    DiscoveredStream,
    Job,
    JobDetails,
    RefreshMode,
)
from luigi_airbyte.airbyte.webhooks import SyncNotifications, sync_webhook_patch
from luigi_airbyte.errors import (
    AirbyteAPIError,
    AirbyteError,
    AuthenticationError,
    JobCreateUncertainError,
    NotFoundError,
)

logger = logging.getLogger("luigi_airbyte.airbyte")

T = TypeVar("T")


class _Core(Protocol):
    """What the endpoints below use of ``AirbyteClient`` (methods whose keyword lists
    are long are given as properties returning a callable, so they are not restated)."""

    _url: str
    _config_lock: threading.Lock
    _config_url: str | None
    _config_known: bool

    def _redact(self, text: str) -> str: ...

    @property
    def _send(self) -> Callable[..., httpx.Response]: ...

    @property
    def _get(self) -> Callable[..., httpx.Response]: ...

    def _object(self, response: httpx.Response) -> Json: ...

    def _items(self, response: httpx.Response, key: str = "data") -> list[Json]: ...

    def _parse(self, response: httpx.Response, parse: Callable[[Json], T], data: Json) -> T: ...

    def _config_base(self) -> str | None: ...

    def _slow_timeout(self) -> httpx.Timeout: ...

    @property
    def _config_read(self) -> Callable[..., httpx.Response | None]: ...

    def _check(self, path: str, body: Mapping[str, Any]) -> ConnectorCheck | None: ...

    @staticmethod
    def _uncertain(
        path: str, connection_id: str, started: datetime, reason: str
    ) -> JobCreateUncertainError: ...


class _NoConfigAPI(Exception):
    """A config-API read found no config API (``_config_read`` answered None)."""


class ConfigAPIEndpoints:
    """The config API's endpoints (self-hosted only); None where it is absent."""

    _config_lock: threading.Lock
    _config_url: str | None
    _config_known: bool

    def _config_read(
        self: _Core,
        path: str,
        body: Mapping[str, Any],
        *,
        timeout: httpx.Timeout | None = None,
        hints: Mapping[int | str, str] | None = None,
    ) -> httpx.Response | None:
        """POST to the config API; None without one, and None (the config API switched off)
        if it refuses the credential, since config-only features are extras, not the sync."""
        base = self._config_base()
        if base is None:
            return None
        try:
            # Config-API reads are POSTs; every one we use is read-only, so retry them.
            return self._send(
                "POST", base + path, json=dict(body), idempotent=True, timeout=timeout, hints=hints
            )
        except AuthenticationError as exc:
            with self._config_lock:
                self._config_url = None
                self._config_known = True
            logger.warning(
                "the Airbyte config API refused the credential (%d); attempt-level stats, "
                "connector checks and discover are unavailable",
                exc.status_code,
            )
            return None

    def get_stored_catalog(self: _Core, connection_id: str) -> list[StoredStream] | None:
        """The catalog the connection was last saved with (config API); None without it."""
        response = self._config_read(
            "/v1/connections/get",
            {"connectionId": connection_id},
            hints={404: "Check the connection id"},
        )
        if response is None:
            return None
        body = self._object(response)
        catalog = body.get("syncCatalog")
        streams = catalog.get("streams") if isinstance(catalog, Mapping) else None
        if not isinstance(streams, list):
            return None
        return [StoredStream.from_api(s) for s in streams if isinstance(s, Mapping)]

    def refresh_streams(
        self: _Core,
        connection_id: str,
        streams: Sequence[str] = (),
        *,
        mode: RefreshMode = "Truncate",
    ) -> Job:
        """Start a refresh of ``streams`` (all of the connection's when empty): Airbyte
        resets their cursors and reads them again; ``Truncate`` first removes their rows.

        The public API answers 422 to ``POST /jobs {jobType: refresh}``, so this is the
        config API's ``POST /v1/connections/refresh`` (``ConnectionStreamRefreshRequestBody``,
        answered with ``JobReadResponse``). Never resent once it may have reached Airbyte;
        the errors are ``create_job``'s: ``SyncAlreadyRunningError`` (409, a job of the
        connection is running), ``JobCreateUncertainError`` (reconcile with ``list_jobs``).

        Raises:
            AirbyteError: without a config API (Airbyte Cloud): refreshes cannot be started.
        """
        base = self._config_base()
        if base is None:
            raise AirbyteError(
                f"connection {connection_id}: refreshing streams needs Airbyte's config API "
                "(self-hosted Airbyte); in Airbyte Cloud, refresh the streams from the UI"
            )
        body: dict[str, Any] = {
            "connectionId": connection_id,
            "refreshMode": mode,
            "streams": [{"streamName": name} for name in streams],
        }
        started = datetime.now(timezone.utc)
        response = self._send(
            "POST",
            base + "/v1/connections/refresh",
            json=body,
            idempotent=False,
            create_job_for=connection_id,
            hints={
                404: "Check the connection id, and that this credential can see it",
                422: "Check that these streams are enabled on the connection",
            },
        )
        data = self._object(response)
        job = data.get("job")
        if not isinstance(job, Mapping):
            raise self._uncertain(
                response.request.url.path, connection_id, started, "no job in the answer"
            )
        try:
            return self._parse(response, Job.from_config_api, job)
        except AirbyteAPIError as exc:
            raise self._uncertain(
                response.request.url.path, connection_id, started, f"unreadable answer: {exc}"
            ) from exc

    def get_job_details(self: _Core, job_id: int) -> JobDetails | None:
        """Attempts and per-stream counts from the config API; None without it."""
        body = {"id": int(job_id)}
        try:
            response = self._config_read("/v1/jobs/get_without_logs", body)
        except NotFoundError:  # older servers lack get_without_logs
            response = self._config_read("/v1/jobs/get", body, hints={404: "Check the job id"})
        if response is None:
            return None
        details = self._parse(response, JobDetails.from_api, self._object(response))
        return details

    def list_job_details(
        self: _Core,
        *,
        workspace_ids: Sequence[str] | None = None,
        connection_id: str | None = None,
        updated_at_start: datetime | None = None,
        page_size: int = 100,
    ) -> list[JobDetails] | None:
        """Jobs with their attempts and counts, newest update first; None without a config API.

        The config API's ``/v1/jobs/list_for_workspaces`` (or ``/v1/jobs/list`` for one
        connection) is the listing Airbyte's public ``GET /jobs`` makes behind the scenes,
        with each job's attempts and stats: a watcher that lists this way learns a job's
        end and its counts in one request. A listing hydrates the job's
        ``aggregatedStats`` only while Airbyte's ``HydrateAggregatedStats`` flag is on (the
        default), and never an attempt's committed bytes (``JobDetails.stats.bytes_synced``
        is None without the former). Every page is read; a job seen twice because the
        offsets shifted is kept once.

        Raises:
            NotFoundError: the server has no such listing (older Airbyte).
        """
        body: dict[str, Any] = {
            "configTypes": ["sync", "reset_connection", "refresh", "clear"],
            "orderByField": "updatedAt",
            "orderByMethod": "DESC",
        }
        path = "/v1/jobs/list_for_workspaces"
        if connection_id is not None:
            path, body["configId"] = "/v1/jobs/list", connection_id
        elif workspace_ids:
            body["workspaceIds"] = list(workspace_ids)
        if updated_at_start is not None:
            body["updatedAtStart"] = _iso(updated_at_start)

        def fetch(offset: int, limit: int) -> list[Json]:
            page = {**body, "pagination": {"pageSize": limit, "rowOffset": offset}}
            response = self._config_read(path, page)
            if response is None:
                raise _NoConfigAPI
            items = self._object(response).get("jobs")
            return [
                {"details": self._parse(response, JobDetails.from_api, item)}
                for item in (items if isinstance(items, list) else [])
                if isinstance(item, Mapping)
            ]

        out: dict[int, JobDetails] = {}
        try:
            for found in paginate(fetch, page_size=page_size):
                details = found["details"]
                out.setdefault(details.job.job_id, details)
        except _NoConfigAPI:
            return None
        return list(out.values())

    # -- connector checks and discover (config API) ---------------------------------------
    def check_source(self: _Core, source_id: str) -> ConnectorCheck | None:
        """Run the source's connection check; None without a config API."""
        return self._check("/v1/sources/check_connection", {"sourceId": source_id})

    def check_destination(self: _Core, destination_id: str) -> ConnectorCheck | None:
        """Run the destination's connection check; None without a config API."""
        return self._check("/v1/destinations/check_connection", {"destinationId": destination_id})

    def _check(self: _Core, path: str, body: Mapping[str, Any]) -> ConnectorCheck | None:
        response = self._config_read(path, body, timeout=self._slow_timeout())
        if response is None:
            return None
        check = self._parse(response, ConnectorCheck.from_api, self._object(response))
        return check

    def discover_schema(
        self: _Core, source_id: str, *, disable_cache: bool = True
    ) -> list[DiscoveredStream] | None:
        """The source's current catalog (streams and top-level columns); None without a
        config API.

        Raises:
            AirbyteError: the discover job ran and failed (Airbyte's reason included).
        """
        response = self._config_read(
            "/v1/sources/discover_schema",
            {"sourceId": source_id, "disable_cache": disable_cache},
            timeout=self._slow_timeout(),
        )
        if response is None:
            return None
        body = self._object(response)
        catalog = body.get("catalog")
        if not isinstance(catalog, Mapping):
            info = body.get("jobInfo")
            reason = info.get("failureReason") if isinstance(info, Mapping) else None
            text = ""
            if isinstance(reason, Mapping):
                text = str(reason.get("externalMessage") or reason.get("internalMessage") or "")
            raise AirbyteError(
                f"discover for source {source_id} failed: {self._redact(text) or 'no catalog'}. "
                "Run the source's check in Airbyte to see why"
            )
        streams = catalog.get("streams") or []
        return [DiscoveredStream.from_api(s) for s in streams if isinstance(s, Mapping)]


class ApplicationEndpoints:
    """Applications (client id/secret pairs) of the credential's owner, for rotation."""

    def list_applications(self: _Core) -> list[Application]:
        """The credential owner's applications (client id/secret pairs)."""
        response = self._get("/applications")
        return [
            self._parse(response, Application.from_api, item)
            for item in self._items(response, "applications")
        ]

    def create_application(self: _Core, name: str) -> Application:
        """Create an application; its secret is in the result (never in its repr)."""
        response = self._send(
            "POST",
            self._url + "/applications",
            json={"name": name},
            idempotent=False,
            hints={400: "Airbyte may cap applications per user (2 on Keycloak); delete one"},
        )
        app = self._parse(response, Application.from_api, self._object(response))
        return app

    def delete_application(self: _Core, application_id: str) -> Application:
        """Delete an application; Airbyte returns what it deleted."""
        response = self._send(
            "DELETE",
            f"{self._url}/applications/{_seg(application_id)}",
            idempotent=False,
            hints={404: "Check the application id; it may be deleted already"},
        )
        app = self._parse(response, Application.from_api, self._object(response))
        return app


class WorkspaceEndpoints:
    """A workspace's sync notification webhooks (public API ``/workspaces/{id}``)."""

    def get_sync_notifications(self: _Core, workspace_id: str) -> SyncNotifications:
        """The workspace's success and failure webhooks (``GET /workspaces/{id}``)."""
        response = self._get(
            f"/workspaces/{_seg(workspace_id)}", hints={404: "Check the workspace id"}
        )
        return self._parse(response, SyncNotifications.from_api, self._object(response))

    def set_sync_webhook(self: _Core, workspace_id: str, url: str | None) -> SyncNotifications:
        """Point the workspace's sync success and failure webhooks at ``url`` (None: off).

        Reads the workspace first and sends every notification back as it was except
        those two, so a PATCH that replaces ``notifications`` as a whole loses nothing.
        The body holds absolute values, so resending it is safe (retried like a read).

        Raises:
            AirbyteAPIError: Airbyte refused (403 without editor rights, 400 a bad URL).
        """
        path = f"/workspaces/{_seg(workspace_id)}"
        current = self._object(self._get(path, hints={404: "Check the workspace id"}))
        response = self._send(
            "PATCH",
            self._url + path,
            json=sync_webhook_patch(current, url),
            idempotent=True,
            hints={
                404: "Check the workspace id",
                403: "Changing workspace notifications needs a credential with editor rights",
            },
        )
        return self._parse(response, SyncNotifications.from_api, self._object(response))
