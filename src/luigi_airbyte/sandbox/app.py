"""The sandbox's WSGI application: routing, auth, HTTP faults, the request journal, errors.

Request flow for an Airbyte path: route -> fault decision (latency, injected status) -> bearer
auth -> handler (engine call) -> maybe drop the connection -> journal. ``/_sandbox/`` paths
skip faults, auth and the journal. Mounts: Public API at ``/api/public/v1`` and ``/v1``,
Config API at ``/api/v1``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.exceptions import NotFound as RouteNotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

import luigi_airbyte.sandbox.http_admin as http_admin
import luigi_airbyte.sandbox.http_config as http_config
import luigi_airbyte.sandbox.http_public as http_public
from luigi_airbyte.sandbox.auth import TokenIssuer, parse_basic
from luigi_airbyte.sandbox.errors import SandboxError
from luigi_airbyte.sandbox.http_common import Call, Route, SandboxState
from luigi_airbyte.sandbox.http_config import InvalidInput
from luigi_airbyte.sandbox.http_faults import apply_latency, drop_connection, fault_response
from luigi_airbyte.sandbox.http_problems import (
    config_error,
    config_error_for,
    json_response,
    problem,
    problem_for,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from luigi_airbyte.sandbox.engine import Engine

logger = logging.getLogger(__name__)

PUBLIC_MOUNTS = ("/api/public/v1", "/v1")
_PARAM = re.compile(r"\{(\w+)\}")


class SandboxApp:
    """WSGI callable serving the Airbyte APIs of one engine."""

    def __init__(
        self, engine: Engine, *, http_faults: Iterable[Any] = (), token_key: bytes | None = None
    ) -> None:
        self.state = SandboxState(engine=engine, tokens=TokenIssuer(token_key))
        self.state.faults.set(http_faults)
        self._routes: list[tuple[Route, str]] = []
        rules: list[Rule] = []
        for mount in PUBLIC_MOUNTS:
            for route in http_public.ROUTES:
                rules.append(self._rule(route, mount, mount + route.template))
        for route in [*http_config.ROUTES, *http_admin.ROUTES]:
            rules.append(self._rule(route, "", route.template))
        self._map = Map(rules, strict_slashes=False, merge_slashes=False)

    def _rule(self, route: Route, mount: str, path: str) -> Rule:
        self._routes.append((route, mount))
        return Rule(
            _PARAM.sub(r"<\1>", path), methods=[route.method], endpoint=len(self._routes) - 1
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        started = time.monotonic()
        journal: list[dict[str, Any]] = []  # _dispatch puts the entry here as soon as it exists
        try:
            response = self._dispatch(request, environ, journal)
            if journal:
                journal[0]["status"] = response.status_code
            return response(environ, start_response)
        except ConnectionError:
            if journal:
                journal[0]["dropped"] = True
            raise
        finally:
            if journal:
                journal[0]["durationMs"] = round((time.monotonic() - started) * 1000, 3)
                self.state.log.add(journal[0])

    def _dispatch(
        self, request: Request, environ: WSGIEnvironment, journal: list[dict[str, Any]]
    ) -> Response:
        adapter = self._map.bind_to_environ(environ)
        admin = request.path.startswith("/_sandbox/")
        try:
            index, args = adapter.match()
        except (RouteNotFound, MethodNotAllowed) as exc:
            if not admin:
                journal.append(_entry(request, None))
            return _no_route(request, exc)
        route, mount = self._routes[index]
        call = Call(self.state, request, dict(args), mount)
        if route.api == "admin":
            return _run(route, call)
        entry = _entry(request, route)
        journal.append(entry)
        relative = request.path[len(mount) :] if mount else request.path
        decision = self.state.faults.decide(request.method, route.template, relative)
        if decision is not None:
            entry["faults"] = decision.faults
            apply_latency(decision)
            if decision.status is not None and not decision.after_apply:
                return fault_response(decision)
        if route.auth and not self._authenticated(request):
            return problem("invalid-api-key")
        response = _run(route, call)
        if decision is not None and decision.status is not None:  # after_apply
            entry["applied_status"] = response.status_code
            return fault_response(decision)
        if decision is not None and decision.drop_connection:
            entry["status"] = response.status_code  # what the client would have seen
            drop_connection(environ)
        return response

    def _authenticated(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return self.state.tokens.verify(value.strip()) is not None
        if scheme.lower() == "basic":
            creds = parse_basic(value)
            return creds is not None and self.state.engine.verify_client(*creds)
        return False


def _entry(request: Request, route: Route | None) -> dict[str, Any]:
    entry = {
        "method": request.method,
        "path": request.path,
        "query": request.query_string.decode("latin-1"),
        "endpoint": route.key if route else None,
        "api": route.api if route else None,
        "status": None,
        "dropped": False,
        "time": time.time(),
    }
    if route is not None and route.api == "config" and "/jobs/" in request.path:
        # A config-API job call names its job (or a listing its workspaces) in the body:
        # journal it, as a public ``GET /jobs/{id}`` does in its path, so reads can be
        # counted per job.
        try:
            body = json.loads(request.get_data(cache=True) or b"null")
        except ValueError:
            body = None  # the handler answers the bad body
        if isinstance(body, dict) and isinstance(body.get("id"), int):
            entry["jobId"] = body["id"]
        if isinstance(body, dict) and isinstance(body.get("workspaceIds"), list):
            entry["workspaceIds"] = body["workspaceIds"]  # whose jobs a listing asked for
    return entry


def _run(route: Route, call: Call) -> Response:
    """Call a handler and turn engine errors into the error body of the route's API."""
    try:
        return route.handler(call)
    except InvalidInput as exc:
        return exc.response()
    except SandboxError as exc:
        if route.api == "config":
            return config_error_for(exc)
        if route.api == "admin":
            return json_response({"error": str(exc)}, 400)
        return problem_for(exc)
    except Exception as exc:
        logger.exception("sandbox: unhandled error on %s %s", route.method, route.template)
        if route.api == "config":
            return config_error(500, f"{type(exc).__name__}: {exc}")
        return problem("unexpected-problem", {"message": f"{type(exc).__name__}: {exc}"})


def _no_route(request: Request, exc: HTTPException) -> Response:
    """404/405 in the shape of whichever API the path belongs to (405 carries ``Allow``)."""
    status = exc.code or 404
    path, method = request.path, request.method
    allowed = sorted(getattr(exc, "valid_methods", None) or [])
    if path.startswith("/_sandbox/"):
        response = json_response({"error": f"no admin endpoint {method} {path}"}, status)
    elif status == 405 and path.startswith("/api/v1/"):
        response = config_error(405, f"Method [{method}] not allowed for URI [{path}]")
    elif path.startswith("/api/v1/"):
        response = config_error(404, f"Page Not Found: {method} {path}")
    elif status == 405:
        # Micronaut answers routing errors itself, with its own JSON error body.
        methods = ", ".join(allowed)
        message = f"Method [{method}] not allowed for URI [{path}]. Allowed methods: [{methods}]"
        body = {"message": "Method Not Allowed", "_embedded": {"errors": [{"message": message}]}}
        response = json_response(body, 405)
    else:
        response = problem("resource-not-found", {"resourceId": path})
    if status == 405:
        response.headers["Allow"] = ", ".join(allowed)
    return response
