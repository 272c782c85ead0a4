"""Option bundles shared by commands, so a flag is spelled and explained the same everywhere.

``@airbyte_options`` adds ``-f/--pipeline-file``, ``--url``, ``--client-id``,
``--client-secret-ref`` and ``--workspace`` and hands the command one `AirbyteFlags`
(keyword ``airbyte``) instead of five parameters. ``@connection_options`` is the same
without ``-f`` (for commands that take the pipeline file as an argument);
``@store_options`` is ``-f`` and ``--store-url`` for commands that only read the store.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from luigi_airbyte.cli.common import fail
from luigi_airbyte.errors import AuthenticationError, ConfigError, LuigiAirbyteError, Problem
from luigi_airbyte.secrets import REFERENCE_HELP, InvalidSecretRef, SecretRef

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


@dataclass(frozen=True)
class AirbyteFlags:
    """The connection flags of one command line, as given (``None`` = not given)."""

    pipeline_file: Path | None = None
    url: str | None = None
    client_id: str | None = None
    client_secret_ref: str | None = None
    workspace: str | None = None
    store_url: str | None = None

    def settings(self) -> dict[str, Any]:
        """The flags as setting keys for ``Runtime.load(cli=...)`` (highest precedence).

        Raises:
            ConfigError: ``--client-secret-ref`` holds something that is not a reference
                (a literal secret on a command line is visible in ``ps`` and shell history).
        """
        values: dict[str, Any] = {
            "airbyte.url": self.url,
            "airbyte.workspace": self.workspace,
            "store.url": self.store_url,
        }
        if self.client_id is not None or self.client_secret_ref is not None:
            values["airbyte.auth.type"] = "client_credentials"
            values["airbyte.auth.client_id"] = self.client_id
            values["airbyte.auth.client_secret"] = self._secret_ref()
        return {key: value for key, value in values.items() if value is not None}

    def explain(self, error: LuigiAirbyteError) -> LuigiAirbyteError:
        """``error``, with a hint added when Airbyte refused a request sent with no credential
        because none was given: the usual cause is a forgotten ``-f pipeline.yaml``."""
        given = (self.pipeline_file, self.client_id, self.client_secret_ref)
        if not isinstance(error, AuthenticationError) or any(v is not None for v in given):
            return error
        from luigi_airbyte.app.runtime import Runtime

        try:
            auth_type = Runtime.load("", cli=self.settings()).settings.get("airbyte.auth.type")
        except LuigiAirbyteError:
            return error
        if auth_type not in (None, "none"):
            return error  # a credential came from the environment or luigi.cfg
        hint = (
            "No credential was given: add -f pipeline.yaml to use the pipeline file's "
            "airbyte: url and auth, or pass --client-id and --client-secret-ref"
        )
        return replace(error, hint=f"{error.hint}. {hint}" if error.hint else hint)

    def _secret_ref(self) -> str | None:
        text = self.client_secret_ref
        if text is None:
            return None
        try:
            SecretRef.parse(text)
        except InvalidSecretRef as exc:
            # Never echo the value: it may be the secret itself.
            raise ConfigError(
                [
                    Problem(
                        "cli",
                        "--client-secret-ref",
                        "expects a reference to the secret, not the secret itself "
                        f"({exc.reason}); a secret on the command line is visible in ps "
                        "and shell history",
                        f"pass {REFERENCE_HELP}, e.g. --client-secret-ref "
                        "env:AIRBYTE_CLIENT_SECRET",
                    )
                ]
            ) from None
        return text

    def runtime(self, **kwargs: Any) -> Runtime:
        """Load the pipeline file (if given) and resolve settings with these flags on top."""
        from luigi_airbyte.app.runtime import Runtime

        return Runtime.load(self.pipeline_file or "", cli=self.settings(), **kwargs)

    def call(self, use: Callable[[Runtime], T], *, as_json: bool, explain: bool = False) -> T:
        """``use(runtime)`` with a runtime loaded from these flags and closed after. A
        library error ends the command with its exit code (``explain``: with the hint for a
        forgotten ``-f``)."""
        try:
            rt = self.runtime()
            try:
                return use(rt)
            finally:
                rt.close()
        except LuigiAirbyteError as exc:
            fail(self.explain(exc) if explain else exc, as_json=as_json)


_PIPELINE_FILE = (
    "pipeline_file",
    click.option(
        "-f",
        "--pipeline-file",
        type=click.Path(path_type=Path),  # a directory or FIFO is the loader's exit 3
        metavar="FILE",
        help="Pipeline file to take settings from (optional).",
    ),
)
_URL = (
    "url",
    click.option("--url", help="Airbyte public API URL, e.g. http://localhost:8000/api/public/v1."),
)
_CLIENT_ID = "client_id", click.option("--client-id", help="Airbyte application client id.")
_CLIENT_SECRET_REF = (
    "client_secret_ref",
    click.option(
        "--client-secret-ref",
        metavar="REF",
        help="Where the client secret is: env:NAME, file:/path, aws-sm:ARN#key or "
        "vault:path#key. Never the secret itself.",
    ),
)
_WORKSPACE = (
    "workspace",
    click.option("--workspace", help="Workspace id or name for connection names."),
)
_STORE_URL = (
    "store_url",
    click.option("--store-url", help="Metadata store URL (default: SQLite in the state folder)."),
)


def _bundle(*options: tuple[str, Callable[[F], F]]) -> Callable[[F], F]:
    names = [name for name, _ in options]

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in names}
            return fn(*args, airbyte=AirbyteFlags(**given), **kwargs)

        decorated: Any = wrapper
        for _, option in reversed(options):
            decorated = option(decorated)
        return decorated  # type: ignore[no-any-return]

    return decorate


airbyte_options = _bundle(_PIPELINE_FILE, _URL, _CLIENT_ID, _CLIENT_SECRET_REF, _WORKSPACE)
"""``-f``, ``--url``, ``--client-id``, ``--client-secret-ref``, ``--workspace`` → ``airbyte=``."""

connection_options = _bundle(_URL, _CLIENT_ID, _CLIENT_SECRET_REF, _WORKSPACE)
"""`airbyte_options` without ``-f`` (the command takes the pipeline file as an argument)."""

store_options = _bundle(_PIPELINE_FILE, _STORE_URL)
"""``-f`` and ``--store-url``, for commands that read the metadata store → ``airbyte=``."""


def given_path(text: str, field: str = "PIPELINE_FILE") -> Path:
    """A path argument as given; an empty one (``''``, which ``Path`` would read as the
    current directory) is a ``ConfigError`` (exit 3) naming ``field``."""
    if not text:
        raise ConfigError(
            [
                Problem(
                    "cli",
                    field,
                    "the path is empty",
                    "give the pipeline YAML file's path, e.g. pipeline.yaml",
                )
            ]
        )
    return Path(text)


def existing_file(pipeline_file: Path) -> Path:
    """The pipeline file's absolute path; a missing one is a ``ConfigError`` (exit 3)."""
    path = pipeline_file.resolve()
    if not path.exists():
        raise ConfigError([Problem(str(pipeline_file), "-", "file not found", "check the path")])
    return path


def pipeline_runtime(
    pipeline_file: Path, settings: dict[str, Any] | None = None, **kwargs: Any
) -> Runtime:
    """The runtime of a pipeline file given as an argument, with the command line's
    settings (``None`` values: not given) on top. The settings' warnings (an unknown
    ``LUIGI_AIRBYTE_*`` variable) go to stderr, as ``validate`` prints them."""
    from luigi_airbyte.app.runtime import Runtime
    from luigi_airbyte.cli.render import note

    given = {k: v for k, v in (settings or {}).items() if v is not None}
    rt = Runtime.load(existing_file(pipeline_file), cli=given, **kwargs)
    for warning in rt.settings.warnings:
        note(f"warning: {warning}")
    return rt


OUTPUT_FILE = click.Path(dir_okay=False, path_type=Path)
"""The type of an option naming a file to write (a report, a page)."""


def limit_option(maximum: int, what: str) -> Callable[[F], F]:
    """``-n/--limit``: at most this many ``what`` (runs, jobs), newest first; default 20."""
    return click.option(
        "-n",
        "--limit",
        type=click.IntRange(1, maximum),
        default=20,
        show_default=True,
        help=f"At most this many {what}, newest first.",
    )


def duration_callback(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> timedelta | None:
    """Parse ``90s``, ``30m``, ``6h``, ``1h30m``, or a bare number of seconds → timedelta.

    On the command line ``--timeout 60`` means 60 seconds, as with timeout(1); the
    pipeline file keeps asking for a unit, where a bare number is more often a mistake.
    Used as an option ``callback`` (with ``metavar="DURATION"``) rather than a
    ``ParamType``, whose typing differs between click versions.
    """
    from luigi_airbyte.pipeline._types import parse_duration

    if value is None:
        return None
    try:
        return parse_duration(value, bare_seconds=True)
    except ValueError as exc:  # pydantic_core's PydanticCustomError is a ValueError
        message = getattr(exc, "message", None)
        text = message() if callable(message) else str(exc)
        raise click.BadParameter(
            f"{text}; write e.g. 60 (seconds), 90s, 30m, 6h or 1h30m"
        ) from None
