"""Public API v1 handlers (``/api/public/v1`` and ``/v1``): parse, call the engine, shape.

The engine returns bodies already in Airbyte's JSON shape; this module owns what is HTTP:
query and body parsing, 400s for malformed input, pagination links, and the token endpoint.
"""

from __future__ import annotations

import json
import re
from typing import Any

from werkzeug.wrappers import Request, Response

from luigi_airbyte.sandbox.errors import BadRequest, Unprocessable
from luigi_airbyte.sandbox.http_common import (
    JOB_STATUSES,
    JOB_TYPES,
    Call,
    Route,
    query_bool,
    query_datetime,
    query_enum,
    query_int,
    query_list,
    read_json,
)
from luigi_airbyte.sandbox.http_pagination import UriBuilder, normalize_uuid, page_response
from luigi_airbyte.sandbox.http_problems import json_response, problem

_ORDER_BY = re.compile(r"([a-zA-Z0-9]+)\|(ASC|DESC)")
_ORDER_FIELDS = {"createdat": "createdAt", "updatedat": "updatedAt"}


# --- auth and applications ---------------------------------------------------------------------


def _token_fields(request: Request) -> dict[str, Any]:
    """Token request fields from JSON or a form; the grant field is accepted in any spelling."""
    mimetype = request.mimetype
    if mimetype == "application/x-www-form-urlencoded" or (not mimetype and request.form):
        return dict(request.form.items())
    if mimetype in ("application/json", "") or mimetype.endswith("+json"):
        return read_json(request)
    raise BadRequest(f"Unsupported content type: {mimetype}")


def create_access_token(call: Call) -> Response:
    """``POST /applications/token`` with client credentials (JSON or form)."""
    fields = _token_fields(call.request)
    client_id, client_secret = fields.get("client_id"), fields.get("client_secret")
    if not isinstance(client_id, str) or not isinstance(client_secret, str):
        raise BadRequest("client_id and client_secret are required")
    grant = fields.get("grant_type", fields.get("grant-type"))
    if grant is not None and grant != "client_credentials":
        raise BadRequest(f"grant-type: '{grant}' is not one of client_credentials")
    if not call.engine.verify_client(client_id, client_secret):
        return problem("invalid-api-key")
    token = call.state.tokens.issue(client_id, call.engine.token_ttl_seconds)
    return json_response(
        {"access_token": token.access_token, "token_type": "Bearer", "expires_in": token.expires_in}
    )


def list_applications(call: Call) -> Response:
    """``GET /applications``."""
    return json_response({"applications": call.engine.list_applications()})


def create_application(call: Call) -> Response:
    """``POST /applications`` with ``{name}``."""
    name = read_json(call.request).get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest("name is required")
    return json_response(call.engine.create_application(name))


def get_application(call: Call) -> Response:
    """``GET /applications/{applicationId}``."""
    return json_response(call.engine.get_application(call.args["applicationId"]))


def delete_application(call: Call) -> Response:
    """``DELETE /applications/{applicationId}``: 200 with the deleted application."""
    return json_response(call.engine.delete_application(call.args["applicationId"]))


def health(call: Call) -> Response:
    """``GET /health``: a plain-text 200, no auth."""
    return Response("Successful operation", content_type="text/plain")


# --- workspaces, sources, destinations, streams ------------------------------------------------


def list_workspaces(call: Call) -> Response:
    """``GET /workspaces`` (paginated)."""
    request = call.request
    ids = [normalize_uuid(w) for w in query_list(request, "workspaceIds")]
    include_deleted = query_bool(request, "includeDeleted")
    limit = query_int(request, "limit", 20, 1, 100)
    offset = query_int(request, "offset", 0, 0)
    items = call.engine.list_workspaces()
    if ids:
        items = [w for w in items if w.get("workspaceId") in ids]
    builder = UriBuilder(f"{call.api_host}/v1/workspaces").query_param(
        "includeDeleted", include_deleted
    )
    if ids:
        builder.query_param("workspaceIds", ",".join(ids))
    return json_response(page_response(items, limit, offset, builder))


def get_workspace(call: Call) -> Response:
    """``GET /workspaces/{workspaceId}``."""
    return json_response(call.engine.get_workspace(call.args["workspaceId"]))


def patch_workspace(call: Call) -> Response:
    """``PATCH /workspaces/{workspaceId}`` with a WorkspaceUpdateRequest (notifications)."""
    body = read_json(call.request)
    return json_response(call.engine.patch_workspace(call.args["workspaceId"], body))


def get_source(call: Call) -> Response:
    """``GET /sources/{sourceId}``."""
    return json_response(call.engine.get_source(call.args["sourceId"]))


def get_destination(call: Call) -> Response:
    """``GET /destinations/{destinationId}``."""
    return json_response(call.engine.get_destination(call.args["destinationId"]))


def stream_properties(call: Call) -> Response:
    """``GET /streams?sourceId=&destinationId=``: a bare JSON array."""
    source_id = call.request.args.get("sourceId")
    if not source_id:
        raise BadRequest("Required QueryValue [sourceId] not specified")
    query_bool(call.request, "ignoreCache")
    destination_id = call.request.args.get("destinationId") or None
    return json_response(call.engine.stream_properties(source_id, destination_id))


# --- connections ------------------------------------------------------------------------------


def list_connections(call: Call) -> Response:
    """``GET /connections`` (paginated; ``workspaceIds`` repeated or comma-joined)."""
    request = call.request
    ids = [normalize_uuid(w) for w in query_list(request, "workspaceIds")]
    tag_ids = set(query_list(request, "tagIds"))
    include_deleted = query_bool(request, "includeDeleted")
    limit = query_int(request, "limit", 20, 1, 100)
    offset = query_int(request, "offset", 0, 0)
    items = call.engine.list_connections(ids, include_deleted, tag_ids)
    builder = UriBuilder(f"{call.api_host}/v1/connections").query_param(
        "includeDeleted", include_deleted
    )
    if ids:
        builder.query_param("workspaceIds", ",".join(ids))
    return json_response(page_response(items, limit, offset, builder))


def get_connection(call: Call) -> Response:
    """``GET /connections/{connectionId}``."""
    return json_response(call.engine.get_connection(call.args["connectionId"]))


def patch_connection(call: Call) -> Response:
    """``PATCH /connections/{connectionId}`` with a partial ConnectionPatchRequest."""
    patch = read_json(call.request)
    return json_response(call.engine.patch_connection(call.args["connectionId"], patch))


# --- jobs ---------------------------------------------------------------------------------------


def _job_id(call: Call) -> int:
    raw = call.args["jobId"]
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"Failed to convert argument [jobId] for value [{raw}]") from None


def create_job(call: Call) -> Response:
    """``POST /jobs`` with ``{connectionId, jobType}``."""
    body = read_json(call.request)
    connection_id, job_type = body.get("connectionId"), body.get("jobType")
    if not isinstance(connection_id, str) or not connection_id:
        raise BadRequest("connectionId is required")
    if job_type not in JOB_TYPES:
        raise BadRequest(f"jobType: {json.dumps(job_type)} is not one of {', '.join(JOB_TYPES)}")
    if job_type == "refresh":
        # The server looks the connection up first, so an unknown id is still a 404.
        call.engine.get_connection(connection_id)
        raise Unprocessable("Refreshes are not supported in the public API")
    return json_response(call.engine.create_job(connection_id, job_type))


def get_job(call: Call) -> Response:
    """``GET /jobs/{jobId}``."""
    return json_response(call.engine.get_job(_job_id(call)))


def cancel_job(call: Call) -> Response:
    """``DELETE /jobs/{jobId}``: 200 with the job after the cancel request."""
    return json_response(call.engine.cancel_job(_job_id(call)))


def parse_order_by(raw: str | None) -> tuple[str, bool]:
    """``orderByToFieldAndMethod``: a regex *search*, field matched case-insensitively."""
    if raw is None:
        return "createdAt", False
    match = _ORDER_BY.search(raw)
    field = _ORDER_FIELDS.get(re.sub(r"[^a-z0-9]", "", match.group(1).lower())) if match else None
    if match is None or field is None:
        raise BadRequest(f"Invalid order by clause provided: {raw}")
    return field, match.group(2) == "DESC"


def list_jobs(call: Call) -> Response:
    """``GET /jobs`` with the listJobs filters; default order is createdAt ASC."""
    request = call.request
    connection_id = request.args.get("connectionId") or None
    limit = query_int(request, "limit", 20, 1, 100)
    offset = query_int(request, "offset", 0, 0)
    job_type = query_enum(request, "jobType", JOB_TYPES)
    status = query_enum(request, "status", JOB_STATUSES)
    workspace_ids = [normalize_uuid(w) for w in query_list(request, "workspaceIds")]
    order_field, descending = parse_order_by(request.args.get("orderBy"))
    jobs = call.engine.job_responses(
        connection_id=connection_id,
        job_type=job_type,
        status=status,
        created_at_start=query_datetime(request, "createdAtStart"),
        created_at_end=query_datetime(request, "createdAtEnd"),
        updated_at_start=query_datetime(request, "updatedAtStart"),
        updated_at_end=query_datetime(request, "updatedAtEnd"),
        workspace_ids=None if connection_id else workspace_ids,
        order_by=order_field,
        descending=descending,
    )
    # JobsResponseMapper: only jobType plus connectionId (or workspaceIds) go into the links.
    builder = UriBuilder(f"{call.api_host}/v1/jobs").query_param("jobType", job_type)
    if connection_id:
        builder.query_param("connectionId", normalize_uuid(connection_id))
    elif workspace_ids:
        builder.query_param("workspaceIds", ",".join(workspace_ids))
    return json_response(page_response(jobs, limit, offset, builder))


ROUTES: list[tuple[str, str, Any, bool]] = [
    ("POST", "/applications/token", create_access_token, False),
    ("GET", "/applications", list_applications, True),
    ("POST", "/applications", create_application, True),
    ("GET", "/applications/{applicationId}", get_application, True),
    ("DELETE", "/applications/{applicationId}", delete_application, True),
    ("GET", "/health", health, False),
    ("GET", "/workspaces", list_workspaces, True),
    ("GET", "/workspaces/{workspaceId}", get_workspace, True),
    ("PATCH", "/workspaces/{workspaceId}", patch_workspace, True),
    ("GET", "/sources/{sourceId}", get_source, True),
    ("GET", "/destinations/{destinationId}", get_destination, True),
    ("GET", "/streams", stream_properties, True),
    ("GET", "/connections", list_connections, True),
    ("GET", "/connections/{connectionId}", get_connection, True),
    ("PATCH", "/connections/{connectionId}", patch_connection, True),
    ("GET", "/jobs", list_jobs, True),
    ("POST", "/jobs", create_job, True),
    ("GET", "/jobs/{jobId}", get_job, True),
    ("DELETE", "/jobs/{jobId}", cancel_job, True),
]


def routes() -> list[Route]:
    """The Public API routing rows (mounted twice by the app)."""
    return [Route("public", m, t, h, auth) for m, t, h, auth in ROUTES]
