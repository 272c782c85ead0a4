"""The settings table: every setting's key, type, default, env var and luigi.cfg option.

One table drives resolution, ``config show`` and the docs test, so a setting cannot
exist in one and be missing from another. The key is also the setting's path in the
pipeline file; the env var is ``LUIGI_AIRBYTE_`` + key upper-cased with ``.`` -> ``__``;
the luigi.cfg option (section ``[airbyte]``) is the key without ``airbyte.``, ``.`` -> ``_``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from luigi_airbyte.pipeline._types import (
    fail,
    parse_config_api_url,
    parse_database_url,
    parse_duration,
    parse_http_url,
    parse_maybe_secret,
)

ENV_PREFIX = "LUIGI_AIRBYTE_"


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail("string_type", "expected a non-empty string", "write a value")
    return value.strip()


def _int_range(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        try:
            number = int(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or str(number) != str(value).strip() or not low <= number <= high:
            raise fail(
                "int", f"expected a whole number from {low} to {high}", f"write e.g. {low + 3}"
            )
        return number

    return parse


def _choice(*options: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower() if isinstance(value, str) else None
        if text not in options:
            raise fail(
                "choice",
                "expected one of: " + ", ".join(options),
                "use one of: " + ", ".join(options),
            )
        return text

    return parse


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise fail("bool", "expected true or false", "write true or false")


def _identity(value: Any) -> Any:
    return value  # secrets: the resolver applies the per-source reference policy


def _resource_name(value: Any) -> str:
    text = str(value).strip() if isinstance(value, str) else ""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", text):
        raise fail(
            "resource",
            "expected a Luigi resource name (letters, digits, _)",
            "write e.g. airbyte_prod, and declare it in luigid's [resources]",
        )
    return text


AUTH_TYPES = ("client_credentials", "oidc", "bearer", "basic", "none")


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its key, parser, default, and whether it holds a secret reference."""

    key: str
    parse: Callable[[Any], Any]
    default: Any
    description: str
    secret: bool = False

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.key.upper().replace(".", "__")

    @property
    def cfg_option(self) -> str:
        return self.key.removeprefix("airbyte.").replace(".", "_")

    @property
    def is_auth(self) -> bool:
        return self.key.startswith("airbyte.auth.")


_URL_DEFAULT = "http://localhost:8000/api/public/v1"
_S = SettingSpec
SETTINGS: tuple[SettingSpec, ...] = (
    _S("airbyte.url", parse_http_url, _URL_DEFAULT, "Airbyte public API base URL"),
    _S("airbyte.workspace", _text, None, "Workspace id or name for connection-name lookups"),
    _S(
        "airbyte.config_api_url",
        parse_config_api_url,
        "auto",
        "Config API base: auto (detect), none (Cloud) or a URL",
    ),
    _S("airbyte.timeout", parse_duration, timedelta(hours=6), "Default time limit for one sync"),
    _S(
        "airbyte.queue_timeout",
        parse_duration,
        timedelta(hours=8),
        "How long a sync may wait queued (apart from timeout)",
    ),
    _S("airbyte.max_concurrent_syncs", _int_range(1, 100), 4, "Syncs running at once"),
    _S("airbyte.resource", _resource_name, "airbyte", "Luigi resource name for this Airbyte"),
    _S("airbyte.allow_insecure_http", _bool, False, "Allow http:// to a non-loopback host"),
    _S("airbyte.auth.type", _choice(*AUTH_TYPES), "none", "Auth type (inferred when unset)"),
    _S("airbyte.auth.client_id", parse_maybe_secret, None, "Application client id"),
    _S("airbyte.auth.client_secret", _identity, None, "Application client secret", secret=True),
    _S("airbyte.auth.token_url", parse_http_url, None, "Token endpoint (oidc, client_credentials)"),
    _S("airbyte.auth.scope", _text, None, "OAuth scope (oidc)"),
    _S("airbyte.auth.audience", _text, None, "OAuth audience (oidc)"),
    _S("airbyte.auth.token", _identity, None, "Static bearer token", secret=True),
    _S("airbyte.auth.username", parse_maybe_secret, None, "Basic-auth user"),
    _S("airbyte.auth.password", _identity, None, "Basic-auth password", secret=True),
    _S("store.url", parse_database_url, None, "Metadata store URL (default: SQLite in state_dir)"),
    _S("store.password", _identity, None, "Metadata store password", secret=True),
    _S("state_dir", _text, ".luigi-airbyte", "Folder for the default store and run artefacts"),
    _S("poll.strategy", _choice("adaptive", "fixed"), "adaptive", "How job status is polled"),
    _S(
        "poll.interval",
        parse_duration,
        timedelta(seconds=30),
        "Poll wait (fixed) or cap (adaptive)",
    ),
    _S("on_interrupt", _choice("detach", "cancel"), "detach", "On Ctrl-C: detach or cancel jobs"),
    _S("log_format", _choice("text", "json"), "text", "Log lines on stderr"),
)

BY_KEY = {s.key: s for s in SETTINGS}
BY_ENV = {s.env_var: s for s in SETTINGS}
BY_CFG = {s.cfg_option: s for s in SETTINGS}
