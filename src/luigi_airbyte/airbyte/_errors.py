"""Turn Airbyte error responses and httpx failures into the luigi-airbyte error tree.

Airbyte answers errors in three shapes, and a message is only useful if we find the
human text in each of them:

* Public API problems: ``{"type", "title", "detail", "data": {"message"}}``
* Config API known exceptions: ``{"message", "exceptionClassName", ...}``
* Micronaut's own errors: ``{"message", "_embedded": {"errors": [{"message"}]}}``
* OAuth servers (OIDC token endpoints): ``{"error", "error_description"}``

Messages carry method, path, status and Airbyte's text. Never headers, tokens or
request bodies; known secret values are also scrubbed from server text in case the
server echoes the request back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from luigi_airbyte.errors import (
    AirbyteAPIError,
    AirbyteTransportError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    StateConflictError,
    SyncAlreadyRunningError,
)
from luigi_airbyte.masking import MASK, mask_values

MAX_MESSAGE_CHARS = 500
REDACTED = MASK

Redactor = Callable[[str], str]

_HINTS: dict[int, str] = {
    400: "Airbyte could not understand the request; check the ids and parameters",
    401: "The credential was refused; check the client id and secret or the token",
    403: "The credential lacks permission; ask an Airbyte admin for a role on this workspace",
    404: "Check the id, and that this credential's workspace can see it",
    405: "This Airbyte version does not offer this endpoint; check the Airbyte URL and version",
    409: "The resource's current state forbids the request",
    422: "Airbyte rejected the request body; check the ids and values",
    429: "Airbyte is rate limiting this credential; poll less often or retry later",
}
_SERVER_HINT = "Airbyte failed internally; check the airbyte-server logs and retry later"
_TRY_AGAIN_HINT = (
    "A sync is already running on this connection; attach to it instead of starting another"
)


def make_redactor(secrets: Callable[[], Iterable[str]] | None) -> Redactor:
    """Return a function that replaces every current secret value in a text."""

    def redact(text: str) -> str:
        if secrets is None:
            return text
        return mask_values(text, secrets())

    return redact


def _body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


def _first_str(*values: object) -> str:
    for v in values:
        if isinstance(v, str) and v.strip():
            return v.strip()
    return ""


def server_message(response: httpx.Response) -> str:
    """Airbyte's own explanation from any of its error body shapes ("" if none)."""
    body = _body(response)
    text = ""
    if isinstance(body, Mapping):
        data = body.get("data")
        data_message = data.get("message") if isinstance(data, Mapping) else None
        embedded = body.get("_embedded")
        embedded_messages: list[str] = []
        if isinstance(embedded, Mapping) and isinstance(embedded.get("errors"), list):
            embedded_messages = [
                str(e["message"])
                for e in embedded["errors"]
                if isinstance(e, Mapping) and isinstance(e.get("message"), str)
            ]
        # a problem's default detail ("Please try again later.") says less than data.message
        text = _first_str(
            data_message,
            "; ".join(embedded_messages),
            body.get("detail"),
            body.get("message"),
            body.get("error_description"),
            body.get("error"),
            body.get("title"),
        )
    elif isinstance(body, str):
        text = body
    elif body is None and response.content:
        content_type = response.headers.get("content-type", "")
        if content_type.startswith("text/plain"):
            text = response.text.strip()
    return text


def problem_type(response: httpx.Response) -> str:
    """The problem's short name (``try-again-later``), from ``title`` or the ``type`` fragment."""
    body = _body(response)
    if not isinstance(body, Mapping):
        return ""
    title = body.get("title")
    kind = body.get("type")
    if isinstance(kind, str) and "#" in kind:
        fragment = kind.rsplit("#", 1)[1]
        if fragment.startswith("409-"):
            fragment = fragment[4:]
        if fragment:
            return fragment
    return title if isinstance(title, str) else ""


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE_CHARS:
        return text[: MAX_MESSAGE_CHARS - 3] + "..."
    return text


def error_from_response(
    response: httpx.Response,
    *,
    method: str,
    path: str,
    redact: Redactor,
    hint: str = "",
    hints: Mapping[int | str, str] | None = None,
    auth_hint: str = "",
    attempts: int = 1,
    cls: type[AirbyteAPIError] | None = None,
    throttled: int = 0,
) -> AirbyteAPIError:
    """Build the right ``AirbyteAPIError`` subclass for an error response.

    Args:
        response: the error response (its body already read).
        method: HTTP method, for the message.
        path: URL path without the query, for the message.
        redact: scrubs known secret values from the server's text.
        hint: the next step, overriding the default hint for the status.
        hints: next steps by problem type (``"state-conflict"``) or status, for
            hints that depend on the endpoint.
        auth_hint: the next step for 401s (where the credential is read from).
        attempts: how many tries were made, mentioned when more than one.
        cls: force this class instead of choosing one by status.
        throttled: how many 429s without ``Retry-After`` (operator throttling) were met;
            a 429 then says it was throttled and how long the client backed off.
    """
    status = response.status_code
    # the error class adds ". <hint>" after the message: avoid a double period
    message = _shorten(redact(server_message(response))).rstrip(".").rstrip()
    ptype = problem_type(response)
    if not hint and hints:
        hint = hints.get(ptype, "") or hints.get(status, "")
    if attempts > 1:
        hint = (hint or _HINTS.get(status, _SERVER_HINT if status >= 500 else "")) + (
            f" (gave up after {attempts} attempts)"
        )
    kwargs: dict[str, Any] = {
        "status_code": status,
        "method": method,
        "path": path,
        "server_message": message,
        "problem_type": ptype,
    }
    if cls is not None:
        return cls(hint=hint, **kwargs)
    return _error_for_status(status, hint, kwargs, auth_hint=auth_hint, throttled=throttled)


def _error_for_status(
    status: int, hint: str, kwargs: dict[str, Any], *, auth_hint: str, throttled: int
) -> AirbyteAPIError:
    """The ``AirbyteAPIError`` subclass for ``status``, with the default hint where none."""
    if status in (401, 403):
        default = auth_hint if status == 401 and auth_hint else _HINTS[status]
        return AuthenticationError(hint=hint or default, **kwargs)
    if status == 404:
        return NotFoundError(hint=hint or _HINTS[404], **kwargs)
    if status == 409:
        lowered = str(kwargs["server_message"]).lower()
        if kwargs["problem_type"] == "try-again-later" or "already running" in lowered:
            return SyncAlreadyRunningError(hint=hint or _TRY_AGAIN_HINT, **kwargs)
        if kwargs["problem_type"] == "state-conflict":
            return StateConflictError(hint=hint or _HINTS[409], **kwargs)
        return ConflictError(hint=hint or _HINTS[409], **kwargs)
    if status == 429:
        if throttled:
            hint = (
                f"Airbyte is throttling this credential (429 without Retry-After, {throttled} "
                "in a row, backed off up to the retry policy's throttle ceiling); ask the "
                "Airbyte operator to lift the limit, or run fewer syncs at once"
            )
        error = RateLimitedError(hint=hint or _HINTS[429], **kwargs)
        error.throttled = throttled > 0
        return error
    if status >= 500:
        return ServerError(hint=hint or _SERVER_HINT, **kwargs)
    return AirbyteAPIError(hint=hint or _HINTS.get(status, ""), **kwargs)


def transport_error(
    exc: httpx.HTTPError,
    *,
    method: str,
    path: str,
    target: str,
    redact: Redactor,
    note: str = "",
) -> AirbyteTransportError:
    """Describe a network failure; the caller raises it ``from`` the httpx error."""
    reason = _shorten(redact(str(exc))).rstrip(".") or "no details"
    text = f"{method} {path} failed: {type(exc).__name__}: {reason}"
    if note:
        text += f" ({note})"
    if isinstance(exc, httpx.UnsupportedProtocol):
        text += ". Check the Airbyte URL: it must start with http:// or https://"
    else:
        text += f". Check that Airbyte is reachable at {target}"
    return AirbyteTransportError(text, method=method, path=path)


def raise_if_cut_short(response: httpx.Response, request: httpx.Request) -> None:
    """Raise a transport error for a success answer whose JSON body was cut short.

    httpx already fails an answer that ends before its ``Content-Length`` or its last
    chunk. An answer framed only by the connection's end (no length, not chunked: an
    HTTP/1.0 hop) cannot be checked that way, so its JSON is: a cut body then counts as a
    lost answer (retried when safe, "uncertain" for ``POST /jobs``), never as a bad one.
    """
    if not response.is_success or response.status_code == 204:
        return
    headers = response.headers
    if "content-length" in headers or "chunked" in headers.get("transfer-encoding", "").lower():
        return
    if "json" not in headers.get("content-type", "").lower():
        return
    try:
        json.loads(response.content)
    except ValueError:
        raise httpx.RemoteProtocolError(
            f"the connection closed after {len(response.content)} bytes of an answer with no "
            "length, before its JSON was complete",
            request=request,
        ) from None
