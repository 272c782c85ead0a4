"""Error bodies exactly as Airbyte writes them, for the Public API and for the Config API.

The Public API answers with RFC 9457-style "problems" (``public-api-problems.yaml``), served as
``application/json`` (not ``application/problem+json``). The Config API answers with its own
``KnownExceptionInfo`` family (``config-api.yaml``). The defaults below are the spec's defaults,
which the spec says are constants for a given problem type.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

from luigi_airbyte.sandbox.errors import (
    BadRequest,
    Conflict,
    NotFound,
    SandboxError,
    Unprocessable,
)

_ERRORS = "https://reference.airbyte.com/reference/errors"

# problem title -> (status, type, default detail)
PROBLEMS: dict[str, tuple[int, str, str]] = {
    "invalid-api-key": (
        401,
        f"{_ERRORS}#invalid-api-key",
        "The API key in the Authorization header is invalid.",
    ),
    "forbidden": (403, f"{_ERRORS}#forbidden", "The request is forbidden."),
    "resource-not-found": (
        404,
        f"{_ERRORS}#resource-not-found",
        "The requested resource could not be found.",
    ),
    "bad-request": (
        400,
        f"{_ERRORS}#bad-request",
        "The request could not be understood by the server due to malformed syntax.",
    ),
    "unprocessable-entity": (
        422,
        f"{_ERRORS}#unprocessable-entity",
        "The body of the request was not understood",
    ),
    "try-again-later": (409, f"{_ERRORS}#try-again-later", "Please try again later."),
    "state-conflict": (409, f"{_ERRORS}#409-state-conflict", "State conflict"),
    "unexpected-problem": (
        500,
        _ERRORS,
        "An unexpected problem has occurred. If this is an error that needs to be addressed, "
        "please submit a pull request or github issue.",
    ),
    "service-unavailable": (
        503,
        _ERRORS,
        "The server is currently unable to handle the request.",
    ),
}

_CONFIG_CLASSES = {
    404: "io.airbyte.commons.server.errors.IdNotFoundKnownException",
    409: "io.airbyte.commons.server.errors.ValueConflictKnownException",
    400: "io.airbyte.commons.server.errors.BadObjectSchemaKnownException",
    422: "io.airbyte.commons.server.errors.BadObjectSchemaKnownException",
    500: "java.lang.IllegalStateException",
}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with the exact content type the SDK insists on."""
    return Response(
        json.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def problem(title: str, data: dict[str, Any] | None = None) -> Response:
    """A Public API problem response for one of the titles in PROBLEMS."""
    status, type_, detail = PROBLEMS[title]
    body: dict[str, Any] = {"status": status, "type": type_, "title": title, "detail": detail}
    if data is not None:
        body["data"] = data
    return json_response(body, status)


def problem_for(error: SandboxError) -> Response:
    """Map an engine error to the Public API problem Airbyte sends for it."""
    if isinstance(error, NotFound):
        return problem(
            "resource-not-found",
            {"resourceType": error.resource_type, "resourceId": error.resource_id},
        )
    if isinstance(error, Conflict):
        return problem(error.kind, {"message": error.message})
    if isinstance(error, Unprocessable):
        return problem("unprocessable-entity", {"message": error.message})
    if isinstance(error, BadRequest):
        return problem("bad-request", {"message": error.message})
    return problem("unexpected-problem", {"message": str(error)})


def config_error(
    status: int,
    message: str,
    *,
    validation: list[dict[str, Any]] | None = None,
    resource_id: str | None = None,
) -> Response:
    """A Config API error body: KnownExceptionInfo, or its 404/422 variants."""
    body: dict[str, Any] = {
        "message": message,
        "exceptionClassName": _CONFIG_CLASSES.get(
            status, "io.airbyte.commons.server.errors.KnownException"
        ),
    }
    if status == 404 and resource_id is not None:
        body["id"] = resource_id
    if status == 422:
        body["validationErrors"] = validation or []
    body["exceptionStack"] = []
    return json_response(body, status)


def config_error_for(error: SandboxError) -> Response:
    """Map an engine error to the Config API's error body."""
    if isinstance(error, NotFound):
        return config_error(
            404,
            f"Could not find configuration for {error.resource_type}: {error.resource_id}.",
            resource_id=error.resource_id,
        )
    if isinstance(error, Conflict):
        return config_error(409, error.message)
    if isinstance(error, (Unprocessable, BadRequest)):
        return config_error(422, error.message)
    return config_error(500, str(error))
