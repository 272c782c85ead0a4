"""What counts as a secret, and how it is masked: one rule for every layer.

Every package masks with these functions, so a secret hidden in a log line is hidden the
same way in an HTTP error, a dbt error or a warehouse URL:

- a *value* is maskable when it is at least ``MIN_SECRET_LENGTH`` characters long
  (masking ``"abc"`` everywhere would destroy logs while protecting little; the secrets
  layer warns about shorter secrets);
- a *name* (environment variable, URL query key, mapping key) is secret when it contains
  one of the words in ``SECRET_NAME``;
- masked text shows ``MASK`` where the secret was.

This module sits beside ``errors`` at the bottom of the layers and imports nothing of
the package.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode

MASK = "***"
"""What replaces a secret in any text we print, log, store or send."""

MIN_SECRET_LENGTH = 6
"""Values shorter than this are never masked (they are warned about instead)."""

SECRET_NAME = re.compile(r"pass|pwd|secret|token|key|credential|auth|cookie", re.IGNORECASE)
"""Free-standing names whose values are secrets: environment variables
(``DBT_ENV_SECRET_X``), URL query keys (``?password=``), command-line options
(``--api-key``). Broad on purpose: masking one harmless value costs little."""

SECRET_FIELD_NAMES: frozenset[str] = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "api_key",
        "apikey",
        "authorization",
        "access_token",
        "private_key",
        "client_secret",
        "credentials",
        "cookie",
    }
)
"""Field names in structured data (events, JSON bodies, reprs) whose values are masked.
Narrower than ``SECRET_NAME``: fields such as ``primary_key`` or ``auth_type`` are data."""

_USERINFO_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]*:)[^@/\s]*@")


def is_secret_name(name: object) -> bool:
    """Whether a variable, key or query parameter of this name holds a secret."""
    return isinstance(name, str) and SECRET_NAME.search(name) is not None


def is_maskable(value: str | None) -> bool:
    """Whether ``value`` is long enough to be masked wherever it appears."""
    return value is not None and len(value.strip()) >= MIN_SECRET_LENGTH


def mask_values(text: str, values: Iterable[str | None]) -> str:
    """``text`` with every maskable value in ``values`` replaced by ``MASK``.

    Longer values go first, so a secret that contains another is masked whole.
    """
    for value in sorted({v for v in values if v and is_maskable(v)}, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return text


def mask_url(url: str) -> str:
    """The URL with its password and its secret-named query values replaced by ``MASK``.

    Works on any scheme (``postgresql://u:p@h/db?sslpassword=x``, ``https://…?token=``)
    and on text that is not a parseable URL (the userinfo password is still masked).
    """
    masked = _USERINFO_PASSWORD.sub(rf"\g<head>{MASK}@", url)
    head, sep, rest = masked.partition("?")
    if not sep:
        return masked
    query, hash_, fragment = rest.partition("#")
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(is_secret_name(k) for k, _ in pairs):
        return masked
    query = urlencode([(k, MASK if is_secret_name(k) else v) for k, v in pairs], safe="*/:")
    return f"{head}?{query}{hash_}{fragment}"


__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "SECRET_FIELD_NAMES",
    "SECRET_NAME",
    "is_maskable",
    "is_secret_name",
    "mask_url",
    "mask_values",
]
