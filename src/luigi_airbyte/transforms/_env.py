"""Child environments: small on purpose, and the secrets in them masked in any output we keep.

A child gets a minimal base environment plus what the step asks for, never a copy of
ours: our environment holds Airbyte credentials the child has no business seeing, and
Luigi's ``ExternalProgramRunError`` showed how a full environment ends up in e-mails.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from luigi_airbyte.masking import is_maskable, is_secret_name, mask_values
from luigi_airbyte.transforms._result import Redactor

BASE_ENV_KEYS: tuple[str, ...] = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
"""Variables copied from our environment into every child (when set)."""


def build_env(
    extra: Mapping[str, str] | None = None,
    *,
    inherit: Iterable[str] = BASE_ENV_KEYS,
    defaults: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Return ``inherit`` (from ``os.environ``) + ``defaults`` + ``extra``, later ones winning."""
    env: dict[str, str] = {}
    for key in inherit:
        value = os.environ.get(key)
        if value is not None:
            env[key] = value
    env.setdefault("PATH", os.defpath)
    env.update(defaults or {})
    for key, value in (extra or {}).items():
        if not isinstance(value, str):
            raise TypeError(f"environment value for {key!r} must be a str")
        env[key] = value
    return env


def secret_values(env: Mapping[str, str] | None) -> list[str]:
    """Values of variables whose names look secret (``*_PASSWORD``, ``DBT_ENV_SECRET_*``...)."""
    found = {
        value for key, value in (env or {}).items() if is_secret_name(key) and is_maskable(value)
    }
    return sorted(found, key=len, reverse=True)


def masking_redactor(secrets: Iterable[str], then: Redactor) -> Redactor:
    """Replace each known secret value with ``***``, then apply the caller's redactor."""
    values = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(text: str) -> str:
        return then(mask_values(text, values))

    return redact
