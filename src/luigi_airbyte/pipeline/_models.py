"""The pipeline file's top level: settings sections, warehouses, owners and pipelines.

This is the one declaration of every setting. A field marked ``Setting(default)`` (and
every field of the ``auth`` variants) is a setting; its key is its path in the file
(``airbyte.timeout``, ``poll.interval``...), its help is the field's docstring, its type
is the field's type. `_settings_spec` walks these models to derive the settings table,
the environment variable (``LUIGI_AIRBYTE_AIRBYTE__TIMEOUT``), the luigi.cfg option,
the resolver's parser and default, ``config show``'s rows, the JSON Schema's defaults
and docs/configuration.md's table. In the file every setting is optional (None = not
set): the default applies only when no source sets the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, StringConstraints, model_validator

from luigi_airbyte.errors import ConfigError, Problem
from luigi_airbyte.pipeline._steps import AnyStep, Model, Step
from luigi_airbyte.pipeline._suggest import did_you_mean
from luigi_airbyte.pipeline._types import (
    AlertRoute,
    ConfigApiUrl,
    Cron,
    DatabaseUrl,
    Duration,
    HttpUrl,
    ListenAddress,
    MaybeSecret,
    Name,
    SecretRefField,
    non_empty,
)


@dataclass(frozen=True)
class Setting:
    """Marks a section model's field as a setting, with its value when no source sets it.

    ``shown`` replaces the default in the docs when it is derived (``store.url``).
    """

    default: Any = None
    shown: str | None = None


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""A non-empty string, surrounding whitespace removed."""

# --- airbyte ------------------------------------------------------------------------------


class ClientCredentialsAuth(Model):
    """Airbyte application credentials (Cloud and self-managed)."""

    type: Literal["client_credentials"]
    client_id: MaybeSecret
    """Application client id (plain or a reference)."""
    client_secret: SecretRefField
    """Application client secret (secret: reference only)."""
    token_url: HttpUrl | None = None
    """Token endpoint (required for `oidc`; `client_credentials` default
    `<url>/applications/token`)."""


class OidcAuth(Model):
    """An OAuth2 client-credentials grant against your identity provider."""

    type: Literal["oidc"]
    token_url: HttpUrl
    client_id: MaybeSecret
    client_secret: SecretRefField
    scope: Text | None = None
    """OAuth scope (`oidc`)."""
    audience: Text | None = None
    """OAuth audience (`oidc`)."""


class BearerAuth(Model):
    """A static bearer token (a reference)."""

    type: Literal["bearer"]
    token: SecretRefField
    """Static bearer token (secret: reference only)."""


class BasicAuth(Model):
    """HTTP basic auth (older self-managed deployments)."""

    type: Literal["basic"]
    username: MaybeSecret
    """Basic-auth user."""
    password: SecretRefField
    """Basic-auth password (secret: reference only)."""


class NoAuth(Model):
    """No authentication (a local sandbox)."""

    type: Literal["none"]


Auth = Annotated[
    ClientCredentialsAuth | OidcAuth | BearerAuth | BasicAuth | NoAuth,
    Field(discriminator="type"),
]
AUTH_CLASSES: dict[str, type[Model]] = {
    "client_credentials": ClientCredentialsAuth,
    "oidc": OidcAuth,
    "bearer": BearerAuth,
    "basic": BasicAuth,
    "none": NoAuth,
}


class AirbyteSection(Model):
    """Where Airbyte is and how to talk to it."""

    url: Annotated[HttpUrl | None, Setting("http://localhost:8000/api/public/v1")] = None
    """Airbyte public API base URL (Cloud: `https://api.airbyte.com/v1`)."""
    workspace: Annotated[Text | None, Setting()] = None
    """Workspace id or name for connection-name lookups."""
    config_api_url: Annotated[ConfigApiUrl | None, Setting("auto")] = None
    """Config API base (per-stream counts, connector checks): `auto` detects it from a
    `/api/public/v1` URL, `none` switches it off (Airbyte Cloud), or give its URL in either
    form: `http://localhost:8000/api/v1` (Airbyte's docs, dagster-airbyte) or
    `http://localhost:8000/api` (the spec)."""
    timeout: Annotated[Duration | None, Setting(timedelta(hours=6))] = None
    """Default time limit for one sync's running time; time spent queued for capacity does
    not count (a step's `timeout:` overrides it)."""
    queue_timeout: Annotated[Duration | None, Setting(timedelta(hours=8))] = None
    """How long a sync may wait `pending`/`queued` for Airbyte capacity before its step
    gives up; the job is left queued, never cancelled (8h is when Airbyte cancels a queued
    manual sync itself; a step's `queue_timeout:` overrides it)."""
    max_concurrent_syncs: Annotated[int | None, Setting(4), Field(ge=1, le=100)] = None
    """Syncs running at once (a Luigi resource), 1–100."""  # noqa: RUF001
    resource: Annotated[
        str | None, Setting("airbyte"), Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    ] = None
    """Luigi resource name for this Airbyte instance; declare it with its cap in luigid's
    `[resources]`."""
    allow_insecure_http: Annotated[bool | None, Setting(False)] = None
    """Allow `http://` to a non-loopback host when a credential is sent."""
    auth: Annotated[Auth | None, Setting("none")] = None
    """Auth type: `client_credentials`, `oidc`, `bearer`, `basic` or `none` (inferred when
    unset, see below); each type's fields are settings too, secrets as references only."""


class StoreSection(Model):
    """The metadata store (run history, job ledger)."""

    url: Annotated[DatabaseUrl | None, Setting(shown="sqlite:///<state_dir>/metadata.db")] = None
    """Metadata store, a SQLAlchemy URL without a password (or a reference to the whole
    URL)."""
    password: Annotated[SecretRefField | None, Setting()] = None
    """Metadata store password (secret: reference only)."""


class ReportsSection(Model):
    """Reports written for every run (see docs/reports.md)."""

    html: bool = False
    """Write a self-contained HTML report per run: <state_dir>/reports/<run id>.html."""
    base_url: HttpUrl | None = None
    """Where the state folder is served, e.g. https://ci.example.com/state/: alerts and
    JUnit files link <base_url>reports/<run id>.html instead of the local path."""


class PollSection(Model):
    """How a running Airbyte job is polled."""

    strategy: Annotated[Literal["adaptive", "fixed"] | None, Setting("adaptive")] = None
    """`adaptive` (back off while a job runs) or `fixed`."""
    interval: Annotated[Duration | None, Setting(timedelta(seconds=30))] = None
    """Fixed: the wait between polls; adaptive: the longest wait."""


class WebhookSection(Model):
    """Airbyte's sync notifications pushed to a receiver (see docs/webhooks.md)."""

    listen: Annotated[ListenAddress | None, Setting("127.0.0.1:8711")] = None
    """Where the webhook receiver listens, `HOST:PORT`; loopback by default (put a TLS
    proxy in front of it for an Airbyte on another host)."""
    public_url: Annotated[HttpUrl | None, Setting(shown="http://<webhook.listen>")] = None
    """The receiver's URL as Airbyte reaches it; `webhook configure` sets
    `<public_url>/<token>` as the workspace's success and failure webhook."""
    token: Annotated[SecretRefField | None, Setting()] = None
    """Shared path token (secret: reference only): the receiver serves only
    `POST /<token>`, since Airbyte's webhooks are unsigned."""


class Warehouse(Model):
    """A database the checks query (counts, SQL checks)."""

    url: DatabaseUrl
    """SQLAlchemy-style URL without a password, or a reference to the whole URL."""
    password: SecretRefField | None = None
    """The password as a reference."""
    schema_: str | None = Field(default=None, alias="schema")
    """Default schema for stream tables."""


class Owner(Model):
    """An owner role (a team, never a person) and where its alerts go."""

    alerts: tuple[AlertRoute, ...] = ()
    """Alert routes, e.g. webhook:env:TEAM_WEBHOOK_URL, cloudwatch:/luigi-airbyte/alerts."""
    description: str | None = None


# --- pipelines ----------------------------------------------------------------------------


class Pipeline(Model):
    """An ordered graph of steps with one owner role."""

    owner: str
    """Owner role (a key of `owners`) that receives this pipeline's alerts."""
    description: str | None = None
    schedule: Cron | None = None
    """Informational: validated, shown by no command; luigi-airbyte does not schedule."""
    steps: Annotated[tuple[AnyStep, ...], non_empty("steps")] = Field(
        json_schema_extra={"minItems": 1}
    )
    """The steps; order matters only for display and ties."""

    _name: str = PrivateAttr(default="")

    @property
    def name(self) -> str:
        """The pipeline's key under `pipelines`."""
        return self._name

    def step(self, name: str) -> Step:
        """The step called ``name`` (KeyError when absent)."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def owner_of(self, step: Step) -> str:
        """The role that owns ``step``: its own ``owner`` or the pipeline's."""
        return step.owner or self.owner

    def topological_steps(self) -> list[Step]:
        """Steps so that each comes after everything it depends on; file order breaks ties."""
        remaining: list[Step] = list(self.steps)
        done: set[str] = set()
        ordered: list[Step] = []
        while remaining:
            ready = next((s for s in remaining if set(s.depends_on) <= done), None)
            if ready is None:  # only possible if validation was bypassed
                raise ValueError(f"pipeline {self.name!r} has a dependency cycle")
            ordered.append(ready)
            done.add(ready.name)
            remaining.remove(ready)
        return ordered


class PipelineFile(Model):
    """A whole pipeline file. Load it with `load_pipeline_file`."""

    version: Literal[1]
    """File format version; always 1 for now."""
    airbyte: AirbyteSection = AirbyteSection()
    store: StoreSection | None = None
    state_dir: Annotated[Text | None, Setting(".luigi-airbyte")] = None
    """Folder for the default store and run artefacts."""
    poll: PollSection | None = None
    webhook: WebhookSection | None = None
    on_interrupt: Annotated[Literal["detach", "cancel"] | None, Setting("detach")] = None
    """On Ctrl-C: `detach` (jobs keep running; a rerun attaches) or `cancel`."""
    log_format: Annotated[Literal["text", "json"] | None, Setting("text")] = None
    """`text` or `json` log lines on stderr."""
    warehouses: dict[Name, Warehouse] = {}
    """Databases for checks, by name."""
    owners: dict[str, Owner] = {}
    """Owner roles (teams, not people) and their alert routes."""
    events: tuple[AlertRoute, ...] = ()
    """Where every event of every run also goes, e.g. cloudwatch:/luigi-airbyte/events."""
    lineage: str | None = Field(default=None, pattern=r"^(console|file:.+)$")
    """OpenLineage run events per step: `file:/path/lineage.jsonl` or `console`."""
    reports: ReportsSection = ReportsSection()
    """Reports written for every run: `{html: true, base_url: https://...}`."""
    pipelines: Annotated[dict[Name, Pipeline], non_empty("pipelines")] = Field(
        json_schema_extra={"minProperties": 1}
    )
    """The pipelines in this file, by name."""

    _source: str = PrivateAttr(default="<data>")
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _name_pipelines(self) -> PipelineFile:
        for name, pipeline in self.pipelines.items():
            pipeline._name = name
        return self

    @property
    def source(self) -> str:
        """The path the file was loaded from (``<data>`` when built from a mapping)."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """Relative paths in the file (dbt project, Spark app, cwd) are relative to this."""
        return Path(self._source).resolve().parent if self._source != "<data>" else Path.cwd()

    def resolve_path(self, path: str) -> Path:
        """``path`` made absolute against the file's directory."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def line_of(self, field: str) -> int | None:
        """The 1-based line of a field path (``airbyte.timeout``), or None."""
        return self._lines.get(field)

    def pipeline(self, name: str | None = None) -> Pipeline:
        """One pipeline by name; with no name, the only one (ambiguity is a ConfigError)."""
        names = list(self.pipelines)
        if name is None:
            if len(names) == 1:
                return self.pipelines[names[0]]
            raise ConfigError(
                [
                    Problem(
                        source=self._source,
                        field="pipelines",
                        line=self.line_of("pipelines"),
                        message=f"the file has {len(names)} pipelines: {', '.join(names)}",
                        fix=f"name the pipeline to run (one of: {', '.join(names)})",
                    )
                ]
            )
        if name not in self.pipelines:
            close = did_you_mean(name, names)
            raise ConfigError(
                [
                    Problem(
                        source=self._source,
                        field=f"pipelines.{name}",
                        line=self.line_of("pipelines"),
                        message=f"no pipeline named {name!r}"
                        + (f"; did you mean {close!r}?" if close else ""),
                        fix=f"use one of: {', '.join(names)}",
                    )
                ]
            )
        return self.pipelines[name]
