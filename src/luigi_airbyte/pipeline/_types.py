"""Field types for the pipeline file: durations, secret references, URLs, names, tolerances.

Each type validates with one function that raises a `PydanticCustomError` whose
context carries a ``fix``, so the error reporter can always say what to do. Each also
declares its JSON Schema, so editors complete and check the same rules.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from luigi_airbyte.observe.sinks.uri import SinkURIError, parse_sink_uri
from luigi_airbyte.pipeline._suggest import mistyped_scheme
from luigi_airbyte.secrets import (
    REFERENCE_HELP,
    SCHEMES,
    InvalidSecretRef,
    SecretRef,
    looks_like_reference_attempt,
    suggest_reference,
)


def looks_like_uuid(text: str) -> bool:
    """Whether ``text`` is an id (Airbyte's are UUIDs) rather than a name."""
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def fail(kind: str, message: str, fix: str) -> PydanticCustomError:
    """A validation error whose context carries the fix (braces escaped for pydantic)."""
    safe = message.replace("{", "(").replace("}", ")")
    return PydanticCustomError(kind, safe, {"fix": fix})


_RUN = re.compile(r"[A-Za-z0-9+/=_]{8,}")


def _token_like(text: str) -> bool:
    """A run of 8+ characters mixing letters and digits: maybe a key pasted in the wrong place."""
    return any(
        any(c.isdigit() for c in run) and any(c.isalpha() for c in run)
        for run in _RUN.findall(text)
    )


def describe(value: Any) -> str:
    """A short description of a YAML value for messages; never echoes token-like text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        if _token_like(value) or len(value) > 60:
            return f"a {len(value)}-character string"
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


# --- durations ----------------------------------------------------------------------------

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
DURATION_PATTERN = r"^(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?$"
DURATION_FIX = "write a number with a unit: 90s, 30m, 6h, 1d, or combined like 1h30m"


def parse_duration(value: Any, *, bare_seconds: bool = False) -> timedelta:
    """``30m``/``6h``/``1d``/``1h30m`` (or a timedelta) -> timedelta.

    A bare number is refused, unless ``bare_seconds`` (command-line options, where
    ``--timeout 60`` means 60 seconds).
    """
    if bare_seconds and isinstance(value, str) and value.strip().isdigit():
        value = f"{value.strip()}s"
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        raise fail("duration", f"{describe(value)} has no unit", f"{DURATION_FIX} (e.g. {value}s)")
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        m = _DURATION.fullmatch(text)
        if not text or not m or not any(m.groups()):
            raise fail("duration", f"invalid duration {describe(value)}", DURATION_FIX)
        seconds = sum(int(n) * s for n, s in zip(m.groups(), _UNITS.values(), strict=True) if n)
    else:
        raise fail("duration", f"expected a duration, got {describe(value)}", DURATION_FIX)
    if seconds <= 0:
        raise fail("duration", "a duration must be longer than zero", DURATION_FIX)
    if seconds > 366 * 86400:
        raise fail("duration", "a duration longer than a year is surely a mistake", DURATION_FIX)
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The compact form used in files and messages: ``1d6h``, ``30m``, ``45s``."""
    remaining = int(value.total_seconds())
    parts = []
    for unit, size in _UNITS.items():
        if unit == "w":
            continue
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


Duration = Annotated[
    timedelta,
    PlainValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": DURATION_PATTERN, "examples": ["30m", "6h", "1d", "1h30m"]}
    ),
]

# --- secret references --------------------------------------------------------------------

_REF_SCHEMA = {
    "type": "string",
    "pattern": "^(env|file|aws-sm|vault):.+",
    "examples": ["env:AIRBYTE_CLIENT_SECRET", "file:/run/secrets/airbyte"],
}


def mistyped_reference(value: Any) -> PydanticCustomError | None:
    """A did-you-mean error for ``envv:NAME`` and the like, or None."""
    typo = mistyped_scheme(value, SCHEMES)
    if typo is None:
        return None
    written, meant = typo
    return fail(
        "secret_reference",
        f"unknown secret reference scheme {written!r}; did you mean '{meant}:'?",
        f"write {meant}: instead of {written}: ({REFERENCE_HELP})",
    )


def _parse_ref(value: str) -> SecretRef:
    try:
        return SecretRef.parse(value)
    except InvalidSecretRef as exc:
        raise fail("secret_reference", f"invalid secret reference: {exc.reason}", exc.fix) from None


def _reference(value: Any) -> SecretRef | None:
    """``value`` as a reference if it is one (or tries to be: a malformed one raises, a
    mistyped scheme raises with the fix); None for anything else."""
    if isinstance(value, SecretRef):
        return value
    if isinstance(value, str) and looks_like_reference_attempt(value):
        return _parse_ref(value)
    typo = mistyped_reference(value)
    if typo is not None:
        raise typo
    return None


def parse_secret_ref(value: Any) -> SecretRef:
    """A field that must hold a reference: literals are refused without echoing them."""
    ref = _reference(value)
    if ref is not None:
        return ref
    if value is None or value == "":
        raise fail(
            "secret_reference", "a secret reference is required here", f"write {REFERENCE_HELP}"
        )
    raise fail(
        "literal_secret",
        "literal secret: secrets must be references, not values",
        suggest_reference("secret", value),
    )


def parse_maybe_secret(value: Any) -> SecretRef | str:
    """A value that may be plain (a client id, a username) or a reference."""
    ref = _reference(value)
    if ref is not None:
        return ref
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise fail("string_type", f"expected a string, got {describe(value)}", "write a string")
    return str(value)


SecretRefField = Annotated[
    SecretRef,
    PlainValidator(parse_secret_ref),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({**_REF_SCHEMA, "description": f"A secret reference: {REFERENCE_HELP}."}),
]
MaybeSecret = Annotated[
    SecretRef | str,
    PlainValidator(parse_maybe_secret),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]

# --- URLs ---------------------------------------------------------------------------------

_HTTP_URL = re.compile(r"https?://[^\s/?#@]+(:\d+)?(/[^\s?#]*)?", re.IGNORECASE)


def parse_http_url(value: Any) -> str:
    """An http(s) URL with a host, no credentials, query or fragment; trailing '/' dropped."""
    fix = (
        "write a full URL such as https://api.airbyte.com/v1 or http://localhost:8000/api/public/v1"
    )
    if not isinstance(value, str):
        raise fail("url", f"expected a URL, got {describe(value)}", fix)
    if "@" in value.split("//", 1)[-1].split("/", 1)[0]:
        raise fail(
            "literal_secret", "the URL carries credentials", "remove user:password@ and use auth:"
        )
    if not _HTTP_URL.fullmatch(value):
        raise fail("url", f"invalid URL {describe(value)}", fix)
    return value.rstrip("/")


def parse_config_api_url(value: Any) -> str:
    """``auto`` (detect), ``none`` (Cloud: no config API), or the config API's base URL."""
    if isinstance(value, str) and value.strip().lower() in ("auto", "none"):
        return value.strip().lower()
    try:
        return parse_http_url(value)
    except PydanticCustomError:
        raise fail(
            "url",
            f"expected auto, none or a URL, got {describe(value)}",
            "write auto (detect), none (Airbyte Cloud) or e.g. http://localhost:8000/api/v1 "
            "(http://localhost:8000/api works too)",
        ) from None


ConfigApiUrl = Annotated[
    str,
    PlainValidator(parse_config_api_url),
    WithJsonSchema(
        {
            "type": "string",
            "examples": [
                "auto",
                "none",
                "http://localhost:8000/api/v1",
                "http://localhost:8000/api",
            ],
        }
    ),
]

HttpUrl = Annotated[
    str,
    PlainValidator(parse_http_url),
    WithJsonSchema({"type": "string", "format": "uri", "pattern": "^https?://"}),
]

_DB_URL = re.compile(r"[A-Za-z][A-Za-z0-9]*(\+[A-Za-z0-9_]+)?://\S*")


def parse_database_url(value: Any) -> SecretRef | str:
    """A SQLAlchemy-style URL without a password, or a reference to the whole URL."""
    if isinstance(value, SecretRef):
        return value
    if isinstance(value, str) and looks_like_reference_attempt(value):
        return _parse_ref(value)
    fix = (  # the one type of store.url (SQLite, PostgreSQL) and of warehouses (any)
        "write a URL like sqlite:///path/to/metadata.db or postgresql+psycopg://user@host/db; "
        "a warehouse may also be duckdb:///warehouse.duckdb"
    )
    if not isinstance(value, str) or not _DB_URL.fullmatch(value):
        raise fail("database_url", f"invalid database URL {describe(value)}", fix)
    netloc = value.split("://", 1)[1].split("/", 1)[0]
    userinfo = netloc.rpartition("@")[0]
    if ":" in userinfo:
        raise fail(
            "literal_secret",
            "literal secret: the database URL embeds a password",
            "remove the password from the URL and set `password: env:NAME` beside it",
        )
    host = netloc.rpartition("@")[2]
    port = host.rpartition("]")[2] if host.startswith("[") else host  # [::1]:5432
    if ":" in port:
        digits = port.rpartition(":")[2]
        if not (digits.isdigit() and 0 < int(digits) < 65536):
            raise fail(
                "database_url",
                f"invalid database URL {describe(value)}: its port {digits!r} is not a "
                "number from 1 to 65535",
                fix,
            )
    return value


DatabaseUrl = Annotated[
    SecretRef | str,
    PlainValidator(parse_database_url),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^([A-Za-z][A-Za-z0-9]*(\\+[A-Za-z0-9_]+)?://|(env|file|aws-sm|vault):)",
            "examples": ["duckdb:///warehouse.duckdb", "postgresql://loader@db/analytics"],
        }
    ),
]

# --- names --------------------------------------------------------------------------------

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
_NAME = re.compile(NAME_PATTERN)


def parse_name(value: Any) -> str:
    """Step and pipeline names: they become task ids, file names and metric labels."""
    if not isinstance(value, str):
        raise fail(
            "name", f"a name must be a string, got {describe(value)}", "write a name like crm_users"
        )
    if not _NAME.fullmatch(value):
        raise fail(
            "name", f"{describe(value)} is not a valid name: {_name_problem(value)}", _NAME_FIX
        )
    return value


_NAME_FIX = "write a name like crm_users: a letter or digit, then letters, digits, '_', '.' or '-'"
_NAME_CHARS = re.compile(r"[A-Za-z0-9_.-]")


def _name_problem(value: str) -> str:
    """Why ``value`` is not a name, in words (it does not match ``NAME_PATTERN``)."""
    if not value:
        return "it is empty"
    bad = sorted({c for c in value if not _NAME_CHARS.fullmatch(c)})
    if bad:
        shown = ", ".join("a space" if c == " " else repr(c) for c in bad)
        return f"it contains {shown}"
    if len(value) > 100:
        return f"it is {len(value)} characters long, at most 100 are allowed"
    return "it must start with a letter or a digit"


Name = Annotated[
    str, PlainValidator(parse_name), WithJsonSchema({"type": "string", "pattern": NAME_PATTERN})
]


def parse_connection(value: Any) -> str:
    """A connection name or id; must not be empty."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise fail(
            "connection", f"expected a connection name or id, got {describe(value)}", "quote it"
        )
    text = str(value).strip()
    if not text:
        raise fail(
            "connection",
            "connection is empty: it must be a connection name or id",
            "copy the connection's name or id from Airbyte (luigi-airbyte jobs list shows them)",
        )
    return text


ConnectionRef = Annotated[
    str, PlainValidator(parse_connection), WithJsonSchema({"type": "string", "minLength": 1})
]

# --- listening address --------------------------------------------------------------------

_LISTEN = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})")
LISTEN_FIX = "write HOST:PORT, e.g. 127.0.0.1:8711 (an IPv6 host in brackets: [::1]:8711)"


def parse_listen_address(value: Any) -> str:
    """``HOST:PORT`` where a receiver listens (an IPv6 host in brackets), port 0-65535."""
    text = value.strip() if isinstance(value, str) else value
    match = _LISTEN.fullmatch(text) if isinstance(text, str) else None
    if match is None or int(match.group(2)) > 65535:
        raise fail("listen_address", f"{describe(value)} is not HOST:PORT", LISTEN_FIX)
    return str(text)


ListenAddress = Annotated[
    str,
    PlainValidator(parse_listen_address),
    WithJsonSchema(
        {"type": "string", "pattern": f"^{_LISTEN.pattern}$", "examples": ["127.0.0.1:8711"]}
    ),
]
"""``HOST:PORT`` (an IPv6 host in brackets), for ``webhook.listen``."""

# --- tolerance ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tolerance:
    """How far a warehouse count may differ from Airbyte's: ``rows`` or ``percent``."""

    rows: int | None = None
    percent: float | None = None

    def allows(self, expected: int, actual: int) -> bool:
        """True when ``actual`` is within tolerance of ``expected``."""
        diff = abs(expected - actual)
        if self.percent is not None:
            return diff <= expected * self.percent / 100
        return diff <= (self.rows or 0)

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.rows or 0)


_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")
TOLERANCE_FIX = 'write a number of rows (0, 10) or a percentage string ("1%", "0.5%")'


def parse_tolerance(value: Any) -> Tolerance:
    if isinstance(value, Tolerance):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return Tolerance(rows=value)
    if isinstance(value, str):
        m = _PERCENT.fullmatch(value.strip())
        if m and float(m.group(1)) <= 100:
            return Tolerance(percent=float(m.group(1)))
        if value.strip().isdigit():
            return Tolerance(rows=int(value.strip()))
    raise fail("tolerance", f"invalid tolerance {describe(value)}", TOLERANCE_FIX)


ToleranceField = Annotated[
    Tolerance,
    PlainValidator(parse_tolerance),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": r"^\d+(\.\d+)?%$"},
            ]
        }
    ),
]

# --- non-empty collections -----------------------------------------------------------------

_EMPTY = {
    "steps": ("a pipeline needs at least one step", "add a step, e.g. - sync: crm"),
    "pipelines": ("the file declares no pipelines", "add one: pipelines: <name>: {owner, steps}"),
    "argv": ("argv is empty", "write the program and its arguments, e.g. [python, report.py]"),
}


def non_empty(what: str) -> AfterValidator:
    """Reject an empty collection *after* its items validated.

    A length constraint (``min_length``) is also reported when items fail, which
    would add a bogus "needs at least one" next to the real problem.
    """
    message, fix = _EMPTY[what]

    def check(value: Any) -> Any:
        if len(value) == 0:
            raise fail("empty", message, fix)
        return value

    return AfterValidator(check)


# --- alert routes, cron, spark conf -------------------------------------------------------

ALERT_SCHEMES = ("webhook", "slack", "cloudwatch", "jsonl", "console")
_LOG_GROUP = re.compile(r"[./#A-Za-z0-9_-]{1,512}")


def parse_alert_route(value: Any) -> str:
    """``webhook:<URL or reference>``, ``slack:<reference>``, ``cloudwatch:<group>``,
    ``jsonl:<path>``, ``console``.

    A route without a reference is checked by `parse_sink_uri`, the same code that builds
    the route at run time, so a route that validates is a route that ``run`` accepts.
    """
    fix = (
        "write webhook:https://..., webhook:env:NAME, cloudwatch:/log/group, jsonl:/path or console"
    )
    if not isinstance(value, str):
        raise fail("alert_route", f"expected an alert route, got {describe(value)}", fix)
    scheme, _, target = value.partition(":")
    if scheme == "mailto" or ("@" in value and scheme not in ALERT_SCHEMES):
        raise fail(
            "alert_route",
            "alerts go to a role's channel, not a person's mailbox",
            "route the owner role to a team webhook or log group, e.g. webhook:env:TEAM_WEBHOOK",
        )
    if scheme not in ALERT_SCHEMES:
        close = mistyped_scheme(value, ALERT_SCHEMES)
        hint = f"; did you mean '{close[1]}:'?" if close else ""
        raise fail("alert_route", f"unknown alert route {describe(value)}{hint}", fix)
    if scheme == "console":
        _check_sink(value)
        return value
    if not target:
        raise fail("alert_route", f"{scheme}: needs a target", fix)
    is_ref = looks_like_reference_attempt(target)
    if scheme in ("webhook", "slack") and not is_ref:
        typo = mistyped_reference(target)
        if typo is not None:
            raise typo
    if scheme == "webhook" and not is_ref and not re.fullmatch(r"https?://\S+", target):
        raise fail("alert_route", "webhook: needs an http(s) URL or a secret reference", fix)
    if scheme in ("webhook", "slack") and is_ref:
        _check_resolved_route(scheme, _parse_ref(target))
        return value
    if scheme == "slack":
        raise fail(
            "alert_route",
            "a Slack webhook URL embeds a secret, so slack: takes a reference",
            "write slack:env:SLACK_WEBHOOK_URL (or file:/aws-sm:/vault:)",
        )
    if scheme == "cloudwatch" and not _LOG_GROUP.fullmatch(target.partition("?")[0]):
        raise fail(
            "alert_route", "cloudwatch: needs a log group name like /luigi-airbyte/alerts", fix
        )
    _check_sink(value)
    return value


def _check_resolved_route(scheme: str, ref: SecretRef) -> None:
    """A route given as ``env:NAME`` whose variable is set is checked as ``run`` builds
    it (``parse_sink_uri`` on the resolved URL), so a route ``run`` would refuse fails
    here, not at 2 a.m. with its alert lost. The URL is never echoed: it may be a secret.

    ``file:``, ``aws-sm:`` and ``vault:`` routes, and an unset variable, are resolved at
    run time only (preflight): a relative file is known only against the pipeline file's
    folder, and the stores need credentials and the network, which validation never uses.
    """
    if ref.scheme != "env" or ref.key:
        return
    url = os.environ.get(ref.location, "")
    if not url:
        return
    try:
        parse_sink_uri(f"{scheme}:{url}")
    except SinkURIError as exc:
        raise fail(
            "alert_route",
            f"{ref} holds a URL that `run` would refuse: {exc.message}",
            f"{exc.fix} in {ref.location}",
        ) from None


def _check_sink(value: str) -> None:
    try:
        parse_sink_uri(value)
    except SinkURIError as exc:
        raise fail("alert_route", exc.message, exc.fix) from None


AlertRoute = Annotated[
    str,
    PlainValidator(parse_alert_route),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^(webhook:|slack:|cloudwatch:|jsonl:|console)",
            "examples": [
                "webhook:env:TEAM_WEBHOOK_URL",
                "slack:env:SLACK_WEBHOOK_URL",
                "cloudwatch:/luigi-airbyte/alerts",
            ],
        }
    ),
]

_CRON_FIELD = re.compile(r"[\d*/,?LW#A-Za-z-]+")
_CRON_MACROS = ("@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (name, lowest, highest, names usable instead of numbers)
_CRON_RANGES: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)


def _cron_field_problem(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> str:
    """Why one cron field is wrong ("" when it is fine): values in range, steps above zero."""
    for item in text.split(","):
        base, slash, step = item.partition("/")
        if slash and not (step.isdigit() and int(step) > 0):
            return f"{name} step {step!r} must be a whole number above zero"
        if base in ("*", "?"):
            continue
        ends = base.split("-")
        if len(ends) > 2 or not all(ends):
            return f"{name} {item!r} is not a value or a range like 1-5"
        for end in ends:
            word = end.upper().rstrip("LW").split("#")[0] or end.upper()
            if word in names:
                continue
            if word.isdigit():
                if not low <= int(word) <= high:
                    return f"{name} {int(word)} is out of range {low}-{high}"
                continue
            if word in ("L", "W", "LW"):
                continue
            return f"{name} {end!r} is not a number" + (
                f" or one of {', '.join(names)}" if names else ""
            )
    return ""


def parse_cron(value: Any) -> str:
    """Five cron fields (each value in its range) or a macro like @daily."""
    fix = 'write five fields "minute hour day month weekday", e.g. "0 2 * * *", or @daily'
    if not isinstance(value, str):
        raise fail("cron", f"expected a cron expression, got {describe(value)}", fix)
    text = value.strip()
    if text in _CRON_MACROS:
        return text
    fields = text.split()
    if len(fields) != 5 or not all(_CRON_FIELD.fullmatch(f) for f in fields):
        raise fail("cron", f"invalid cron expression {describe(value)}", fix)
    wrong = [
        problem
        for field, spec in zip(fields, _CRON_RANGES, strict=True)
        if (problem := _cron_field_problem(field, *spec))
    ]
    if wrong:
        raise fail(
            "cron",
            f"invalid cron expression {describe(value)}: {'; '.join(wrong)}",
            'minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-7; e.g. "0 2 * * *"',
        )
    return text


Cron = Annotated[
    str, PlainValidator(parse_cron), WithJsonSchema({"type": "string", "examples": ["0 2 * * *"]})
]


def parse_scalar_text(value: Any) -> str:
    """Spark conf and env values: strings, numbers or booleans, kept as strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise fail(
        "string_type",
        f"expected a string, number or boolean, got {describe(value)}",
        "write a scalar",
    )


ScalarText = Annotated[
    str,
    PlainValidator(parse_scalar_text),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]
