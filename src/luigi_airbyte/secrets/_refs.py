"""Secret references (``env:NAME``, ``file:/path``, ``aws-sm:ARN#key``, ``vault:mount/path#key``).

A reference names where a secret lives; it is safe to write in a file, log or show.
The literal-secret heuristics live here too, so the pipeline validator and the
settings resolver agree on what "a secret written in plain text" looks like.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Literal, NamedTuple, cast
from urllib.parse import parse_qsl, urlsplit

SecretScheme = Literal["env", "file", "aws-sm", "vault"]
SCHEMES: tuple[SecretScheme, ...] = ("env", "file", "aws-sm", "vault")
REFERENCE_HELP = "env:NAME, file:/abs/path, aws-sm:ARN#key or vault:mount/path#key"

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_AWS_ARN = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+")
_SHELL_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


class InvalidSecretRef(ValueError):
    """A string is not a valid secret reference. Carries a ``fix``; never echoes the input."""

    def __init__(self, reason: str, fix: str) -> None:
        self.reason = reason
        self.fix = fix
        super().__init__(f"{reason} (fix: {fix})")


@dataclass(frozen=True)
class SecretRef:
    """Where a secret lives: ``scheme`` + ``location`` (+ ``key`` inside a JSON secret)."""

    scheme: SecretScheme
    location: str
    key: str | None = None

    def __str__(self) -> str:
        return f"{self.scheme}:{self.location}" + (f"#{self.key}" if self.key else "")

    @classmethod
    def parse(cls, text: str) -> SecretRef:
        """Parse ``text``; raise `InvalidSecretRef` (a ValueError) naming the fix."""
        if not isinstance(text, str):
            raise InvalidSecretRef("a secret reference must be a string", f"write {REFERENCE_HELP}")
        if text != text.strip():
            raise InvalidSecretRef(
                "a secret reference must not start or end with spaces", "remove the spaces"
            )
        scheme, sep, rest = text.partition(":")
        if not sep or scheme not in SCHEMES:
            # Name the scheme only when it is a near-miss ("envv"): anything else may
            # be a literal secret that merely contains a colon.
            close = get_close_matches(scheme.lower(), SCHEMES, n=1, cutoff=0.6) if sep else []
            near = bool(close) and len(scheme) <= 8
            shown = f" {scheme!r}" if near else ""
            hint = f"did you mean '{close[0]}:'? " if near else ""
            raise InvalidSecretRef(
                f"unknown secret reference scheme{shown}", f"{hint}write {REFERENCE_HELP}"
            )
        return _parse_rest(cast(SecretScheme, scheme), rest)


class _Rule(NamedTuple):
    """A reference is refused with ``reason`` and ``fix`` unless ``ok(location, key)``."""

    ok: Callable[[str, str | None], bool]
    reason: str
    fix: str


#: The schemes whose location may end in ``#key`` (a key inside a JSON secret).
_KEYED: frozenset[SecretScheme] = frozenset({"file", "aws-sm", "vault"})
#: What each scheme's location (and key) must be; the first rule broken is raised.
_RULES: dict[SecretScheme, tuple[_Rule, ...]] = {
    "env": (
        _Rule(
            lambda name, _: _ENV_NAME.fullmatch(name) is not None,
            "env: needs an environment variable name",
            "write env:NAME with letters, digits and '_' (e.g. env:AIRBYTE_CLIENT_SECRET)",
        ),
    ),
    "file": (
        _Rule(
            lambda path, _: path.startswith(("/", "~")),
            "file: needs an absolute path",
            "write file:/run/secrets/name (relative paths depend on the working directory)",
        ),
    ),
    "aws-sm": (
        _Rule(
            lambda secret_id, _: bool(secret_id),
            "aws-sm: needs a secret ARN or name",
            "write aws-sm:arn:aws:secretsmanager:...#key",
        ),
        _Rule(
            lambda secret_id, _: (
                not secret_id.startswith("arn:") or _AWS_ARN.fullmatch(secret_id) is not None
            ),
            "aws-sm: the ARN is not a Secrets Manager secret ARN",
            "copy the ARN from the console: arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME",
        ),
    ),
    "vault": (
        _Rule(
            lambda path, key: key is not None and all(path.partition("/")[::2]),  # mount, sub
            "vault: needs a mount, a path and a key",
            "write vault:MOUNT/PATH#key, e.g. vault:secret/airbyte/prod#client_secret (KV v2)",
        ),
    ),
}


def _parse_rest(scheme: SecretScheme, rest: str) -> SecretRef:
    """The reference ``scheme:rest``, or `InvalidSecretRef` naming the first rule it breaks."""
    location, key = _split_key(rest) if scheme in _KEYED else (rest, None)
    for rule in _RULES[scheme]:
        if not rule.ok(location, key):
            raise InvalidSecretRef(rule.reason, rule.fix)
    return SecretRef(scheme, location, key)


def _split_key(rest: str) -> tuple[str, str | None]:
    location, sep, key = rest.rpartition("#")
    if not sep:
        return rest, None
    if not key:
        raise InvalidSecretRef("the key after '#' is empty", "write ...#key or drop the '#'")
    return location, key


def is_secret_reference(value: object) -> bool:
    """True when ``value`` is a string that parses as a secret reference."""
    if not isinstance(value, str):
        return False
    scheme, sep, _ = value.partition(":")
    if not sep or scheme not in SCHEMES:
        return False  # what parse refuses first, without building its error (a file's
        # secret scan asks this of every value: 3,000 times for 1,000 steps)
    try:
        SecretRef.parse(value)
    except InvalidSecretRef:
        return False
    return True


def looks_like_reference_attempt(value: object) -> bool:
    """True when ``value`` starts like a reference (``env:``...) even if it is malformed."""
    return isinstance(value, str) and value.partition(":")[0] in SCHEMES and ":" in value


# --- literal-secret heuristics ------------------------------------------------------------

_SECRET_WORDS = frozenset(
    {
        "secret", "secrets", "token", "password", "passwd", "pwd", "passphrase", "apikey",
        "credential", "credentials", "authorization", "privatekey", "pat", "sas",
    }
)  # fmt: skip
_SECRET_PAIRS = frozenset(
    {
        ("api", "key"), ("private", "key"), ("account", "key"), ("master", "key"),
        ("signing", "key"), ("encryption", "key"), ("shared", "key"), ("access", "token"),
    }
)  # fmt: skip
# A last word like these means the key names *where* a secret is, not the secret itself.
_NOT_SECRET_SUFFIX = frozenset(
    {
        "url", "uri", "endpoint", "host", "file", "path", "dir", "directory", "env", "var",
        "name", "id", "type", "ttl", "expiry", "expires", "expiration", "length", "header",
        "field", "ref", "reference", "location", "method", "mode", "format", "scope", "audience",
        "kind", "user", "username", "enabled", "required", "count", "age", "lifetime", "arn",
    }
)  # fmt: skip
_TOKEN_PATTERNS = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWT
    re.compile(r"\b(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}"),  # GitHub
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{30,}"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),  # Slack
    re.compile(r"hooks\.slack\.com/(services|workflows)/[A-Za-z0-9/_-]{10,}"),
    re.compile(r"discord(app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]{20,}"),
    re.compile(r"\b(sk|rk)_live_[A-Za-z0-9]{16,}"),  # Stripe
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),  # Google API key
)
_ANY_TOKEN = re.compile("|".join(f"(?:{p.pattern})" for p in _TOKEN_PATTERNS))
"""One search instead of one per pattern (each pattern is a group of its own)."""
_SECRET_QUERY_PARAMS = ("token", "key", "secret", "password", "sig", "signature", "apikey")


def _words(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """True when a key's name says its value is a secret (``client_secret``, ``API_KEY``...).

    Answered once per key name: validating a file of 1,000 steps asks for the same few
    keys thousands of times."""
    words = _words(key)
    if not words or words[-1] in _NOT_SECRET_SUFFIX:
        return False
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))


def literal_secret_reason(key: str, value: object) -> str | None:
    """Why ``value`` under ``key`` looks like a secret written in plain text, or None."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    if isinstance(value, str) and (
        is_secret_reference(value) or looks_like_reference_attempt(value)
    ):
        return None
    if isinstance(value, (int, float)):
        return "a secret written in plain text" if is_secret_key(key) else None
    if not isinstance(value, str):
        return None
    if _ANY_TOKEN.search(value):
        return "the value looks like a token or private key"
    url_reason = _url_secret_reason(value)
    if url_reason:
        return url_reason
    if is_secret_key(key):
        return "a secret written in plain text"
    return None


def _url_secret_reason(value: str) -> str | None:
    if "://" not in value:
        return None
    try:
        parts = urlsplit(value.split(":", 1)[1] if value.startswith("webhook:") else value)
        password = parts.password
    except ValueError:
        return None
    if password and not password.startswith("${"):
        return "the URL embeds a password"
    for name, val in parse_qsl(parts.query):
        if val and any(
            p in name.lower().replace("-", "").replace("_", "") for p in _SECRET_QUERY_PARAMS
        ):
            return f"the URL carries a credential in its query ({name}=...)"
    return None


def looks_like_literal_secret(key: str, value: object) -> bool:
    """Heuristic for validators: is this a secret written in plain text rather than a reference?"""
    return literal_secret_reason(key, value) is not None


def suggest_reference(key: str, value: object) -> str:
    """A concrete fix for a literal secret, never containing the value itself."""
    if isinstance(value, str):
        m = _SHELL_VAR.fullmatch(value.strip())
        if m:
            return f"the file is not shell-expanded: write env:{m.group(1)}"
        if _url_secret_reason(value):
            return (
                "take the credential out of the URL: set `password: env:NAME` beside it, "
                "or make the whole URL a reference (url: env:NAME)"
            )
    name = re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_").upper() or "SECRET"
    return (
        f"move the value out of the file and write a reference, e.g. env:{name} ({REFERENCE_HELP})"
    )
