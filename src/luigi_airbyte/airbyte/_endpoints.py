"""The config API's endpoints and the applications endpoints, as a part of ``AirbyteClient``.

The config API (self-hosted only) adds the stored catalog, attempt-level stats,
connector checks and discover; each returns None where it is absent. The applications
endpoints (public API) serve credential rotation. Both are mixed into ``AirbyteClient``
and go through its one send loop (``_send``); ``_Core`` says what they use of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import httpx

from luigi_airbyte.airbyte._catalog import StoredStream
from luigi_airbyte.airbyte._http import Json, _seg
from luigi_airbyte.airbyte.models import (
    Application,
    ConnectorCheck,
    DiscoveredStream,
    JobDetails,
)
from luigi_airbyte.airbyte.webhooks import SyncNotifications, sync_webhook_patch
from luigi_airbyte.errors import AirbyteError, AuthenticationError, NotFoundError

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
    def _config_post(self) -> Callable[..., httpx.Response | None]: ...

    def _check(self, path: str, body: Mapping[str, Any]) -> ConnectorCheck | None: ...


class ConfigAPIEndpoints:
    """The config API's endpoints (self-hosted only); None where it is absent."""

    _config_lock: threading.Lock
    _config_url: str | None
    _config_known: bool

    def _config_post(
        self: _Core,
        base: str,
        path: str,
        body: Mapping[str, Any],
        *,
        timeout: httpx.Timeout | None = None,
        hints: Mapping[int | str, str] | None = None,
    ) -> httpx.Response | None:
        """POST to the config API; None (and the config API switched off) if it refuses
        the credential, since config-only features are extras, not the sync itself."""
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
        base = self._config_base()
        if base is None:
            return None
        response = self._config_post(
            base,
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

    def get_job_details(self: _Core, job_id: int) -> JobDetails | None:
        """Attempts and per-stream counts from the config API; None without it."""
        base = self._config_base()
        if base is None:
            return None
        body = {"id": int(job_id)}
        try:
            response = self._config_post(base, "/v1/jobs/get_without_logs", body)
        except NotFoundError:  # older servers lack get_without_logs
            response = self._config_post(
                base, "/v1/jobs/get", body, hints={404: "Check the job id"}
            )
        if response is None:
            return None
        details = self._parse(response, JobDetails.from_api, self._object(response))
        return details

    # -- connector checks and discover (config API) ---------------------------------------
    def check_source(self: _Core, source_id: str) -> ConnectorCheck | None:
        """Run the source's connection check; None without a config API."""
        return self._check("/v1/sources/check_connection", {"sourceId": source_id})

    def check_destination(self: _Core, destination_id: str) -> ConnectorCheck | None:
        """Run the destination's connection check; None without a config API."""
        return self._check("/v1/destinations/check_connection", {"destinationId": destination_id})

    def _check(self: _Core, path: str, body: Mapping[str, Any]) -> ConnectorCheck | None:
        base = self._config_base()
        if base is None:
            return None
        response = self._config_post(base, path, body, timeout=self._slow_timeout())
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
        base = self._config_base()
        if base is None:
            return None
        response = self._config_post(
            base,
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
