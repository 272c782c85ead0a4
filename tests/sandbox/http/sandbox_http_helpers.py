"""Helpers for the sandbox HTTP tests: a fast world, the spec validator, polling.

Every response that passes through a client built by the ``validated`` fixture (``client``,
``config_client``, the SDK's client) is checked against Airbyte's own OpenAPI documents in
``../shared/airbyte-api`` for its path, method and status:

- Public API 2xx: ``public-api.yaml`` (OpenAPI 3.1) response schema of the operation.
- Public API errors: the spec declares none, so the body must be a problem from
  ``public-api-problems.yaml`` chosen by its ``title``, with ``type``/``title``/``detail``
  equal to the spec defaults (the problems file says defaults are constants).
- Config API: ``config-api.yaml`` (OpenAPI 3.0) 200/404/422 schemas; 409 and 500 are the
  ``ExceptionResponse`` (``KnownExceptionInfo``) the server uses for known errors.

Spec quirks are patched or handled here, each with a comment; nothing is skipped silently.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx

from luigi_airbyte.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[3]
SPECS = Path(os.environ.get("AIRBYTE_SPECS_DIR", REPO.parent / "shared" / "airbyte-api"))

# One shared plain client: building an httpx.Client loads the CA bundle (~0.1 s each).
HTTP = httpx.Client(verify=False, timeout=10)

FAST_CONNECTION = "Fast CRM"
SLOW_CONNECTION = "Slow CRM"
PAUSED_CONNECTION = "Paused CRM"
CLIENT_ID = "http-tests-client"
CLIENT_SECRET = "http-tests-secret"


def fast_world(tmp: Path) -> dict[str, Any]:
    """Small streams, sub-second jobs, a slow connection to cancel, an inactive one."""
    source = {
        "name": "CRM",
        "type": "generator",
        "configuration": {"host": "crm.internal", "password": "crm-secret"},
        "streams": [
            {"name": "users", "size": 20, "growth_per_sync": 2, "seed": 1},
            {"name": "orders", "size": 30, "growth_per_sync": 3, "seed": 2},
        ],
    }
    streams = [
        {
            "name": "users",
            "sync_mode": "incremental_deduped_history",
            "cursor_field": ["updated_at"],
            "primary_key": [["id"]],
        },
        {"name": "orders", "sync_mode": "full_refresh_append"},
    ]

    def conn(name: str, seconds: float, **extra: Any) -> dict[str, Any]:
        return {
            "name": name,
            "source": "CRM",
            "destination": "Warehouse",
            "prefix": name.lower().replace(" ", "_") + "_",
            "streams": streams,
            "job_duration_seconds": seconds,
            **extra,
        }

    return {
        "workspaces": [{"name": "Tests"}],
        "sources": [source],
        "destinations": [
            {"name": "Warehouse", "type": "duckdb", "path": str(tmp / "warehouse.duckdb")}
        ],
        "connections": [
            conn(FAST_CONNECTION, 0.2),
            conn(SLOW_CONNECTION, 120),
            conn(PAUSED_CONNECTION, 0.2, status="inactive"),
        ],
        "applications": [{"name": "tests", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}],
        "settings": {"attempt_backoff_seconds": 0},
    }


# --- the spec validator -------------------------------------------------------------------


class SpecValidator:
    """Validates sandbox responses against the Airbyte specs and records what it covered."""

    def __init__(self, specs: Path) -> None:
        import yaml
        from openapi_schema_validator import (
            OAS30Validator,
            OAS31Validator,
            oas30_format_checker,
            oas31_format_checker,
        )
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4, DRAFT202012

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        self.public = yaml.load((specs / "public-api.yaml").read_text(), Loader=loader)
        self.problems = yaml.load((specs / "public-api-problems.yaml").read_text(), Loader=loader)
        self.config = yaml.load((specs / "config-api.yaml").read_text(), Loader=loader)
        self._patch_quirks()
        self._registry: Any = Registry().with_resources(
            [
                ("urn:public", Resource.from_contents(self.public, DRAFT202012)),
                ("urn:problems", Resource.from_contents(self.problems, DRAFT4)),
                ("urn:config", Resource.from_contents(self.config, DRAFT4)),
            ]
        )
        self._validators = {
            "urn:public": (OAS31Validator, oas31_format_checker),
            "urn:problems": (OAS30Validator, oas30_format_checker),
            "urn:config": (OAS30Validator, oas30_format_checker),
        }
        self._public_paths = _compile_paths(self.public["paths"])
        self._config_paths = _compile_paths(self.config["paths"])
        self._problem_by_title = self._index_problems()
        self.covered: set[tuple[str, str, int]] = set()

    def _patch_quirks(self) -> None:
        # Quirk 1 (config-api.yaml): AirbyteStream lists `json_schema` as required but the
        # property (and the server's output) is `jsonSchema`. Fix the required list so the
        # check still demands the field under its real name.
        stream = self.config["components"]["schemas"]["AirbyteStream"]
        stream["required"] = ["jsonSchema" if r == "json_schema" else r for r in stream["required"]]
        # Quirk 2 (public-api.yaml): ApplicationTokenRequestWithGrant requires `grant_type`
        # but defines `grant-type`. It is a *request* schema, so nothing to patch for response
        # validation; test_http_auth.py checks the sandbox accepts both spellings and none.
        # Quirk 3 (public-api.yaml): ids use `format: UUID` (upper case), an unknown format
        # that validators ignore; UUID shape is asserted by the tests that need it.

    def _index_problems(self) -> dict[str, tuple[str, dict[str, Any]]]:
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        for name, schema in self.problems["components"]["schemas"].items():
            if not name.endswith("ProblemResponse"):
                continue
            props: dict[str, Any] = {}
            for part in schema.get("allOf", []):
                props.update(part.get("properties", {}))
            title = props.get("title", {}).get("default")
            if title:
                defaults = {k: v["default"] for k, v in props.items() if "default" in v}
                out[title] = (name, defaults)
        return out

    def validate(self, resource: str, pointer: str, body: Any) -> None:
        """Validate ``body`` against the schema at ``resource#pointer``."""
        cls, checker = self._validators[resource]
        validator = cls(
            {"$ref": f"{resource}#{pointer}"}, registry=self._registry, format_checker=checker
        )
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            lines = [
                f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                for e in errors[:10]
            ]
            raise AssertionError(
                f"response does not match {resource}#{pointer}:\n  " + "\n  ".join(lines)
            )

    def check(self, response: httpx.Response) -> None:
        """Validate one sandbox response (admin paths are not Airbyte's and are skipped)."""
        path, method = response.request.url.path, response.request.method
        status = response.status_code
        if path.startswith("/_sandbox/"):
            return
        if path.startswith(("/api/public/v1/", "/v1/")):
            rel = path.split("/v1", 1)[1]
            self._check_public(method, rel, status, response)
        elif path.startswith("/api/v1/"):
            self._check_config(method, path[len("/api") :], status, response)
        else:
            raise AssertionError(f"response from an unknown API path {path}")

    def _check_public(self, method: str, rel: str, status: int, response: httpx.Response) -> None:
        template = _match(self._public_paths, rel)
        self.covered.add((method, f"public {template}", status))
        if status in (502, 504):  # injected gateway errors: an nginx page, not Airbyte's
            assert response.headers["content-type"].startswith("text/html")
            return
        if status >= 400:
            self._check_problem(status, response)
            return
        assert template is not None, f"{method} {rel} is not a Public API path"
        op = self.public["paths"][template].get(method.lower())
        assert op is not None, f"{method} {template} is not a Public API operation"
        declared = op["responses"].get(str(status))
        assert declared is not None, f"{method} {template} does not declare status {status}"
        content = declared.get("content", {})
        if "application/json" not in content:
            # /health: "Successful operation" as text, no schema.
            assert response.headers["content-type"].startswith("text/plain")
            assert response.text
            return
        ctype = response.headers["content-type"]
        assert ctype == "application/json", f"content-type {ctype!r}, the SDK needs JSON"
        pointer = (
            f"/paths/{_esc(template)}/{method.lower()}/responses/{status}"
            "/content/application~1json/schema"
        )
        self.validate("urn:public", pointer, response.json())

    def _check_problem(self, status: int, response: httpx.Response) -> None:
        ctype = response.headers["content-type"]
        assert ctype == "application/json", f"problems are served as JSON, not {ctype!r}"
        body = response.json()
        assert body.get("status") == status, body
        known = self._problem_by_title.get(body.get("title", ""))
        if known is None:
            # 429 is not an Airbyte problem type (the load-shed filter's body is undocumented);
            # the sandbox's approximation must still be a well-formed problem.
            assert status == 429, f"unknown problem title in {body}"
            self.validate("urn:problems", "/components/schemas/BaseProblemFields", body)
            return
        name, defaults = known
        self.validate("urn:problems", f"/components/schemas/{name}", body)
        for key in ("status", "type", "title", "detail"):
            if key in defaults:
                assert body[key] == defaults[key], f"{key} differs from the spec default: {body}"

    def _check_config(self, method: str, rel: str, status: int, response: httpx.Response) -> None:
        template = _match(self._config_paths, rel)
        self.covered.add((method, f"config {template}", status))
        if template is None:  # an unknown path: the 404 body must still be the documented one
            assert status == 404, f"{method} {rel} is not a Config API path"
            pointer = "/components/responses/NotFoundResponse/content/application~1json/schema"
            self.validate("urn:config", pointer, response.json())
            return
        if status == 401:  # the sandbox answers auth failures with the Public API problem
            self._check_problem(status, response)
            return
        ctype = response.headers["content-type"]
        assert ctype == "application/json", f"content-type {ctype!r} on the Config API"
        op = self.config["paths"][template].get(method.lower())
        assert op is not None, f"{method} {template} is not a Config API operation"
        declared = op["responses"].get(str(status))
        if declared is None:
            # 409/500 are not declared per operation; the server sends KnownExceptionInfo
            # (components/responses/ExceptionResponse).
            assert status in (409, 500), f"{method} {template} does not declare {status}"
            declared = {"$ref": "#/components/responses/ExceptionResponse"}
        if "$ref" in declared:
            pointer = declared["$ref"][1:] + "/content/application~1json/schema"
        else:
            pointer = (
                f"/paths/{_esc(template)}/{method.lower()}/responses/{status}"
                "/content/application~1json/schema"
            )
        self.validate("urn:config", pointer, response.json())


def _esc(template: str) -> str:
    return template.replace("~", "~0").replace("/", "~1")


def _compile_paths(paths: dict[str, Any]) -> list[tuple[re.Pattern[str], str]]:
    out = []
    for template in paths:
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        out.append((re.compile(f"^{regex}$"), template))
    # static segments win over parameters (/applications/token vs /applications/{id})
    out.sort(key=lambda item: item[1].count("{"))
    return out


def _match(paths: list[tuple[re.Pattern[str], str]], rel: str) -> str | None:
    return next((t for regex, t in paths if regex.match(rel)), None)


def token_for(sandbox: Sandbox, client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> str:
    """Mint an access token over HTTP (form-encoded, as the SDK does)."""
    r = HTTP.post(
        f"{sandbox.url}/applications/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def connection_id(sandbox: Sandbox, name: str) -> str:
    """Id of a connection of the sandbox's world, by name."""
    world = sandbox.world
    return world.connection_id(next(c for c in world.connections if c.name == name))


def wait_for_job(c: httpx.Client, job_id: int, timeout: float = 20) -> dict[str, Any]:
    """Poll ``GET /jobs/{id}`` until the job is terminal."""
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = c.get(f"/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']}"
        time.sleep(0.05)


def dumps(obj: Any) -> str:
    """Stable JSON for readable assertion messages."""
    return json.dumps(obj, indent=1, sort_keys=True)
