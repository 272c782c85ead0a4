"""Config API handlers (``/api/v1``): every call is a POST with a JSON body, bar ``GET /health``.

Missing or mistyped body fields answer 422 ``InvalidInputExceptionInfo`` with one validation
error per field, which is the closest documented shape to what the server's bean validation
produces.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from luigi_airbyte.sandbox.errors import BadRequest
from luigi_airbyte.sandbox.http_common import (
    JOB_STATUSES,
    Call,
    parse_datetime,
    read_json,
    route_table,
)
from luigi_airbyte.sandbox.http_problems import config_error, json_response

_CONFIG_TYPES = (
    "check_connection_source",
    "check_connection_destination",
    "discover_schema",
    "get_spec",
    "sync",
    "reset_connection",
    "refresh",
    "clear",
)


class InvalidInput(Exception):
    """A body field failed validation; rendered as a 422 InvalidInputExceptionInfo."""

    def __init__(self, path: str, message: str, value: Any = None) -> None:
        super().__init__(message)
        self.path, self.message, self.value = path, message, value

    def response(self) -> Response:
        """The 422 body for this failure."""
        item: dict[str, Any] = {"propertyPath": self.path, "message": self.message}
        if self.value is not None:
            item["invalidValue"] = str(self.value)
        return config_error(422, "Some properties contained invalid input.", validation=[item])


def _body(call: Call) -> dict[str, Any]:
    try:
        return read_json(call.request)
    except BadRequest as exc:
        raise InvalidInput("body", exc.message) from None


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidInput(name, "must not be null" if value is None else "must be a string", value)
    return value


def _job_id(body: dict[str, Any]) -> int:
    value = body.get("id")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(
            "id", "must not be null" if value is None else "must be an integer", value
        )
    return value


def connection_get(call: Call) -> Response:
    """``/v1/connections/get`` -> ConnectionRead."""
    return json_response(call.engine.config_connection(_string(_body(call), "connectionId")))


def connection_sync(call: Call) -> Response:
    """``/v1/connections/sync`` -> JobInfoRead (409 KnownExceptionInfo if already running)."""
    return json_response(call.engine.config_sync(_string(_body(call), "connectionId")))


_REFRESH_MODES = ("Truncate", "Merge")


def connection_refresh(call: Call) -> Response:
    """``/v1/connections/refresh`` (``ConnectionStreamRefreshRequestBody``) -> JobReadResponse.

    ``streams`` names ``ConnectionStream``s ``{streamName, streamNamespace?}``; none or an
    empty list refreshes every stream. 409 KnownExceptionInfo while a job of the
    connection is running, as for a sync.
    """
    body = _body(call)
    connection_id = _string(body, "connectionId")
    mode = body.get("refreshMode")
    if mode not in _REFRESH_MODES:
        raise InvalidInput(
            "refreshMode",
            "must not be null" if mode is None else f"must be one of {', '.join(_REFRESH_MODES)}",
            mode,
        )
    raw = body.get("streams") or []
    if not isinstance(raw, list):
        raise InvalidInput("streams", "must be a list", raw)
    streams: list[str] = []
    for i, item in enumerate(raw):
        name = item.get("streamName") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"streams[{i}].streamName", "must not be null", item)
        streams.append(name)
    return json_response(call.engine.config_refresh(connection_id, mode, streams))


def job_get(call: Call) -> Response:
    """``/v1/jobs/get`` and ``/v1/jobs/get_without_logs`` -> JobInfoRead."""
    return json_response(call.engine.job_info(_job_id(_body(call))))


def job_debug_info(call: Call) -> Response:
    """``/v1/jobs/get_debug_info`` -> JobDebugInfoRead."""
    return json_response(call.engine.job_debug_info(_job_id(_body(call))))


def job_cancel(call: Call) -> Response:
    """``/v1/jobs/cancel`` -> JobInfoRead."""
    return json_response(call.engine.cancel_job_info(_job_id(_body(call))))


def _enum_list(body: dict[str, Any], name: str, allowed: tuple[str, ...]) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or any(v not in allowed for v in value):
        raise InvalidInput(name, f"must be a list of {', '.join(allowed)}", value)
    return list(value)


def _job_listing(body: dict[str, Any]) -> dict[str, Any]:
    """The filters shared by ``/v1/jobs/list`` and ``/v1/jobs/list_for_workspaces``,
    validated as the server's bean validation does: keyword arguments for
    ``Engine.list_job_infos``."""
    config_types = _enum_list(body, "configTypes", _CONFIG_TYPES)
    if config_types is None:
        raise InvalidInput("configTypes", "must not be null")
    pagination = body.get("pagination") or {}
    if not isinstance(pagination, dict):
        raise InvalidInput("pagination", "must be an object", pagination)
    page_size, row_offset = pagination.get("pageSize"), pagination.get("rowOffset", 0)
    for name, value in (("pageSize", page_size), ("rowOffset", row_offset)):
        if value is not None and (not isinstance(value, int) or value < 0):
            raise InvalidInput(f"pagination.{name}", "must be a non-negative integer", value)
    method = body.get("orderByMethod")
    if method not in (None, "ASC", "DESC"):
        raise InvalidInput("orderByMethod", "must be ASC or DESC", method)
    field = body.get("orderByField")
    if field not in (None, "createdAt", "updatedAt"):
        raise InvalidInput("orderByField", "must be createdAt or updatedAt", field)
    bounds = []
    for name in ("createdAtStart", "createdAtEnd", "updatedAtStart", "updatedAtEnd"):
        value = body.get(name)
        try:
            bounds.append(None if value is None else parse_datetime(name, str(value)))
        except BadRequest as exc:
            raise InvalidInput(name, exc.message, value) from None
    options: dict[str, Any] = {} if page_size is None else {"page_size": page_size}
    return {
        "config_types": config_types,
        "statuses": _enum_list(body, "statuses", JOB_STATUSES),
        "row_offset": row_offset or 0,
        "order_desc": method != "ASC",
        "order_by": field,
        "bounds": tuple(bounds),
        **options,
    }


def job_list(call: Call) -> Response:
    """``/v1/jobs/list`` -> JobReadList of one connection (``configId``) or of every one,
    newest first unless ``orderByMethod`` says ASC."""
    body = _body(call)
    filters = _job_listing(body)
    return json_response(call.engine.list_job_infos(config_id=body.get("configId"), **filters))


def job_list_for_workspaces(call: Call) -> Response:
    """``/v1/jobs/list_for_workspaces`` -> JobReadList of the jobs of ``workspaceIds`` (all
    when absent); ``totalJobCount`` is the page's length, as Airbyte's handler sets it.
    Airbyte's public ``GET /jobs`` is this call behind the scenes."""
    body = _body(call)
    filters = _job_listing(body)
    workspaces = body.get("workspaceIds")
    if workspaces is not None and (
        not isinstance(workspaces, list) or not all(isinstance(w, str) for w in workspaces)
    ):
        raise InvalidInput("workspaceIds", "must be a list of workspace ids", workspaces)
    return json_response(
        call.engine.list_job_infos(
            config_id=None, workspace_ids=workspaces, whole_count=False, **filters
        )
    )


def check_source(call: Call) -> Response:
    """``/v1/sources/check_connection`` -> CheckConnectionRead (a failed check is a 200)."""
    return json_response(call.engine.check_source(_string(_body(call), "sourceId")))


def check_destination(call: Call) -> Response:
    """``/v1/destinations/check_connection`` -> CheckConnectionRead."""
    return json_response(call.engine.check_destination(_string(_body(call), "destinationId")))


def discover_schema(call: Call) -> Response:
    """``/v1/sources/discover_schema`` -> SourceDiscoverSchemaRead."""
    return json_response(call.engine.discover_schema(_string(_body(call), "sourceId")))


def health(call: Call) -> Response:
    """``GET /v1/health`` -> HealthCheckRead."""
    return json_response({"available": True})


def access_token(call: Call) -> Response:
    """``/v1/applications/token`` -> AccessToken: only ``access_token``, unlike the Public API."""
    body = _body(call)
    client_id, client_secret = _string(body, "client_id"), _string(body, "client_secret")
    if not call.engine.verify_client(client_id, client_secret):
        return config_error(401, "Invalid client_id or client_secret")
    token = call.state.tokens.issue(client_id, call.engine.token_ttl_seconds)
    return json_response({"access_token": token.access_token})


#: The calls that need a token, by path under ``/api/v1``: each a POST with a JSON body.
_CALLS = {
    "connections/get": connection_get,
    "connections/sync": connection_sync,
    "connections/refresh": connection_refresh,
    "jobs/get": job_get,
    "jobs/get_without_logs": job_get,
    "jobs/get_debug_info": job_debug_info,
    "jobs/list": job_list,
    "jobs/list_for_workspaces": job_list_for_workspaces,
    "jobs/cancel": job_cancel,
    "sources/check_connection": check_source,
    "destinations/check_connection": check_destination,
    "sources/discover_schema": discover_schema,
}
#: The Config API's routing rows (paths are absolute).
ROUTES = route_table(
    "config",
    [
        *(("POST", f"/api/v1/{path}", handler, True) for path, handler in _CALLS.items()),
        ("POST", "/api/v1/applications/token", access_token, False),
        ("GET", "/api/v1/health", health, False),
    ],
)
