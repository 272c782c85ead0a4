"""Settings precedence with provenance: CLI > env > pipeline file > luigi.cfg > defaults.

Every setting is declared once, as a field of the pipeline file's models
(`_models`); `_settings_spec` derives the table walked here, and each value is parsed
by that field's own type, so a duration means the same thing everywhere.

The merge is an ordered walk over four layers, not pydantic-settings sources, and
the dependency is dropped. pydantic-settings merges every source into one dict and
then validates it, which loses what we need: the *source of every value* (``config
show`` prints ``env:LUIGI_AIRBYTE_AIRBYTE__URL`` or ``pipeline.yaml:12``, and an error
names the variable, the file line or the luigi.cfg option that holds the bad value),
a per-source secret policy (a literal secret is fine in the environment, an error in
a file or a flag), and auth resolved as a unit (one layer's ``type: bearer`` must not
be deep-merged with a lower layer's ``client_secret``). Its env source would also need
a private hook (``_load_env_vars``) to read a given mapping instead of ``os.environ``.

Rules worth knowing:

* Secrets are only ever *references* in the result. An environment variable holding
  a literal (``LUIGI_AIRBYTE_AIRBYTE__AUTH__CLIENT_SECRET=s3cr3t``) becomes the reference
  ``env:LUIGI_AIRBYTE_AIRBYTE__AUTH__CLIENT_SECRET``; luigi.cfg may say ``${VAR}``
  (becomes ``env:VAR``); a literal in luigi.cfg or as a CLI value is an error.
* Auth: ``airbyte.auth.type`` comes from the highest layer that sets it (or is
  inferred: token -> bearer, username/password -> basic, client_id/client_secret ->
  client_credentials). Only layers that set the same type, or no type, contribute
  the other auth fields.
* Empty environment variables count as unset. Unknown ``LUIGI_AIRBYTE_*`` variables
  are warnings (the prefix is shared); unknown luigi.cfg options are errors.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from luigi_airbyte.errors import ConfigError, Problem
from luigi_airbyte.pipeline._luigi_cfg import luigi_config_paths, read_airbyte_section
from luigi_airbyte.pipeline._models import AUTH_CLASSES, Auth, PipelineFile
from luigi_airbyte.pipeline._resolved import ResolvedSettings, SettingValue
from luigi_airbyte.pipeline._settings_spec import (
    AUTH_TYPES,
    BY_CFG,
    BY_ENV,
    BY_KEY,
    ENV_PREFIX,
    NOT_SETTINGS,
    SETTINGS,
    SettingSpec,
)
from luigi_airbyte.pipeline._suggest import did_you_mean
from luigi_airbyte.secrets import REFERENCE_HELP, SecretRef, looks_like_reference_attempt
from luigi_airbyte.secrets import InvalidSecretRef as _InvalidRef

__all__ = [
    "SETTINGS",
    "ResolvedSettings",
    "SettingSpec",
    "SettingValue",
    "luigi_config_paths",
    "resolve_settings",
]

_SHELL_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class _Entry:
    """A raw value offered by one layer, with what a Problem about it should say."""

    value: Any
    label: str  # provenance shown by config show
    origin: str  # "cli" | "env" | "file" | "cfg"
    where: str  # Problem.source
    field: str  # Problem.field
    line: int | None = None


Layer = dict[str, _Entry]


def _cli_layer(cli: Mapping[str, Any], problems: list[Problem]) -> Layer:
    layer: Layer = {}
    for key, value in cli.items():
        if value is None:
            continue
        if key not in BY_KEY:
            close = did_you_mean(key, BY_KEY)
            problems.append(
                Problem(
                    "cli",
                    key,
                    "unknown setting",
                    f"use {close!r}" if close else "see docs/configuration.md",
                )
            )
            continue
        layer[key] = _Entry(value, "cli", "cli", "cli", key)
    return layer


def _env_layer(env: Mapping[str, str], warnings: list[Problem]) -> Layer:
    layer: Layer = {}
    for var, value in env.items():
        if not var.startswith(ENV_PREFIX):
            continue
        spec = BY_ENV.get(var)
        if spec is None and var in NOT_SETTINGS:
            continue
        if spec is None:
            close = did_you_mean(var, BY_ENV)
            warnings.append(
                Problem(
                    "env",
                    var,
                    "not a luigi-airbyte setting; ignored"
                    + (f" (did you mean {close}?)" if close else ""),
                    f"rename it to {close}" if close else "see docs/configuration.md for the names",
                )
            )
            continue
        if value == "":
            continue
        layer[spec.key] = _Entry(value, f"env:{var}", "env", "env", var)
    return layer


def _file_value(pf: PipelineFile, key: str) -> Any:
    """The value at ``key``'s path in the file (None when a section or field is absent)."""
    node: Any = pf
    for part in key.split("."):
        if node is None or part not in type(node).model_fields:
            return None
        node = getattr(node, part)
    return node


def _file_layer(pf: PipelineFile | None) -> Layer:
    layer: Layer = {}
    if pf is None:
        return layer
    for spec in SETTINGS:
        key = spec.key
        value = _file_value(pf, key)
        if value is None:
            continue
        line = pf.line_of(key)
        label = f"{pf.source}:{line}" if line else pf.source
        layer[key] = _Entry(value, label, "file", pf.source, key, line)
    return layer


def _cfg_layer(paths: list[Path], problems: list[Problem]) -> Layer:
    entries, found = read_airbyte_section(paths)
    problems += found
    layer: Layer = {}
    for option, entry in entries.items():
        spec = BY_CFG.get(option)
        if spec is None:
            close = did_you_mean(option, BY_CFG)
            problems.append(
                Problem(
                    entry.path,
                    f"[airbyte] {option}",
                    "unknown option" + (f"; did you mean {close!r}?" if close else ""),
                    f"rename it to {close}"
                    if close
                    else "see docs/configuration.md for the options",
                    entry.line,
                )
            )
            continue
        label = f"{entry.path} [airbyte] {option}"
        layer[spec.key] = _Entry(
            entry.value, label, "cfg", entry.path, f"[airbyte] {option}", entry.line
        )
    return layer


def _problem(entry: _Entry, message: str, fix: str) -> Problem:
    return Problem(entry.where, entry.field, message, fix, entry.line)


def _expand(entry: _Entry, env: Mapping[str, str]) -> Any:
    """luigi.cfg's ``${VAR}`` interpolation (other layers are taken as written)."""
    if entry.origin != "cfg" or not isinstance(entry.value, str):
        return entry.value

    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in env:
            raise PydanticCustomError(
                "env", f"${{{m.group(1)}}} is not set", {"fix": f"export {m.group(1)}"}
            )
        return env[m.group(1)]

    return _SHELL_VAR.sub(sub, entry.value)


def _secret(spec: SettingSpec, entry: _Entry) -> SecretRef:
    value = entry.value
    if isinstance(value, SecretRef):
        return value
    if isinstance(value, str) and looks_like_reference_attempt(value):
        try:
            return SecretRef.parse(value)
        except _InvalidRef as exc:
            raise PydanticCustomError(
                "ref", f"invalid secret reference: {exc.reason}", {"fix": exc.fix}
            ) from None
    if entry.origin == "env":
        return SecretRef("env", entry.field)  # the literal stays in the environment
    if entry.origin == "cfg" and isinstance(value, str):
        m = _SHELL_VAR.fullmatch(value.strip())
        if m:
            return SecretRef("env", m.group(1))
    if entry.origin == "cli":
        raise PydanticCustomError(
            "literal_secret",
            "literal secret on the command line (visible in ps and shell history)",
            {"fix": f"pass a reference ({REFERENCE_HELP}) or set {spec.env_var}"},
        )
    raise PydanticCustomError(
        "literal_secret",
        "literal secret: secrets must be references",
        {"fix": f"write a reference ({REFERENCE_HELP}) or set {spec.env_var} in the environment"},
    )


def _cfg_literal_secrets(cfg: Layer, problems: list[Problem]) -> None:
    """Report every literal secret written in luigi.cfg/luigi.toml, winning or not.

    `_resolve_one` only parses the value that wins, so a literal shadowed by a higher
    layer would otherwise pass silently while still sitting in a file.
    """
    for key, entry in cfg.items():
        spec = BY_KEY[key]
        if not spec.secret:
            continue
        try:
            _secret(spec, entry)
        except PydanticCustomError as exc:
            if exc.type != "literal_secret":
                continue  # a bad reference is reported where it takes effect
            found = _problem(entry, exc.message(), str((exc.context or {}).get("fix", "")))
            if found not in problems:  # the winning value was already reported
                problems.append(found)


def _parse(spec: SettingSpec, entry: _Entry, env: Mapping[str, str]) -> Any:
    if spec.secret:
        return _secret(spec, entry)
    return spec.parse(_expand(entry, env))


def _resolve_one(
    spec: SettingSpec, layers: list[Layer], env: Mapping[str, str], problems: list[Problem]
) -> SettingValue | None:
    for layer in layers:
        entry = layer.get(spec.key)
        if entry is None:
            continue
        try:
            value = _parse(spec, entry, env)
        except PydanticCustomError as exc:
            problems.append(_problem(entry, exc.message(), str((exc.context or {}).get("fix", ""))))
            return None
        return SettingValue(spec.key, value, entry.label, spec.secret)
    return None


_INFER = (
    ("token", "bearer"),
    ("password", "basic"),
    ("username", "basic"),
    ("client_secret", "client_credentials"),
    ("client_id", "client_credentials"),
)


def _auth_type(
    layers: list[Layer], env: Mapping[str, str], problems: list[Problem]
) -> SettingValue:
    found = _resolve_one(BY_KEY["airbyte.auth.type"], layers, env, problems)
    if found is not None:
        return found
    for layer in layers:
        for field, kind in _INFER:
            entry = layer.get(f"airbyte.auth.{field}")
            if entry is not None:
                return SettingValue("airbyte.auth.type", kind, f"inferred from {entry.label}")
    return SettingValue("airbyte.auth.type", BY_KEY["airbyte.auth.type"].default, "default")


def _resolve_auth(
    layers: list[Layer], env: Mapping[str, str], problems: list[Problem]
) -> tuple[dict[str, SettingValue], Auth | None]:
    kind_value = _auth_type(layers, env, problems)
    kind = str(kind_value.value)
    if kind not in AUTH_TYPES:
        return {kind_value.key: kind_value}, None
    model = AUTH_CLASSES[kind]
    fields = {n: f for n, f in model.model_fields.items() if n != "type"}

    def layer_type(layer: Layer) -> str | None:
        entry = layer.get("airbyte.auth.type")
        return str(entry.value).strip().lower() if entry is not None else None

    contributing = [layer for layer in layers if layer_type(layer) in (None, kind)]
    values: dict[str, SettingValue] = {kind_value.key: kind_value}
    for layer in contributing:
        for key, entry in layer.items():
            name = key.removeprefix("airbyte.auth.")
            if key.startswith("airbyte.auth.") and name != "type" and name not in fields:
                problems.append(
                    _problem(
                        entry,
                        f"{key} does not apply to auth type {kind}",
                        f"remove it, or set airbyte.auth.type to the type it belongs to "
                        f"(this type takes: {', '.join(fields) or 'nothing'})",
                    )
                )
    for name, info in fields.items():
        spec = BY_KEY[f"airbyte.auth.{name}"]
        got = _resolve_one(spec, contributing, env, problems)
        if got is not None:
            values[spec.key] = got
        elif info.is_required() and not any(spec.key in layer for layer in contributing):
            problems.append(
                Problem(
                    "settings",
                    spec.key,
                    f"auth type {kind} ({kind_value.source}) needs {spec.key}",
                    f"set airbyte.auth.{name} in the pipeline file or {spec.env_var}",
                )
            )
    try:
        auth = model.model_validate(
            {
                "type": kind,
                **{
                    k.removeprefix("airbyte.auth."): v.value
                    for k, v in values.items()
                    if k != kind_value.key
                },
            }
        )
    except ValidationError:
        return values, None  # every cause is already a problem above
    return values, cast(Auth, auth)  # AUTH_CLASSES holds exactly the Auth union's members


_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _insecure_http(values: dict[str, SettingValue]) -> Problem | None:
    url = values["airbyte.url"]
    kind = values.get("airbyte.auth.type")
    if kind is None or kind.value == "none" or values["airbyte.allow_insecure_http"].value:
        return None
    parts = urlsplit(str(url.value))
    if parts.scheme != "http" or _is_loopback(parts.hostname or ""):
        return None
    return Problem(
        url.source,
        "airbyte.url",
        f"plain http to {parts.hostname} would send the Airbyte credential unencrypted",
        "use https://, or set airbyte.allow_insecure_http: true if the network is trusted",
    )


def resolve_settings(
    *,
    cli: Mapping[str, Any] | None = None,
    pipeline_file: PipelineFile | None = None,
    env: Mapping[str, str] | None = None,
    luigi_cfg_paths: list[Path] | list[str] | None = None,
) -> ResolvedSettings:
    """Merge every source (highest first: cli, env, pipeline file, luigi.cfg, defaults).

    ``cli`` is keyed by setting key (``{"airbyte.url": ...}``; ``None`` = not given).
    ``luigi_cfg_paths`` defaults to luigi's own search order. Raises `ConfigError` with
    every problem (bad values, literal secrets, unknown options, incomplete auth).
    """
    env = os.environ if env is None else env
    problems: list[Problem] = []
    warnings: list[Problem] = []
    paths = (
        luigi_config_paths(env) if luigi_cfg_paths is None else [Path(p) for p in luigi_cfg_paths]
    )
    cfg = _cfg_layer(paths, problems)
    layers = [
        _cli_layer(cli or {}, problems),
        _env_layer(env, warnings),
        _file_layer(pipeline_file),
        cfg,
    ]
    values: dict[str, SettingValue] = {}
    for spec in SETTINGS:
        if spec.is_auth:
            continue
        found = _resolve_one(spec, layers, env, problems)
        values[spec.key] = found or SettingValue(spec.key, spec.default, "default", spec.secret)
    if values["store.url"].value is None:
        state_dir = values["state_dir"].value
        values["store.url"] = SettingValue(
            "store.url",
            f"sqlite:///{state_dir}/metadata.db",
            f"default (state_dir: {values['state_dir'].source})",
        )
    auth_values, auth = _resolve_auth(layers, env, problems)
    values.update(auth_values)
    _cfg_literal_secrets(cfg, problems)
    insecure = _insecure_http(values)
    if insecure:
        problems.append(insecure)
    if problems or auth is None:
        raise ConfigError(
            problems or [Problem("settings", "airbyte.auth", "auth could not be resolved")]
        )
    return ResolvedSettings(values, auth, tuple(warnings))
