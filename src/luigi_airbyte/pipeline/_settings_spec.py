"""The settings table, derived by walking the pipeline file's models (the one declaration).

A setting is a section-model field marked ``Setting(default)`` in `_models`, or a field
of one of the ``airbyte.auth`` variants (plus ``airbyte.auth.type``, the variant's tag).
From each one this module derives, so nothing is declared twice:

* the key: the field's path in the pipeline file (``poll.interval``);
* the env var: ``LUIGI_AIRBYTE_`` + key upper-cased with ``.`` -> ``__``;
* the luigi.cfg option (section ``[airbyte]``): the key without ``airbyte.``, ``.`` -> ``_``;
* the parser: the field's own pydantic type (so a duration means the same everywhere);
* the default (``Setting.default``), the help (the field's docstring), whether it is a
  secret (its type is a secret reference);
* docs/configuration.md's table (`settings_table_markdown`, written by
  scripts/gen_config_docs.py) and the JSON Schema's defaults (`_schema`).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from luigi_airbyte.pipeline._models import AUTH_CLASSES, PipelineFile, Setting
from luigi_airbyte.pipeline._types import fail, format_duration
from luigi_airbyte.secrets import SecretRef

ENV_PREFIX = "LUIGI_AIRBYTE_"
AUTH_TYPES = tuple(AUTH_CLASSES)

NOT_SETTINGS = frozenset(
    {
        "LUIGI_AIRBYTE_WATCHER",  # on/off switches (app/switches.py)
        "LUIGI_AIRBYTE_WARM_SYNCS",
        "LUIGI_AIRBYTE_CONNECTORS_DIR",  # the sandbox's connector cache
        "LUIGI_AIRBYTE_RESULT_FILE",  # set for dbt and Spark subprocesses
        "LUIGI_AIRBYTE_TEST_PAUSE_AT",  # the kill tests' pause points (sync/claims.py)
        "LUIGI_AIRBYTE_TEST_PAUSE_FILE",
    }
)
"""Variables with our prefix that are read, but are not settings: no warning names them."""

_FIXES = {
    "literal_error": "use one of: {expected}",
    "int_parsing": "write a whole number",
    "int_from_float": "write a whole number",
    "greater_than_equal": "write a number of at least {ge}",
    "less_than_equal": "write a number of at most {le}",
    "bool_parsing": "write true or false",
    "string_too_short": "write a value",
    "string_pattern_mismatch": "write a value matching {pattern}",
}


def _fix(error: Any) -> str:
    ctx = error.get("ctx") or {}
    if ctx.get("fix"):
        return str(ctx["fix"])
    template = _FIXES.get(error["type"], "see docs/configuration.md")
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return "see docs/configuration.md"


def _parts(tp: Any) -> list[Any]:
    """The members of ``tp`` with ``Annotated`` and ``None`` peeled off."""
    if get_origin(tp) is Annotated:
        return _parts(get_args(tp)[0])
    if get_origin(tp) in (Union, types.UnionType):
        return [p for arg in get_args(tp) for p in _parts(arg)]
    return [] if tp is type(None) else [tp]


def _auth_type(value: str) -> str:
    value = value.strip().lower()
    if value not in AUTH_TYPES:
        choices = ", ".join(AUTH_TYPES)
        raise fail("choice", f"expected one of: {choices}", f"use one of: {choices}")
    return value


@dataclass(frozen=True)
class SettingSpec:
    """One setting, as derived from its model field."""

    key: str
    info: FieldInfo
    """The declaring field (for an auth field: its first variant's)."""
    owners: tuple[type[BaseModel], ...]
    """The models that declare the field (JSON Schema defs get the default)."""
    marker: Setting
    make_adapter: Callable[[], TypeAdapter[Any]] = field(compare=False, repr=False)
    """Builds the field type's validator, when a value is first parsed: most runs set no
    setting from the environment or luigi.cfg, and 40 adapters cost ~10 ms at import."""

    @cached_property
    def adapter(self) -> TypeAdapter[Any]:
        return self.make_adapter()

    @property
    def name(self) -> str:
        return self.key.rsplit(".", 1)[-1]

    @property
    def default(self) -> Any:
        return self.marker.default

    @property
    def description(self) -> str:
        return " ".join((self.info.description or "").split())

    @property
    def secret(self) -> bool:
        return _parts(self.info.rebuild_annotation()) == [SecretRef]

    @property
    def is_choice(self) -> bool:
        return any(get_origin(p) is Literal for p in _parts(self.info.annotation))

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.key.upper().replace(".", "__")

    @property
    def cfg_option(self) -> str:
        return self.key.removeprefix("airbyte.").replace(".", "_")

    @property
    def is_auth(self) -> bool:
        return self.key.startswith("airbyte.auth.")

    @property
    def shown_default(self) -> str | None:
        """The default as the docs and the JSON Schema show it (None: no default)."""
        return self.marker.shown or (None if self.default is None else render(self.default))

    def parse(self, value: Any) -> Any:
        """``value`` validated by the field's type; raises `PydanticCustomError` with a fix."""
        if isinstance(value, str):
            value = value.strip().lower() if self.is_choice else value.strip()
        try:
            return self.adapter.validate_python(value)
        except ValidationError as exc:
            error = exc.errors(include_input=False)[0]
            raise fail(error["type"], error["msg"], _fix(error)) from None


def render(value: Any) -> str:
    """A setting's value as ``config show`` and the docs print it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return format_duration(value)
    return str(value)


def _marker(info: FieldInfo) -> Setting | None:
    return next((m for m in info.metadata if isinstance(m, Setting)), None)


def _leaf(
    key: str, info: FieldInfo, owners: tuple[type[BaseModel], ...], marker: Setting
) -> SettingSpec:
    return SettingSpec(key, info, owners, marker, lambda: TypeAdapter(info.rebuild_annotation()))


def _variants(key: str, info: FieldInfo, marker: Setting) -> Iterator[SettingSpec]:
    """A tagged union of models (``auth``): its tag, then every variant's fields once."""
    classes = [
        c for c in _parts(info.annotation) if isinstance(c, type) and issubclass(c, BaseModel)
    ]
    tag = SettingSpec(
        f"{key}.type",
        info,
        tuple(classes),
        marker,
        lambda: TypeAdapter(Annotated[str, AfterValidator(_auth_type)]),
    )
    yield tag
    seen: dict[str, list[type[BaseModel]]] = {}
    first: dict[str, FieldInfo] = {}
    for cls in classes:
        for name, sub in cls.model_fields.items():
            if name != "type":
                seen.setdefault(name, []).append(cls)
                first.setdefault(name, sub)
    for name, sub in first.items():
        yield _leaf(f"{key}.{name}", sub, tuple(seen[name]), Setting())


def _walk(model: type[BaseModel], prefix: str = "") -> Iterator[SettingSpec]:
    for name, info in model.model_fields.items():
        key = prefix + name
        marker = _marker(info)
        parts = _parts(info.annotation)
        models = [p for p in parts if isinstance(p, type) and issubclass(p, BaseModel)]
        if marker is not None and len(models) > 1:
            yield from _variants(key, info, marker)
        elif marker is not None:
            yield _leaf(key, info, (model,), marker)
        elif len(models) == 1 and len(parts) == 1:
            yield from _walk(models[0], key + ".")


def settings_of(model: type[BaseModel]) -> tuple[SettingSpec, ...]:
    """Every setting declared in ``model`` and its sections, in field order."""
    return tuple(_walk(model))


SETTINGS: tuple[SettingSpec, ...] = settings_of(PipelineFile)

BY_KEY = {s.key: s for s in SETTINGS}
BY_ENV = {s.env_var: s for s in SETTINGS}
BY_CFG = {s.cfg_option: s for s in SETTINGS}


def settings_table_markdown() -> str:
    """docs/configuration.md's settings table, one row per setting."""
    lines = [
        "| key | default | environment variable | `[airbyte]` option | meaning |",
        "|---|---|---|---|---|",
    ]
    for spec in SETTINGS:
        default = spec.shown_default
        shown = "—" if default is None else f"`{default}`"
        lines.append(
            f"| `{spec.key}` | {shown} | `{spec.env_var}` | `{spec.cfg_option}` "
            f"| {spec.description.removesuffix('.').replace('|', chr(92) + '|')} |"
        )
    return "\n".join(lines) + "\n"


__all__ = [
    "AUTH_TYPES",
    "BY_CFG",
    "BY_ENV",
    "BY_KEY",
    "ENV_PREFIX",
    "NOT_SETTINGS",
    "SETTINGS",
    "SettingSpec",
    "render",
    "settings_of",
    "settings_table_markdown",
]
