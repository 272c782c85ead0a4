"""The real connectors of a world: how to run each, its validated config, its catalog.

``ConnectorHub(world)`` does all the slow, fallible work before the server starts: it builds
(or reuses) each ``pip:`` connector's environment, runs ``spec`` and validates the resolved
config against it, so a wrong config is a world error naming the field, never a failed sync
later. Catalogs come from the connector's ``discover`` and are cached until a client asks
for a fresh discover (the config API's discover_schema, which the drift check calls).
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any

from luigi_airbyte.sandbox.connectors.envs import ConnectorEnvError, ensure_env
from luigi_airbyte.sandbox.connectors.protocol import (
    DiscoveredStream,
    ProtocolError,
    catalog_streams,
)
from luigi_airbyte.sandbox.connectors.runner import ConnectorExit, ConnectorTimeout, run_collect
from luigi_airbyte.sandbox.errors import WorldError
from luigi_airbyte.sandbox.world import Source, World

_ENV_REF = re.compile(r"env:([A-Za-z_][A-Za-z0-9_]*)")
_FILE_REF = re.compile(r"file:(/(?!/).*)")


class SecretRefError(ValueError):
    pass


def resolve_refs(value: Any, path: str = "config") -> Any:
    """Replace ``env:NAME`` and ``file:/abs/path`` strings by the secret they name.

    The project's two local schemes (luigi_airbyte.secrets has the full set; the sandbox may
    not import it). A ``file://`` URL is a URL, not a reference, and is left alone.
    """
    if isinstance(value, dict):
        return {k: resolve_refs(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_refs(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    m = _ENV_REF.fullmatch(value)
    if m:
        if m.group(1) not in os.environ:
            raise SecretRefError(f"{path}: environment variable {m.group(1)} is not set")
        return os.environ[m.group(1)]
    m = _FILE_REF.fullmatch(value)
    if m:
        try:
            return Path(m.group(1)).read_text(encoding="utf-8").rstrip("\n")
        except OSError as exc:
            raise SecretRefError(f"{path}: cannot read {m.group(1)}: {exc.strerror}") from None
    return value


def _log(text: str) -> None:
    sys.stderr.write(f"[luigi-airbyte sandbox] {text}\n")
    sys.stderr.flush()


class ConnectorSource:
    """One ``type: airbyte`` source: argv, resolved config, spec, catalog."""

    def __init__(self, world: World, src: Source) -> None:
        self.src = src
        self.base_dir = world.base_dir
        self.timeout = src.timeout_seconds
        self._spec_cache: Path | None = None
        self.argv = self._argv(world, src)
        self.config: dict[str, Any] = resolve_refs(src.config)
        self.spec: dict[str, Any] = {}
        self._catalog: list[DiscoveredStream] | None = None
        self._lock = threading.Lock()

    def _argv(self, world: World, src: Source) -> list[str]:
        if src.pip:
            env = ensure_env(src.pip, src.pip_overrides, log=_log)
            # a pinned install answers spec the same way every time: ask it once per machine
            self._spec_cache = env.path / f"{src.connector}.spec.json"
            return [str(env.executable(str(src.connector)))]
        if src.executable:
            return [str(world.resolve_path(src.executable))]
        assert src.command
        return list(src.command)

    def run(self, command: str, *, config: bool = True) -> list[dict[str, Any]]:
        return run_collect(
            self.argv,
            command,
            config=self.config if config else None,
            timeout=self.timeout,
            cwd=self.base_dir,
        )

    # ------------------------------------------------------------------ spec
    def validate(self) -> list[str]:
        """Run ``spec`` and check the config against it; the problems, field by field."""
        import jsonschema  # type: ignore[import-untyped]

        cached = self._spec_cache
        if cached is not None and cached.is_file():
            self.spec = json.loads(cached.read_text(encoding="utf-8"))
        else:
            try:
                messages = self.run("spec", config=False)
            except (ConnectorExit, ConnectorTimeout, ProtocolError, OSError) as exc:
                return [f"spec: the connector did not answer spec: {exc}"]
            specs = [m["spec"] for m in messages if m.get("type") == "SPEC"]
            if not specs:
                return ["spec: the connector printed no SPEC message"]
            self.spec = specs[0]
            if cached is not None:
                tmp = cached.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(self.spec), encoding="utf-8")
                tmp.replace(cached)
        schema = self.spec.get("connectionSpecification") or {}
        validator = jsonschema.Draft7Validator(schema)
        problems = []
        for err in sorted(validator.iter_errors(self.config), key=lambda e: list(e.path)):
            where = ".".join(str(p) for p in err.path)
            problems.append(f"config{'.' + where if where else ''}: {err.message}")
        return problems

    # ------------------------------------------------------------------ check, discover
    def check(self) -> str | None:
        """None when ``check`` succeeds, else the connector's message."""
        try:
            messages = self.run("check")
        except (ConnectorExit, ConnectorTimeout, ProtocolError, OSError) as exc:
            return f"check failed: {exc}"
        for m in messages:
            if m.get("type") == "CONNECTION_STATUS":
                status = m["connectionStatus"]
                if status.get("status") == "SUCCEEDED":
                    return None
                return str(status.get("message") or "check failed")
            if m.get("type") == "TRACE" and m["trace"].get("type") == "ERROR":
                return str(m["trace"]["error"].get("message") or "check failed")
        return "check: the connector printed no CONNECTION_STATUS message"

    def discover(self) -> list[DiscoveredStream]:
        """Run ``discover`` now and cache its catalog; raises RuntimeError with the reason."""
        try:
            messages = self.run("discover")
        except (ConnectorExit, ConnectorTimeout, ProtocolError, OSError) as exc:
            raise RuntimeError(f"discover failed: {exc}") from None
        for m in messages:
            if m.get("type") == "CATALOG":
                streams = catalog_streams(m["catalog"])
                with self._lock:
                    self._catalog = streams
                return streams
            if m.get("type") == "TRACE" and m["trace"].get("type") == "ERROR":
                raise RuntimeError(str(m["trace"]["error"].get("message") or "discover failed"))
        raise RuntimeError("discover: the connector printed no CATALOG message")

    def catalog(self) -> list[DiscoveredStream]:
        with self._lock:
            cached = self._catalog
        return cached if cached is not None else self.discover()


class ConnectorHub:
    """Every real connector of a world, validated at construction (see the module doc)."""

    def __init__(self, world: World) -> None:
        self.sources: dict[str, ConnectorSource] = {}
        problems: list[str] = []
        for i, src in enumerate(world.sources):
            if src.type != "airbyte":
                continue
            where = f"sources[{i}]"
            try:
                cs = ConnectorSource(world, src)
            except (ConnectorEnvError, SecretRefError, OSError) as exc:
                problems.append(f"{where}: {exc}")
                continue
            config_problems = [f"{where}.{p}" for p in cs.validate()]
            problems += config_problems
            self.sources[src.name] = cs
            if not config_problems:
                problems += self._stream_problems(world, cs)
        if problems:
            raise WorldError(world.source_name, problems)

    @staticmethod
    def _stream_problems(world: World, cs: ConnectorSource) -> list[str]:
        """Connections of this source name streams its discover really has."""
        wanted = [
            (i, j, s.name)
            for i, c in enumerate(world.connections)
            if c.source == cs.src.name
            for j, s in enumerate(c.streams or [])
        ]
        if not wanted:
            return []
        try:
            names = sorted(d.schema.name for d in cs.catalog())
        except RuntimeError as exc:
            return [f"sources: {cs.src.name!r}: {exc}"]
        return [
            f"connections[{i}].streams[{j}].name: {cs.src.connector} has no stream {name!r} "
            f"(fix: one of {names})"
            for i, j, name in wanted
            if name not in names
        ]

    def __getitem__(self, src: Source) -> ConnectorSource:
        return self.sources[src.name]

    def catalog(self, src: Source) -> list[Any]:
        """The sandbox StreamSchemas of the last discover (discovering once if needed)."""
        try:
            return [d.schema for d in self[src].catalog()]
        except RuntimeError:
            return []

    def raw_streams(self, src: Source) -> dict[str, dict[str, Any]]:
        return {d.schema.name: d.raw for d in self[src].catalog()}

    def refresh(self, src: Source) -> str | None:
        """A fresh discover (discover_schema); None on success, else the reason."""
        try:
            self[src].discover()
        except RuntimeError as exc:
            return str(exc)
        return None

    def check(self, src: Source) -> str | None:
        return self[src].check()
