"""Credentials for Airbyte, as ``httpx.Auth`` generator flows.

Token flows fetch lazily, refresh before expiry, and on a 401 refresh once and
resend once (a 401 means the server refused the request, so the resend cannot
duplicate work, even for ``POST /jobs``). Token requests are yielded through the
client's own transport, so tests see them on a ``MockTransport``, and a lock held in
``sync_auth_flow`` makes concurrent threads share a single refresh.

Tokens live in memory only. Secrets may be plain strings, callables (so the secrets
layer can rotate them) or anything with ``get_secret_value()`` (pydantic ``SecretStr``);
they never appear in ``repr``, logs or exception messages.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import math
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Generator, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias
from urllib.parse import quote_plus

import httpx

from luigi_airbyte.airbyte._errors import error_from_response, make_redactor, raise_if_cut_short
from luigi_airbyte.errors import AuthenticationError, ConfigError, SecretError

logger = logging.getLogger("luigi_airbyte.airbyte")

DEFAULT_TOKEN_PATH = "/applications/token"
MAX_SKEW_SECONDS = 60.0
SKEW_FRACTION = 0.2


class SupportsSecretValue(Protocol):
    """Anything like pydantic's ``SecretStr``."""

    def get_secret_value(self) -> str: ...


SecretLike: TypeAlias = str | Callable[[], str] | SupportsSecretValue

Flow = Generator[httpx.Request, httpx.Response, None]


def resolve_secret(value: SecretLike, what: str) -> str:
    """Read a secret now; callables are called every time so rotation takes effect."""
    if isinstance(value, str):
        resolved: object = value
    elif hasattr(value, "get_secret_value"):
        resolved = value.get_secret_value()
    elif callable(value):
        resolved = value()
    else:
        raise SecretError(f"{what} must be a string, a callable or a SecretStr")
    if not isinstance(resolved, str) or not resolved:
        raise SecretError(f"{what} resolved to an empty value")
    return resolved


def _describe(value: SecretLike) -> str:
    """A repr for a possibly-callable, non-secret value (a client id)."""
    return repr(value) if isinstance(value, str) else "<provided>"


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT, read without verifying; None when ``token`` is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        return None
    return claims if isinstance(claims, dict) else None


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (epoch seconds), read without verifying; None otherwise."""
    claims = jwt_claims(token)
    if claims is None:
        return None
    exp = claims.get("exp")
    if isinstance(exp, (int, float)) and not isinstance(exp, bool) and math.isfinite(exp):
        return float(exp)
    return None


@dataclass(frozen=True)
class _Token:
    access_token: str
    expires_in: float | None


def _with_timeout_of(
    request: httpx.Request, fetch: Generator[httpx.Request, httpx.Response, _Token]
) -> Generator[httpx.Request, httpx.Response, _Token]:
    """Send the token requests of ``fetch`` with ``request``'s timeout.

    httpx gives a request its client's timeout when the client builds it; one an auth flow
    builds has none, and is sent with no timeout at all: a token endpoint that accepts the
    connection and never answers would hang the run for good.
    """
    timeout = request.extensions.get("timeout")
    try:
        outgoing = next(fetch)
        while True:
            if timeout is not None:
                outgoing.extensions.setdefault("timeout", timeout)
            outgoing = fetch.send((yield outgoing))
    except StopIteration as done:
        token: _Token = done.value
        return token


class AirbyteAuth(httpx.Auth):
    """Base of our credentials: they can say what to fix and which values to scrub."""

    source: str = ""

    def failure_hint(self) -> str:
        """The next step when Airbyte refuses this credential."""
        where = f" (read from {self.source})" if self.source else ""
        return f"Airbyte refused the credential{where}; check it is current and valid"

    def secret_values(self) -> Iterable[str]:
        """Secret values currently in memory, so error texts can be scrubbed of them."""
        return ()


class _TokenAuth(AirbyteAuth):
    """Shared machinery for flows that exchange credentials for a bearer token."""

    requires_response_body = True  # the async path must read token bodies

    def __init__(self, *, source: str, clock: Callable[[], float]) -> None:
        self.source = source
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._previous_token: str | None = None
        self._refresh_at = -math.inf
        self._expires_at = math.inf
        self._last_secret: str | None = None
        self.token_fetches = 0

    # -- subclasses ---------------------------------------------------------------
    @abstractmethod
    def _token_url(self) -> str: ...

    @abstractmethod
    def _fetch(self) -> Generator[httpx.Request, httpx.Response, _Token]: ...

    # -- public -------------------------------------------------------------------
    def failure_hint(self) -> str:
        where = f"; credentials are read from {self.source}" if self.source else ""
        return (
            f"The token from {self._token_url_or_unset()} was refused even after a refresh: "
            f"check the client id and secret{where}"
        )

    def secret_values(self) -> Iterable[str]:
        return [v for v in (self._last_secret, self._token, self._previous_token) if v]

    def invalidate(self) -> None:
        """Forget the cached token (after a credential rotation, for example)."""
        with self._lock:
            self._token = None
            self._refresh_at = -math.inf

    @property
    def expires_at(self) -> float:
        """When the cached token expires (epoch seconds; ``inf`` if unknown)."""
        return self._expires_at

    @property
    def refresh_at(self) -> float:
        """When the cached token will be replaced (before expiry, by a safety margin)."""
        return self._refresh_at

    # -- the flow -----------------------------------------------------------------
    def sync_auth_flow(self, request: httpx.Request) -> Flow:
        flow = self._flow(request, self._lock)
        try:
            outgoing = next(flow)
            while True:
                response = yield outgoing
                response.read()
                try:
                    outgoing = flow.send(response)
                except StopIteration:
                    return
        finally:
            flow.close()

    def auth_flow(self, request: httpx.Request) -> Flow:
        # Used by httpx's async path, which has no thread lock to take.
        yield from self._flow(request, contextlib.nullcontext())

    def _flow(self, request: httpx.Request, lock: AbstractContextManager[Any]) -> Flow:
        token = yield from self._acquire(lock, request, stale=None)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        logger.info("Airbyte answered 401; refreshing the access token and resending once")
        token = yield from self._acquire(lock, request, stale=token)
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def _acquire(
        self, lock: AbstractContextManager[Any], request: httpx.Request, *, stale: str | None
    ) -> Generator[httpx.Request, httpx.Response, str]:
        with lock:
            current = self._token
            if current is not None and current != stale and self._clock() < self._refresh_at:
                return current  # fresh, or another thread already replaced the stale one
            fetched = yield from _with_timeout_of(request, self._fetch())
            self._store(fetched)
            return fetched.access_token

    def _store(self, token: _Token) -> None:
        now = self._clock()
        candidates: list[float] = []
        if token.expires_in is not None and token.expires_in > 0:
            candidates.append(now + token.expires_in)
        exp = jwt_expiry(token.access_token)
        if exp is not None and exp > now:  # a past exp means clock skew: ignore it
            candidates.append(exp)
        if candidates:
            expires_at = min(candidates)
            lifetime = expires_at - now
            refresh_at = expires_at - min(MAX_SKEW_SECONDS, SKEW_FRACTION * lifetime)
        else:  # no expiry known: keep it until Airbyte answers 401
            expires_at = refresh_at = math.inf
        self._previous_token = self._token
        self._token = token.access_token
        self._expires_at = expires_at
        self._refresh_at = refresh_at
        self.token_fetches += 1
        logger.debug(
            "fetched an Airbyte access token; refreshing in %.0f s",
            refresh_at - now if math.isfinite(refresh_at) else -1,
        )

    # -- helpers for subclasses -----------------------------------------------------
    def _token_url_or_unset(self) -> str:
        try:
            return self._token_url()
        except ConfigError:
            return "the token endpoint"

    def _redactor(self) -> Callable[[str], str]:
        return make_redactor(self.secret_values)

    def _send_token_request(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, httpx.Response]:
        started = time.perf_counter()
        response = yield request
        logger.debug(
            "HTTP %s %s -> %d (%.0f ms)",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    def _parse_token(self, response: httpx.Response) -> _Token:
        url = self._token_url()
        path = httpx.URL(url).path
        if not response.is_success:
            where = f" (read from {self.source})" if self.source else ""
            if response.status_code in (400, 401, 403, 404, 405, 415):
                hint = (
                    f"The token endpoint {url} refused the client credentials: check the "
                    f"client id and secret{where}, and the token URL"
                )
                raise error_from_response(
                    response,
                    method="POST",
                    path=path,
                    redact=self._redactor(),
                    hint=hint,
                    cls=AuthenticationError,
                )
            raise error_from_response(
                response,
                method="POST",
                path=path,
                redact=self._redactor(),
                hint=f"The token endpoint {url} failed; retry later",
            )
        raise_if_cut_short(response, response.request)  # a lost answer, retried
        try:
            body = response.json()
        except ValueError:
            body = None
        access = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(access, str) or not access:
            raise AuthenticationError(
                status_code=response.status_code,
                method="POST",
                path=path,
                server_message="the answer has no access_token",
                hint=f"Check the token URL {url}: it does not look like a token endpoint",
            )
        expires = body.get("expires_in") if isinstance(body, dict) else None
        expires_in: float | None = None
        if isinstance(expires, (int, float)) and not isinstance(expires, bool):
            expires_in = float(expires)
        elif isinstance(expires, str):
            with contextlib.suppress(ValueError):
                expires_in = float(expires)
        return _Token(access_token=access, expires_in=expires_in)


class AirbyteClientCredentials(_TokenAuth):
    """Airbyte application credentials (client id + secret), exchanged for a bearer token.

    Posts JSON ``{client_id, client_secret, "grant-type": "client_credentials"}`` to
    ``<url>/applications/token`` (what Airbyte documents); if the server answers 400 or
    415, retries once form-encoded (what the official SDK sends) and keeps using form.

    Args:
        client_id: the application's client id.
        client_secret: the secret (a string, a callable or a ``SecretStr``).
        token_url: absolute URL, or a path relative to the client's url; by default
            ``<url>/applications/token`` of the ``AirbyteClient`` it is given to.
        source: where the credentials come from (``env:AIRBYTE_CLIENT_SECRET``), for hints.
        clock: wall clock (epoch seconds); injectable for tests.
    """

    def __init__(
        self,
        client_id: SecretLike,
        client_secret: SecretLike,
        token_url: str | None = None,
        *,
        source: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(source=source, clock=clock)
        self._client_id = client_id
        self._client_secret = client_secret
        self._explicit_token_url = token_url
        self._base_url: str | None = None
        self._use_form = False

    def __repr__(self) -> str:
        return (
            f"AirbyteClientCredentials(client_id={_describe(self._client_id)}, "
            f"client_secret=<hidden>, token_url={self._token_url_or_unset()!r})"
        )

    def _bind_base_url(self, base_url: str) -> None:
        """Called by ``AirbyteClient`` so the default token URL follows its url."""
        self._base_url = base_url.rstrip("/")

    def _token_url(self) -> str:
        url = self._explicit_token_url
        if url and url.startswith(("http://", "https://")):
            return url
        if self._base_url is None:
            raise ConfigError(
                "AirbyteClientCredentials needs an absolute token_url when it is used "
                "outside AirbyteClient"
            )
        return self._base_url + "/" + (url or DEFAULT_TOKEN_PATH).lstrip("/")

    def _fetch(self) -> Generator[httpx.Request, httpx.Response, _Token]:
        url = self._token_url()
        client_id = resolve_secret(self._client_id, "client_id")
        secret = resolve_secret(self._client_secret, "client_secret")
        self._last_secret = secret
        headers = {"Accept": "application/json"}
        if not self._use_form:
            body = {
                "client_id": client_id,
                "client_secret": secret,
                "grant-type": "client_credentials",
            }
            request = httpx.Request("POST", url, json=body, headers=headers)
            response = yield from self._send_token_request(request)
            if response.status_code not in (400, 415):
                return self._parse_token(response)
            logger.debug(
                "token endpoint refused JSON (%d); retrying form-encoded", response.status_code
            )
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
        }
        request = httpx.Request("POST", url, data=form, headers=headers)
        response = yield from self._send_token_request(request)
        token = self._parse_token(response)
        self._use_form = True
        return token


class OIDCClientCredentials(_TokenAuth):
    """OAuth 2 client credentials against an identity provider (Okta, Keycloak, Azure AD).

    Sends the standard form ``grant_type=client_credentials`` with optional ``scope``
    and ``audience``.

    Args:
        token_url: the provider's token endpoint.
        client_id: the client id.
        client_secret: the secret (a string, a callable or a ``SecretStr``).
        scope: one scope string, or several (joined with spaces).
        audience: sent as ``audience`` (Auth0, Okta custom servers).
        client_auth: ``"body"`` puts id and secret in the form; ``"basic"`` sends them
            as HTTP Basic (``client_secret_basic``).
        source: where the credentials come from, for hints.
        clock: wall clock (epoch seconds); injectable for tests.
    """

    def __init__(
        self,
        token_url: str,
        client_id: SecretLike,
        client_secret: SecretLike,
        scope: str | Sequence[str] | None = None,
        audience: str | None = None,
        *,
        client_auth: Literal["body", "basic"] = "body",
        source: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(source=source, clock=clock)
        if not token_url.startswith(("http://", "https://")):
            raise ConfigError(f"OIDC token_url must be an absolute http(s) URL, got {token_url!r}")
        if client_auth not in ("body", "basic"):
            raise ConfigError("client_auth must be 'body' or 'basic'")
        self._url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._scope = scope if scope is None or isinstance(scope, str) else " ".join(scope)
        self._audience = audience
        self._client_auth = client_auth
        self._last_basic: str | None = None

    def __repr__(self) -> str:
        return (
            f"OIDCClientCredentials(token_url={self._url!r}, "
            f"client_id={_describe(self._client_id)}, client_secret=<hidden>, "
            f"scope={self._scope!r}, audience={self._audience!r}, "
            f"client_auth={self._client_auth!r})"
        )

    def _token_url(self) -> str:
        return self._url

    def secret_values(self) -> Iterable[str]:
        return [*super().secret_values(), *([self._last_basic] if self._last_basic else [])]

    def _fetch(self) -> Generator[httpx.Request, httpx.Response, _Token]:
        client_id = resolve_secret(self._client_id, "client_id")
        secret = resolve_secret(self._client_secret, "client_secret")
        self._last_secret = secret
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope
        if self._audience:
            form["audience"] = self._audience
        headers = {"Accept": "application/json"}
        if self._client_auth == "basic":
            pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
            self._last_basic = base64.b64encode(pair).decode("ascii")
            headers["Authorization"] = "Basic " + self._last_basic
        else:
            form["client_id"] = client_id
            form["client_secret"] = secret
        request = httpx.Request("POST", self._url, data=form, headers=headers)
        response = yield from self._send_token_request(request)
        return self._parse_token(response)


class BearerToken(AirbyteAuth):
    """A ready-made bearer token. A callable is called again after a 401 (rotation).

    Args:
        token: the token (a string, a callable or a ``SecretStr``).
        source: where the token comes from, for hints.
    """

    def __init__(self, token: SecretLike, *, source: str = "") -> None:
        self._token = token
        self._last: str | None = None
        self.source = source

    def __repr__(self) -> str:
        return "BearerToken(token=<hidden>)"

    def failure_hint(self) -> str:
        where = f" (read from {self.source})" if self.source else ""
        return f"The bearer token{where} was refused: it may have expired; supply a fresh one"

    def secret_values(self) -> Iterable[str]:
        return [self._last] if self._last else []

    def auth_flow(self, request: httpx.Request) -> Flow:
        token = resolve_secret(self._token, "bearer token")
        self._last = token
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401 or isinstance(self._token, str):
            return
        fresh = resolve_secret(self._token, "bearer token")
        if fresh == token:
            return
        self._last = fresh
        request.headers["Authorization"] = f"Bearer {fresh}"
        yield request


class BasicAuth(AirbyteAuth):
    """HTTP Basic, for self-hosted Airbyte behind the old nginx proxy.

    Args:
        username: the user name.
        password: the password (a string, a callable or a ``SecretStr``).
        source: where the password comes from, for hints.
    """

    def __init__(self, username: str, password: SecretLike, *, source: str = "") -> None:
        self._username = username
        self._password = password
        self._last: str | None = None
        self.source = source

    def __repr__(self) -> str:
        return f"BasicAuth(username={self._username!r}, password=<hidden>)"

    def failure_hint(self) -> str:
        where = f" (read from {self.source})" if self.source else ""
        return f"The user name or password{where} was refused"

    def secret_values(self) -> Iterable[str]:
        if not self._last:
            return []
        pair = f"{self._username}:{self._last}".encode()
        return [self._last, base64.b64encode(pair).decode("ascii")]

    def auth_flow(self, request: httpx.Request) -> Flow:
        password = resolve_secret(self._password, "password")
        self._last = password
        pair = f"{self._username}:{password}".encode()
        request.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        yield request
