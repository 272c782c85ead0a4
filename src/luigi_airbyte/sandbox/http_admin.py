"""The sandbox's own control API under ``/_sandbox/``: no auth, no faults, not logged.

It is deliberately outside every Airbyte path so a client under test can never reach it by
accident. Errors are ``{"error": "..."}`` with a 4xx status.

- ``GET /_sandbox/info``: ``{url, config_api_url, config_api_root, base_url, client_id,
  client_secret, workspace_id}``; ``config_api_url`` is Airbyte's documented ``…/api/v1``
  form, ``config_api_root`` the spec's ``…/api`` form
- ``GET /_sandbox/requests?path=&method=&endpoint=``: ``{"requests": [{method, path, query,
  endpoint, api, status, dropped, faults?, jobId?, time, durationMs}]}`` (``jobId``: the
  job a config-API ``jobs/*`` call names in its body); ``DELETE`` clears it and answers
  ``{"cleared": n}``
- ``GET /_sandbox/terminal-times``: ``{"terminalTimes": {"<jobId>": epoch_seconds}}``
- ``GET /_sandbox/faults``: ``{"http": [fault + calls/fired], "engine": {...},
  "webhooks": {...}}``; ``PUT`` with ``{"http"?: [fault], "engine"?: {...},
  "webhooks"?: {...}}`` replaces the parts given
- ``GET /_sandbox/webhooks``: ``{"deliveries": [...]}``, every sync webhook the sandbox
  sent, dropped or failed to send (see notifications.py); faults under the ``webhooks``
  key of ``PUT /_sandbox/faults``: ``{drop_all, drop_connections, drop_count, replay_count}``
- ``PUT /_sandbox/token-ttl`` with ``{"seconds": n}``: lifetime of tokens minted from now on
- ``GET /_sandbox/destination-counts/{connectionId}``: rows per stream in the destination
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

from luigi_airbyte.sandbox.errors import NotFound, SandboxError
from luigi_airbyte.sandbox.http_common import Call, Route
from luigi_airbyte.sandbox.http_problems import json_response
from luigi_airbyte.sandbox.notifications import WebhookFaults


def _error(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def _body(call: Call) -> dict[str, Any] | Response:
    try:
        body = json.loads(call.request.get_data() or b"{}")
    except ValueError as exc:
        return _error(400, f"malformed JSON: {exc}")
    if not isinstance(body, dict):
        return _error(400, "the body must be a JSON object")
    return body


def info(call: Call) -> Response:
    """Where the sandbox listens and the credentials to use."""
    return json_response(call.state.info)


def requests(call: Call) -> Response:
    """The request journal, optionally filtered."""
    args = call.request.args
    entries = call.state.log.entries(args.get("path"), args.get("method"), args.get("endpoint"))
    return json_response({"requests": entries})


def clear_requests(call: Call) -> Response:
    """Forget the journal."""
    return json_response({"cleared": call.state.log.clear()})


def terminal_times(call: Call) -> Response:
    """When each job reached a terminal status (epoch seconds)."""
    times = call.engine.terminal_times()
    return json_response({"terminalTimes": {str(k): v for k, v in times.items()}})


def _faults(call: Call) -> dict[str, Any]:
    return {
        "http": call.state.faults.snapshot(),
        "engine": call.engine.faults_snapshot(),
        "webhooks": call.engine.webhooks.faults_snapshot(),
    }


def get_faults(call: Call) -> Response:
    """The active HTTP and engine faults."""
    return json_response(_faults(call))


def put_faults(call: Call) -> Response:
    """Replace HTTP faults and/or engine faults (only the keys present)."""
    body = _body(call)
    if isinstance(body, Response):
        return body
    unknown = set(body) - {"http", "engine", "webhooks"}
    if unknown:
        return _error(
            400, f"unknown key(s): {', '.join(sorted(unknown))}; use http, engine, webhooks"
        )
    try:
        hooks = WebhookFaults.parse(body["webhooks"] or {}) if "webhooks" in body else None
        if "http" in body:
            if not isinstance(body["http"], list):
                return _error(400, "http must be a list of faults")
            call.state.faults.set(body["http"])
        if "engine" in body:
            call.engine.set_engine_faults(body["engine"] or {})
        if hooks is not None:
            call.engine.webhooks.set_faults(hooks)
    except (ValueError, TypeError, SandboxError) as exc:
        return _error(400, str(exc))
    return json_response(_faults(call))


def webhook_deliveries(call: Call) -> Response:
    """Every sync webhook sent, dropped or failed, oldest first."""
    return json_response({"deliveries": call.engine.webhooks.journal()})


def put_token_ttl(call: Call) -> Response:
    """Change the lifetime of tokens minted from now on."""
    body = _body(call)
    if isinstance(body, Response):
        return body
    seconds = body.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
        return _error(400, "seconds must be a positive integer")
    call.engine.token_ttl_seconds = seconds
    return json_response({"seconds": seconds})


def destination_counts(call: Call) -> Response:
    """Rows per stream actually written to the connection's destination."""
    try:
        return json_response(call.engine.destination_counts(call.args["connectionId"]))
    except NotFound as exc:
        return _error(404, str(exc))


#: The admin routing rows (no auth).
ROUTES = [
    Route("admin", method, template, handler, auth=False)
    for method, template, handler in [
        ("GET", "/_sandbox/info", info),
        ("GET", "/_sandbox/requests", requests),
        ("DELETE", "/_sandbox/requests", clear_requests),
        ("GET", "/_sandbox/terminal-times", terminal_times),
        ("GET", "/_sandbox/faults", get_faults),
        ("PUT", "/_sandbox/faults", put_faults),
        ("GET", "/_sandbox/webhooks", webhook_deliveries),
        ("PUT", "/_sandbox/token-ttl", put_token_ttl),
        ("GET", "/_sandbox/destination-counts/{connectionId}", destination_counts),
    ]
]
