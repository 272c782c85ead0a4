"""Small wire helpers of ``AirbyteClient``: ids in paths, timestamps, TLS, "was it sent",
and reading an answer (``ResponseReader``)."""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from luigi_airbyte.airbyte._auth import AirbyteAuth, _TokenAuth
from luigi_airbyte.airbyte._retry import NOT_SENT_ERRORS
from luigi_airbyte.errors import AirbyteAPIError

Json = Mapping[str, Any]
T = TypeVar("T")

_JSON_HINT = "Check that the url points at Airbyte's API (…/api/public/v1), not the web UI"


def _iso(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``; a naive datetime is taken to be UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def config_api_root(url: str) -> str:
    """The Config API base whose paths start with ``/v1/`` (the spec's ``servers`` form).

    Accepts both ``http://host:8000/api`` (the spec) and ``http://host:8000/api/v1``
    (Airbyte's docs, dagster-airbyte): a trailing ``/v1`` is dropped, so neither form
    ends up calling ``/api/v1/v1/...``.
    """
    base = url.strip().rstrip("/")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    return base


def _seg(value: str) -> str:
    """An id as one URL path segment: ``../x`` or ``a?b`` cannot change the route."""
    return quote(str(value), safe="")


def _verify(verify: bool | str) -> bool | ssl.SSLContext:
    """httpx 0.28 deprecates ``verify=<path>``; build the SSL context ourselves."""
    if isinstance(verify, bool):
        return verify
    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    return ssl.create_default_context(cafile=verify)


def plain_http_only(auth: httpx.Auth | None, url: str, config_setting: str) -> bool:
    """Whether every URL the client may reach (API, token, config API) is plain http."""
    token_url = ""
    if isinstance(auth, _TokenAuth):
        token_url = auth._token_url_or_unset()
    elif auth is not None and not isinstance(auth, AirbyteAuth):
        return False  # a foreign auth flow may call anywhere
    urls = [url, token_url, config_setting]
    return not any(u.startswith("https://") for u in urls) and not any(
        u and u != "auto" and not u.startswith("http://") for u in urls[1:]
    )


def make_http_client(kwargs: Mapping[str, Any], *, plain_http: bool) -> httpx.Client:
    """The client's connection pool; no TLS set-up (~40 ms) when ``plain_http``."""
    options = dict(kwargs)
    if options["transport"] is not None:
        options["verify"] = True
    elif plain_http:
        options["verify"] = False  # nothing to verify: no https URL is ever reached
    else:
        options["verify"] = _verify(options["verify"])
    return httpx.Client(**options)


def _sent(exc: httpx.HTTPError, request: httpx.Request) -> bool:
    """Whether ``request`` may have reached the server before ``exc``.

    A failure of another request (the auth flow's token request) means ours was
    never sent. Connect and pool errors happen before anything is written.
    """
    try:
        failed: httpx.Request | None = exc.request
    except RuntimeError:
        failed = None
    if failed is not None and failed is not request:
        return False
    return not isinstance(exc, NOT_SENT_ERRORS)


class ResponseReader:
    """Reading an answer: JSON, an object, a list of items, a model; a wrong shape is an
    ``AirbyteAPIError`` naming the request, never a ``KeyError``."""

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise AirbyteAPIError(
                status_code=response.status_code,
                method=response.request.method,
                path=response.request.url.path,
                server_message="the answer is not JSON",
                hint=_JSON_HINT,
            ) from None

    def _object(self, response: httpx.Response) -> Json:
        body = self._json(response)
        if not isinstance(body, Mapping):
            raise self._bad_answer(response, "expected a JSON object")
        return body

    def _items(self, response: httpx.Response, key: str = "data") -> list[Json]:
        body = self._json(response)
        if isinstance(body, Mapping):
            body = body.get(key)
        if not isinstance(body, list):
            raise self._bad_answer(response, f"expected a {key!r} list")
        return [item for item in body if isinstance(item, Mapping)]

    @staticmethod
    def _bad_answer(response: httpx.Response, what: str) -> AirbyteAPIError:
        return AirbyteAPIError(
            status_code=response.status_code,
            method=response.request.method,
            path=response.request.url.path,
            server_message=f"unexpected answer: {what}",
            hint="This Airbyte version may be unsupported; please report it",
        )

    def _parse(self, response: httpx.Response, parse: Callable[[Json], T], data: Json) -> T:
        """Run a model parser; a missing required field becomes an API error, not a KeyError."""
        try:
            return parse(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise self._bad_answer(response, f"cannot read {type(exc).__name__}: {exc}") from None
