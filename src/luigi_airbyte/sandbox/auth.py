"""Access tokens for the sandbox: signed JWT-shaped strings that carry their own expiry.

Airbyte hands out JWTs from ``POST /applications/token`` and refuses them after ``expires_in``.
The sandbox does the same with an HS256 signature keyed by a random per-process secret, so
verifying a token is a constant-time check with no lookup table and no disk I/O. ``exp`` is a
fractional NumericDate (RFC 7519 allows it) so a one-second TTL really lasts one second.

As with real JWTs, deleting an application does not revoke tokens already minted for it, and
a restarted server keeps accepting them: the signing key is derived from the world's
application credentials (``key_for``), so a client holding a token survives a sandbox restart
just as it survives an Airbyte restart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_HEADER = {"alg": "HS256", "typ": "JWT"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class IssuedToken:
    """What the token endpoint returns: the token and its lifetime in whole seconds."""

    access_token: str
    expires_in: int


def key_for(credentials: Iterable[tuple[str, str]]) -> bytes:
    """A signing key that is the same for the same (client_id, client_secret) pairs."""
    digest = hashlib.sha256(b"luigi-airbyte sandbox token key v1")
    for client_id, secret in sorted(credentials):
        digest.update(f"\0{client_id}\0{secret}".encode())
    return digest.digest()


class TokenIssuer:
    """Mints and verifies bearer tokens; ``clock`` is injectable so tests need not sleep."""

    def __init__(self, key: bytes | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)
        self._clock = clock

    def issue(self, client_id: str, ttl_seconds: float) -> IssuedToken:
        """Mint a token for ``client_id`` that expires ``ttl_seconds`` from now."""
        now = self._clock()
        claims = {
            "sub": client_id,
            "iat": round(now, 3),
            "exp": round(now + ttl_seconds, 3),
            "jti": secrets.token_hex(8),
        }
        head = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{head}.{body}"
        token = f"{signing_input}.{self._sign(signing_input)}"
        return IssuedToken(access_token=token, expires_in=max(int(ttl_seconds), 0))

    def verify(self, token: str) -> str | None:
        """Return the client id a valid, unexpired token was issued to, else None."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        signing_input = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(parts[2], self._sign(signing_input)):
            return None
        try:
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, binascii.Error):
            return None
        exp, sub = claims.get("exp"), claims.get("sub")
        if not isinstance(exp, (int, float)) or not isinstance(sub, str):
            return None
        if self._clock() >= exp:
            return None
        return sub

    def _sign(self, signing_input: str) -> str:
        return _b64(hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest())


def parse_basic(header_value: str) -> tuple[str, str] | None:
    """Split an ``Authorization: Basic`` value into (user, password), or None if malformed."""
    try:
        decoded = base64.b64decode(header_value.strip(), validate=True).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None
