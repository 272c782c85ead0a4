"""`ResolvedSettings`: the effective settings, each value with the source it came from.

The view holds every declared setting by key (``settings["poll.interval"]``,
``settings.source(key)``, ``rows()`` for ``config show``), in the declaration's order,
so a new setting needs nothing here. The typed properties are shortcuts for wiring the
client, store and runner; they declare nothing (tests/cli/test_cli_settings_declaration.py
walks the declaration through this view).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from luigi_airbyte.errors import Problem
from luigi_airbyte.pipeline._models import Auth
from luigi_airbyte.pipeline._settings_spec import SETTINGS, render
from luigi_airbyte.secrets import SecretRef

_T = TypeVar("_T")


@dataclass(frozen=True)
class SettingValue:
    """An effective value and where it came from (``cli``, ``env:VAR``, ``file:line``...)."""

    key: str
    value: Any
    source: str
    secret: bool = False


class _Shortcut(Generic[_T]):
    """A typed, read-only shortcut to one setting: ``convert(settings[key])``."""

    def __init__(self, key: str, convert: Callable[[Any], _T]) -> None:
        self.key = key
        self.convert = convert

    def __get__(self, settings: ResolvedSettings, owner: type[ResolvedSettings]) -> _T:
        return self.convert(settings[self.key])


class ResolvedSettings:
    """The effective settings, each with its source. Secrets are references, never values."""

    def __init__(
        self, values: Mapping[str, SettingValue], auth: Auth, warnings: tuple[Problem, ...] = ()
    ) -> None:
        self._values = dict(values)
        self.auth: Auth = auth
        self.warnings = warnings

    def __getitem__(self, key: str) -> Any:
        return self._values[key].value

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def get(self, key: str, default: Any = None) -> Any:
        item = self._values.get(key)
        return default if item is None else item.value

    def source(self, key: str) -> str:
        """Where ``key``'s value came from."""
        return self._values[key].source

    def items(self) -> list[SettingValue]:
        """Every effective setting in table order (auth: only the chosen type's fields)."""
        return [self._values[s.key] for s in SETTINGS if s.key in self._values]

    def rows(self, mask_secrets: bool = True) -> list[tuple[str, str, str]]:
        """``(key, value, source)`` for ``config show``; secret references masked by default.

        Even unmasked, a secret setting shows its *reference* (env:NAME...), never a value.
        """
        out = []
        for item in self.items():
            if item.secret and item.value is not None and mask_secrets:
                shown = "****"
            else:
                shown = render(item.value)
            out.append((item.key, shown, item.source))
        return out

    # typed accessors, for wiring the client, the store and the runner
    airbyte_url = _Shortcut("airbyte.url", str)
    resource = _Shortcut("airbyte.resource", str)
    """The Luigi resource name for this Airbyte instance."""
    max_concurrent_syncs = _Shortcut("airbyte.max_concurrent_syncs", int)
    state_dir = _Shortcut("state_dir", lambda value: Path(str(value)))
    poll_strategy = _Shortcut("poll.strategy", str)
    on_interrupt = _Shortcut("on_interrupt", str)
    log_format = _Shortcut("log_format", str)

    @property
    def workspace(self) -> str | None:
        value = self.get("airbyte.workspace")
        return None if value is None else str(value)

    @property
    def timeout(self) -> timedelta:
        value: timedelta = self["airbyte.timeout"]
        return value

    @property
    def queue_timeout(self) -> timedelta:
        value: timedelta = self["airbyte.queue_timeout"]
        return value

    @property
    def config_api_url(self) -> str | None:
        """``"auto"``, a URL, or None when the config API is switched off (``none``)."""
        value = str(self["airbyte.config_api_url"])
        return None if value == "none" else value

    @property
    def store_url(self) -> SecretRef | str:
        value: SecretRef | str = self["store.url"]
        return value

    @property
    def poll_interval(self) -> timedelta:
        value: timedelta = self["poll.interval"]
        return value
