"""Step models: ``sync``, ``sync_each``, ``check``, ``dbt``, ``spark`` and ``command``.

A step is a mapping whose *kind key* says what it is. For ``sync``, ``sync_each`` and
``check`` the kind key's value is the step's name (``- sync: crm``); for ``dbt``, ``spark``
and ``command`` it is the tool's configuration and the name is ``name:`` (default: the
kind). Every step has ``name``, ``after``, ``owner``, ``retries`` and ``description``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)

from luigi_airbyte.pipeline._docstrings import describe_fields
from luigi_airbyte.pipeline._types import (
    ConnectionRef,
    Duration,
    MaybeSecret,
    Name,
    ScalarText,
    ToleranceField,
    non_empty,
)
from luigi_airbyte.vocabulary import SyncMode

STEP_KINDS = ("sync", "sync_each", "check", "dbt", "spark", "command")
CHECK_KINDS = ("sql", "freshness", "drift", "counts")
EnvMap = dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], MaybeSecret]


class Model(BaseModel):
    """Base for every pipeline-file model: unknown keys are errors; values are frozen.

    The string under a field is its description (`_docstrings`, pydantic's
    ``use_attribute_docstrings`` rule, one parse per module). Schemas are built when a
    model is first used (``defer_build``), once for the whole file, not once per class.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        describe_fields(cls)


# --- expectations and counts --------------------------------------------------------------


class StreamExpect(Model):
    """What a stream must look like in the connection's configuration (drift check)."""

    sync_mode: SyncMode | None = None
    """Expected sync mode, e.g. incremental_deduped_history."""
    cursor: tuple[str, ...] | None = None
    """Expected cursor field path, e.g. [updated_at]."""
    primary_key: tuple[tuple[str, ...], ...] | None = None
    """Expected primary key: a list of field paths, e.g. [[id]]."""
    selected: bool | None = None
    """Whether the stream must be selected (true) or deselected (false)."""
    selected_fields: tuple[str, ...] | None = None
    """Top-level columns to sync (Airbyte's field selection), e.g. [id, email, updated_at]."""


class ScheduleExpect(Model):
    """The connection's own schedule in Airbyte (manual when luigi-airbyte triggers it)."""

    type: Literal["manual", "cron"]
    """manual, or cron (Airbyte then also syncs on its own at `cron`)."""
    cron: str | None = Field(default=None, min_length=1)
    """Quartz cron expression for type cron, e.g. "0 0 2 * * ?" (UTC)."""

    @model_validator(mode="after")
    def _cron_for_cron(self) -> ScheduleExpect:
        if self.type == "cron" and self.cron is None:
            raise ValueError('a cron schedule needs `cron:`, e.g. cron: "0 0 2 * * ?"')
        if self.type == "manual" and self.cron is not None:
            raise ValueError("a manual schedule has no `cron:`; remove it or use type: cron")
        return self


class Expect(Model):
    """Expected connection configuration; a difference fails the drift check, and
    `luigi-airbyte apply` puts it back. Only the fields named here are compared or sent."""

    streams: dict[str, StreamExpect] = {}
    """Per-stream expectations, keyed by stream name."""
    status: Literal["active", "inactive"] | None = None
    """Connection status; when not named, plan and the drift check expect active."""
    schedule: ScheduleExpect | None = None
    """The connection's schedule in Airbyte, e.g. {type: manual}."""
    namespace: Literal["source", "destination", "custom_format"] | None = None
    """Destination namespace definition."""
    namespace_format: str | None = None
    """Namespace format when namespace is custom_format, e.g. "raw_${SOURCE_NAMESPACE}"."""
    prefix: str | None = None
    """Stream prefix in the destination, e.g. crm_ ("" for none)."""
    schema_changes: (
        Literal["ignore", "disable_connection", "propagate_columns", "propagate_fully"] | None
    ) = None
    """What Airbyte does on a non-breaking source schema change."""


class Counts(Model):
    """Reconcile Airbyte's per-stream record counts with warehouse row counts."""

    warehouse: Name | None = None
    """Warehouse to count in (a key of `warehouses`); optional when there is only one."""
    tolerance: ToleranceField | None = None
    """Allowed difference: rows (0, 10) or a percentage string ("1%"). Default 0."""
    tables: dict[str, str] = {}
    """Warehouse table per stream when it is not the stream name, e.g. {users: raw.users}."""
    on_lost_records: Literal["fail", "warn"] = "fail"
    """What records lost inside Airbyte mean (the final attempt committed fewer than it
    emitted, less rejected and filtered out) and duplicate primary keys in an append
    mode: fail the check (exit 6, downstream blocked) or only warn."""


# --- steps --------------------------------------------------------------------------------


class Step(Model):
    """Fields every step has."""

    kind: ClassVar[str] = ""
    name: Name
    after: tuple[Name, ...] = ()
    """Steps that must finish before this one (names in the same pipeline)."""
    owner: str | None = None
    """Owner role for this step's alerts; defaults to the pipeline's owner."""
    retries: int | None = Field(default=None, ge=0, le=100)
    """A retry hint for the scheduler (Luigi retry count)."""
    description: str | None = None
    """Free text for readers of the file; no command prints it."""

    @property
    def depends_on(self) -> tuple[str, ...]:
        """Every step this one waits for: ``after`` plus implicit references."""
        return self.after


class SyncOptions(Model):
    """The options of one sync task: a ``sync`` step's, and (for every task) a
    ``sync_each`` step's."""

    freshness: Duration | None = None
    """Skip the sync when Airbyte's last successful job ended within this window."""
    timeout: Duration | None = None
    """Give up waiting after this long running (default: airbyte.timeout); time spent
    queued for Airbyte capacity does not count."""
    counts: Counts | None = None
    """Record-count reconciliation after the sync."""
    on_zero_rows: Literal["fail", "warn", "ignore"] = "warn"
    """What a succeeded sync that moved no rows means (when it usually moves data)."""
    drop_threshold: float | None = Field(default=None, gt=0, le=1)
    """Rows committed this far below the recent median count as a sharp drop (default 0.5)."""
    on_drop: Literal["fail", "warn"] = "warn"
    """What a sharp drop in committed rows means."""
    stuck_after: Duration | None = None
    """Call the job stuck when status and counts stop changing this long (default 30m)."""
    on_stuck: Literal["warn", "cancel"] = "warn"
    """What a stuck job gets: a warning event, or a cancel (then the step fails)."""


class SyncStep(SyncOptions, Step):
    """Run (or attach to) an Airbyte sync of one connection."""

    kind: ClassVar[str] = "sync"
    name: Name = Field(alias="sync")
    """The step name."""
    connection: ConnectionRef
    """The connection's name (as shown in Airbyte) or id (a UUID)."""
    queue_timeout: Duration | None = None
    """Give up waiting after this long queued (default: airbyte.queue_timeout, 8h). A
    queued job is never cancelled for waiting: it is left to Airbyte."""
    expect: Expect | None = None
    """Expected stream configuration (drift check, run before the sync)."""


class ConnectionSelect(Model):
    """Which connections of the workspace a ``sync_each`` step syncs (all criteria apply)."""

    name: str | tuple[str, ...] | None = None
    """Glob(s) on the connection name, e.g. "Postgres *" or ["crm-*", "erp-*"]. Default: all."""
    tags: tuple[str, ...] = ()
    """Airbyte tag names the connection must all carry (where Airbyte has tags)."""
    status: Literal["active", "inactive", "any"] = "active"
    """Connection status to select; inactive connections cannot sync."""

    @property
    def patterns(self) -> tuple[str, ...]:
        if self.name is None:
            return ("*",)
        return (self.name,) if isinstance(self.name, str) else self.name


class SyncOverride(Model):
    """Options that change one connection's task of a ``sync_each`` step."""

    freshness: Duration | None = None
    """Skip the sync when Airbyte's last successful job ended within this window."""
    timeout: Duration | None = None
    """Give up waiting after this long."""
    counts: Counts | None = None
    """Record-count reconciliation after the sync."""
    on_zero_rows: Literal["fail", "warn", "ignore"] | None = None
    drop_threshold: float | None = Field(default=None, gt=0, le=1)
    on_drop: Literal["fail", "warn"] | None = None
    stuck_after: Duration | None = None
    on_stuck: Literal["warn", "cancel"] | None = None
    owner: str | None = None
    """Owner role for this connection's alerts."""
    retries: int | None = Field(default=None, ge=0, le=100)


_SHARED_SYNC_FIELDS = tuple(SyncOptions.model_fields)


class SyncEachStep(SyncOptions, Step):
    """One sync task per connection the selection matches, from the run's one connection
    listing. Options apply to every task; ``overrides`` change them for one connection."""

    kind: ClassVar[str] = "sync_each"
    name: Name = Field(alias="sync_each")
    """The step name; each task is called <name>/<connection name>."""
    workspace: str | None = None
    """Workspace name or id (default: airbyte.workspace, else every visible workspace)."""
    select: ConnectionSelect = ConnectionSelect()
    """Which connections: name globs, tags, status (default: every active connection)."""
    overrides: dict[str, SyncOverride] = {}
    """Per-connection changes, keyed by connection name (or id), e.g. {crm: {freshness: 1h}}."""

    def expand(self, connections: Any) -> list[SyncStep]:
        """One ``SyncStep`` per selected connection (objects with ``name``,
        ``connection_id``, ``status`` and optionally ``tags``), sorted by name.

        Raises ValueError naming an override that matches no selected connection.
        """
        from fnmatch import fnmatchcase

        sel = self.select
        chosen = []
        for conn in connections:
            status = str(getattr(conn.status, "value", conn.status))
            if sel.status != "any" and status != sel.status:
                continue
            if not any(fnmatchcase(conn.name, p) for p in sel.patterns):
                continue
            tags = set(getattr(conn, "tags", ()) or ())
            if not set(sel.tags) <= tags:
                continue
            chosen.append(conn)
        chosen.sort(key=lambda c: (c.name, c.connection_id))
        keys = {c.name for c in chosen} | {c.connection_id for c in chosen}
        unknown = [k for k in self.overrides if k not in keys]
        if unknown:
            raise ValueError(
                f"overrides name {', '.join(map(repr, unknown))}, which the selection does not "
                "match"
            )
        steps = []
        for conn in chosen:
            values: dict[str, Any] = {f: getattr(self, f) for f in _SHARED_SYNC_FIELDS}
            values.update(owner=self.owner, retries=self.retries, after=self.after)
            override = self.overrides.get(conn.name) or self.overrides.get(conn.connection_id)
            if override is not None:
                for key in override.model_fields_set:
                    if getattr(override, key) is not None:
                        values[key] = getattr(override, key)
            steps.append(
                SyncStep.model_construct(
                    name=f"{self.name}/{conn.name}",
                    connection=conn.connection_id,
                    description=self.description,
                    **values,
                )
            )
        return steps


class SqlCheck(Model):
    """Run a query; the check passes when the first column of the single row is true."""

    warehouse: Name | None = None
    """Warehouse to query; optional when there is only one."""
    query: str = Field(min_length=1)
    """SQL returning one row whose first column is a boolean (or 0/1)."""


class FreshnessCheck(Model):
    """Fail when a sync step's connection has not succeeded within ``max_age``."""

    sync: Name
    """The sync step whose connection is checked."""
    max_age: Duration
    """Maximum age of the last successful sync."""


class DriftCheck(Model):
    """Compare a sync step's `expect:` with the live connection configuration."""

    sync: Name
    """The sync step (with `expect:`) to check."""


class CountsCheck(Model):
    """Reconcile a sync step's record counts with the warehouse."""

    sync: Name
    """The sync step whose counts are reconciled."""
    warehouse: Name | None = None
    tolerance: ToleranceField | None = None
    tables: dict[str, str] = {}
    on_lost_records: Literal["fail", "warn"] = "fail"
    """See the sync step's ``counts.on_lost_records``."""


class CheckStep(Step):
    """A data check: exactly one of ``sql``, ``freshness``, ``drift`` or ``counts``."""

    kind: ClassVar[str] = "check"
    name: Name = Field(alias="check")
    """The step name."""
    sql: SqlCheck | None = None
    freshness: FreshnessCheck | None = None
    drift: DriftCheck | None = None
    counts: CountsCheck | None = None

    @property
    def check_kind(self) -> str:
        """Which check this is: sql, freshness, drift or counts."""
        return next((k for k in CHECK_KINDS if getattr(self, k) is not None), "")

    @property
    def target_sync(self) -> str | None:
        """The sync step a freshness/drift/counts check is about."""
        spec = self.freshness or self.drift or self.counts
        return spec.sync if spec is not None else None

    @property
    def depends_on(self) -> tuple[str, ...]:
        target = self.target_sync
        return self.after if target is None or target in self.after else (*self.after, target)


class DbtConfig(Model):
    """A dbt invocation (``dbt <command> --select ...``)."""

    project_dir: str
    """dbt project directory, relative to the pipeline file."""
    command: Literal["build", "run", "test", "seed", "snapshot"] = "build"
    select: str | None = None
    exclude: str | None = None
    selector: str | None = None
    target: str | None = None
    profiles_dir: str | None = None
    """Directory of profiles.yml, relative to the pipeline file."""
    vars: dict[str, Any] = {}
    full_refresh: bool = False
    threads: int | None = Field(default=None, ge=1)
    env: EnvMap = {}
    """Environment for dbt; secrets as references (they never go on the command line)."""


class DbtStep(Step):
    """Run dbt."""

    kind: ClassVar[str] = "dbt"
    name: Name = "dbt"
    dbt: DbtConfig


class SparkConfig(Model):
    """A ``spark-submit`` of one application."""

    app: str
    """The application (.py or .jar), relative to the pipeline file."""
    args: tuple[str, ...] = ()
    """Application arguments. Never secrets: argv is visible to every local user."""
    conf: dict[str, ScalarText] = {}
    """--conf key=value pairs (secret-looking keys must be references)."""
    master: str | None = None
    deploy_mode: Literal["client", "cluster"] | None = None
    packages: tuple[str, ...] = ()
    py_files: tuple[str, ...] = ()
    main_class: str | None = None
    env: EnvMap = {}
    timeout: Duration | None = None


class SparkStep(Step):
    """Run a Spark application."""

    kind: ClassVar[str] = "spark"
    name: Name = "spark"
    spark: SparkConfig


class CommandConfig(Model):
    """Run a program directly (no shell)."""

    argv: Annotated[tuple[str, ...], non_empty("argv")] = Field(json_schema_extra={"minItems": 1})
    """Program and arguments, e.g. [python, report.py]. Never secrets: use env."""
    env: EnvMap = {}
    """Extra environment; secrets as references."""
    cwd: str | None = None
    """Working directory, relative to the pipeline file."""
    timeout: Duration | None = None


class CommandStep(Step):
    """Run a command."""

    kind: ClassVar[str] = "command"
    name: Name = "command"
    command: CommandConfig


STEP_CLASSES: dict[str, type[Step]] = {
    c.kind: c for c in (SyncStep, SyncEachStep, CheckStep, DbtStep, SparkStep, CommandStep)
}


def step_kind_of(value: Any) -> str | None:
    """The discriminator: the one kind key present in a step mapping, else None."""
    if isinstance(value, Step):
        return value.kind
    if isinstance(value, dict):
        present = [k for k in STEP_KINDS if k in value]
        return present[0] if len(present) == 1 else None
    return None


AnyStep = Annotated[
    Annotated[SyncStep, Tag("sync")]
    | Annotated[SyncEachStep, Tag("sync_each")]
    | Annotated[CheckStep, Tag("check")]
    | Annotated[DbtStep, Tag("dbt")]
    | Annotated[SparkStep, Tag("spark")]
    | Annotated[CommandStep, Tag("command")],
    Discriminator(
        step_kind_of,
        custom_error_type="step_kind",
        custom_error_message="a step needs exactly one kind key",
    ),
]
