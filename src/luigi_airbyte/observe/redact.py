"""Secret redaction for events, alerts and log records.

Modelled on Airflow's secrets masker (exact registered values, substring key matching,
a ``logging.Filter``), with two deliberate differences:

* values nested deeper than ``max_depth`` are **replaced**, not passed through unredacted;
* exception text is formatted here (chained causes, traceback source lines included) and
  redacted as a whole, so a registered secret in a traceback source line is masked too.

Limits (documented in docs/observability.md): a secret split across two strings, transformed
in a way not listed in :meth:`Redactor.register` (hashed, re-encoded, sliced), or base64-encoded
inside a larger blob at an unaligned offset cannot be recognised.
"""

from __future__ import annotations

import base64
import enum
import json
import logging
import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import PurePath
from typing import Any
from urllib.parse import quote, quote_plus

from luigi_airbyte.masking import MASK, MIN_SECRET_LENGTH, SECRET_FIELD_NAMES
from luigi_airbyte.observe.events import Event

__all__ = [
    "DEFAULT_SENSITIVE_KEYS",
    "REDACTED",
    "RedactingFilter",
    "Redactor",
    "default_redactor",
    "install_redaction",
]

logger = logging.getLogger(__name__)

REDACTED = MASK
REDACTION_FAILED = "<redaction-failed>"

#: Key names (substring, case-insensitive, ``-`` treated as ``_``) whose values are always masked.
DEFAULT_SENSITIVE_KEYS: frozenset[str] = SECRET_FIELD_NAMES

DEFAULT_MIN_LENGTH = MIN_SECRET_LENGTH
DEFAULT_MAX_DEPTH = 8

# Scalars that cannot hold a secret in a form the redactor would not see as a string.
_SAFE_SCALARS = (bool, int, float, Decimal, datetime, date, time, timedelta, uuid.UUID, type(None))

# Patterns that catch credentials nobody registered: bearer tokens, JWTs, header lines,
# passwords inside URLs, and Slack webhook paths (the path *is* the credential).
# Each has a lowercase trigger that must occur in the text first: a cheap ``in`` check that
# keeps long log lines fast. Repeats are bounded so adversarial text stays near-linear.
_STATIC_PATTERNS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    # scheme://user:password@host -> scheme://user:***@host
    (
        "@",
        re.compile(
            r"(?<![a-zA-Z0-9+.\-])([a-zA-Z][a-zA-Z0-9+.\-]{0,30}://[^:/?#@\s]{0,256}:)[^@/\s]+(?=@)"
        ),
        r"\1" + REDACTED,
    ),
    # Authorization: Bearer xyz / "authorization": "Basic abc" / Proxy-Authorization=...
    (
        "authorization",
        re.compile(r"(?i)\b((?:proxy-)?authorization[\"']?\s{0,8}[:=]\s{0,8}[\"']?)[^\"'\r\n,}]+"),
        r"\1" + REDACTED,
    ),
    # Bearer <token>
    ("bearer", re.compile(r"(?i)\b(bearer\s{1,8})[A-Za-z0-9._~+/=\-]{8,}"), r"\1" + REDACTED),
    # Basic <base64>, only when it looks like base64 (has a digit, + / or =)
    (
        "basic",
        re.compile(
            r"(?i)\b(basic\s{1,8})(?=[A-Za-z0-9+/]{0,4096}[0-9+/=])[A-Za-z0-9+/]{12,}={0,2}"
        ),
        r"\1" + REDACTED,
    ),
    # JWT: base64url header starting with '{"' then payload then signature
    (
        "eyj",
        re.compile(r"\beyJ[A-Za-z0-9_\-]{5,512}\.[A-Za-z0-9_\-]{5,8192}\.[A-Za-z0-9_\-]*"),
        REDACTED,
    ),
    # Slack incoming-webhook URLs
    (
        "hooks.slack.com",
        re.compile(r"(https://hooks\.slack\.com/)[A-Za-z0-9/_\-]+"),
        r"\1" + REDACTED,
    ),
)


def _key_regex(keys: Iterable[str]) -> str:
    """A regex alternation for sensitive key names, letting ``_`` match ``-`` or nothing."""
    parts = sorted({re.escape(k).replace("_", "[_-]?") for k in keys}, key=len, reverse=True)
    return "|".join(parts)


def _kv_patterns(keys: Iterable[str]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Patterns for ``password=x`` (form bodies, log lines) and ``"password": "x"`` (JSON, repr)."""
    alt = _key_regex(keys)
    # Bounded repeats: unbounded ones make a long word (a base64 blob) cost O(n^2).
    name = rf"[\w.\-]{{0,48}}(?:{alt})[\w.\-]{{0,48}}"
    equals = re.compile(rf"(?i)\b({name}\s*=\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&)}}\]]+)")
    quoted = re.compile(
        rf"(?i)([\"']{name}[\"']\s*:\s*)(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^\s,}}\]]+)"
    )
    return equals, quoted


def _mask_kv(match: re.Match[str]) -> str:
    value = match.group(2)
    if value[:1] in {'"', "'"}:
        return f"{match.group(1)}{value[0]}{REDACTED}{value[0]}"
    return f"{match.group(1)}{REDACTED}"


def _variants(value: str, min_length: int) -> set[str]:
    """The forms a secret commonly takes in logs and payloads."""
    out = {value}
    raw = value.encode("utf-8")
    out.add(quote(value, safe=""))
    out.add(quote(value))
    out.add(quote_plus(value))
    for enc in (base64.b64encode(raw).decode("ascii"), base64.urlsafe_b64encode(raw).decode()):
        out.add(enc)
        out.add(enc.rstrip("="))
    out.add(json.dumps(value)[1:-1])  # \n, \" and \uXXXX escapes as in JSON bodies
    out.add(repr(value)[1:-1])  # escapes as in a repr() inside a traceback or a dict
    if "\n" in value:  # PEM keys etc.: a single line may be printed on its own
        out.update(line.strip() for line in value.splitlines())
    return {v for v in out if len(v) >= min_length}


_MEMO_SIZE = 4096
_MEMO_MAX_CHARS = 256


class Redactor:
    """Masks registered secret values, values under sensitive keys and credential-looking text.

    Thread-safe. ``register`` may be called at any time (the secrets layer registers every
    resolved secret); redaction never raises, it returns ``"<redaction-failed>"`` instead.
    """

    def __init__(
        self,
        *,
        sensitive_keys: Iterable[str] = DEFAULT_SENSITIVE_KEYS,
        extra_sensitive_keys: Iterable[str] = (),
        min_length: int = DEFAULT_MIN_LENGTH,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        keys = {k.lower().replace("-", "_") for k in (*sensitive_keys, *extra_sensitive_keys)}
        self._sensitive_keys: frozenset[str] = frozenset(k for k in keys if k)
        self.min_length = min_length
        self.max_depth = max_depth
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._dirty = False
        # Answers for short strings, tagged with the secrets' generation they were made
        # under: an event's keys, name, run id and pipeline repeat in every event (a fresh
        # run of 1,000 syncs redacts 1,000 skip events). ``register`` moves the generation
        # on, so an answer made before a secret was added is never reused.
        self._generation = 0
        self._memo: dict[str, tuple[int, str]] = {}
        self._sensitive_memo: dict[str, bool] = {}
        self._warned_short = False
        self._kv_equals, self._kv_quoted = _kv_patterns(self._sensitive_keys)
        # The longest piece of each key ("api_key" -> "api"): if none occurs, no key can.
        self._key_triggers = frozenset(
            max(k.replace("-", "_").split("_"), key=len) for k in self._sensitive_keys
        )

    # -- registration -------------------------------------------------------------------

    def register(self, value: str | bytes | None) -> bool:
        """Mask ``value`` (and its URL-encoded, base64 and escaped forms) from now on.

        Values shorter than ``min_length`` are ignored, with one warning per redactor:
        masking ``"abc"`` everywhere would destroy logs while protecting little.
        Returns whether the value was registered.
        """
        if value is None:
            return False
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        value = str(value)
        if not value.strip():
            return False
        if len(value) < self.min_length:
            with self._lock:
                warn, self._warned_short = not self._warned_short, True
            if warn:
                logger.warning(
                    "a secret value of %d characters was not registered for redaction "
                    "(values shorter than %d characters are never masked); use a longer secret",
                    len(value),
                    self.min_length,
                )
            return False
        new = _variants(value, self.min_length)
        with self._lock:
            if not new <= self._secrets:
                self._secrets |= new
                self._dirty = True  # compiled on next use: bulk registration stays linear
                self._generation += 1  # every remembered answer is stale
        return True

    def __len__(self) -> int:
        """Number of registered secret forms (variants included)."""
        with self._lock:
            return len(self._secrets)

    # -- queries ------------------------------------------------------------------------

    def is_sensitive_key(self, key: object) -> bool:
        """True if a value stored under ``key`` must be masked whatever it looks like."""
        if not isinstance(key, str):
            return False
        found = self._sensitive_memo.get(key)
        if found is None:
            norm = key.strip().lower().replace("-", "_")
            found = any(s in norm for s in self._sensitive_keys)
            if len(self._sensitive_memo) >= _MEMO_SIZE:
                self._sensitive_memo.clear()
            self._sensitive_memo[key] = found
        return found

    # -- redaction ----------------------------------------------------------------------

    def _compiled(self) -> re.Pattern[str] | None:
        """One alternation of all secret forms, longest first so a longer form wins."""
        if self._dirty:
            with self._lock:
                if self._dirty:
                    ordered = sorted(self._secrets, key=len, reverse=True)
                    self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
                    self._dirty = False
        return self._pattern

    def redact_str(self, text: str) -> str:
        """Mask registered values and credential-looking substrings in ``text``."""
        if type(text) is not str or len(text) > _MEMO_MAX_CHARS:
            return self._redact_text(text)
        generation = self._generation  # read first: a secret added meanwhile makes it stale
        found = self._memo.get(text)
        if found is not None and found[0] == generation:
            return found[1]
        out = self._redact_text(text)
        if out != REDACTION_FAILED:
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[text] = (generation, out)
        return out

    def _redact_text(self, text: str) -> str:
        try:
            pattern = self._compiled()
            out = pattern.sub(REDACTED, text) if pattern is not None else str(text)
            lower = out.lower()
            for trigger, regex, repl in _STATIC_PATTERNS:
                if trigger in lower:
                    out = regex.sub(repl, out)
            if any(t in lower for t in self._key_triggers):
                if "=" in out:
                    out = self._kv_equals.sub(_mask_kv, out)
                if ":" in out:
                    out = self._kv_quoted.sub(_mask_kv, out)
            return out
        except Exception:  # noqa: BLE001 - never leak because redaction itself broke
            return REDACTION_FAILED

    def redact(self, value: Any, *, key: object = None) -> Any:
        """Return a redacted copy of ``value``.

        Mappings, lists, tuples and sets are walked; strings are scanned; safe scalars
        (numbers, dates, UUIDs, None) pass through; anything else becomes its redacted
        ``str()`` so a custom ``__str__`` or ``__repr__`` cannot leak later.
        """
        try:
            return self._redact(value, 0, self.is_sensitive_key(key))
        except Exception:  # noqa: BLE001 - never leak because redaction itself broke
            return REDACTION_FAILED

    def redact_mapping(self, mapping: Mapping[Any, Any]) -> dict[Any, Any]:
        out = self.redact(mapping)
        return out if isinstance(out, dict) else {"value": out}

    def redact_event(self, event: Event) -> Event:
        """A copy of ``event`` that is safe to hand to any sink."""
        return Event(
            name=self.redact_str(event.name),
            fields=self.redact_mapping(event.fields),
            at=event.at,
            level=event.level,
        )

    def _redact(self, value: Any, depth: int, sensitive: bool) -> Any:
        if sensitive:
            return None if value is None else REDACTED
        if depth > self.max_depth:
            return REDACTED
        if isinstance(value, str):
            return self.redact_str(value)
        if isinstance(value, enum.Enum):
            return self._redact(value.value, depth, False)
        if isinstance(value, _SAFE_SCALARS):
            return value
        if isinstance(value, Mapping):
            return {
                (self.redact_str(k) if isinstance(k, str) else k): self._redact(
                    v, depth + 1, self.is_sensitive_key(k)
                )
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple, set, frozenset)):
            items = [self._redact(v, depth + 1, False) for v in value]
            return tuple(items) if isinstance(value, tuple) else items
        if isinstance(value, (bytes, bytearray)):
            return self.redact_str(bytes(value).decode("utf-8", errors="replace"))
        if isinstance(value, PurePath):
            return self.redact_str(str(value))
        return self.redact_str(str(value))


# -- logging ------------------------------------------------------------------------------

_STANDARD_RECORD_ATTRS = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__
) | {"message", "asctime", "taskName"}


class RedactingFilter(logging.Filter):
    """Redacts a record's message, %-args, ``extra`` fields, exception and stack text.

    Attach it to handlers (a filter on a logger does not see records propagated from
    child loggers). It always returns True: it masks, it never drops records.
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor if redactor is not None else default_redactor()
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._redact_record(record)
        except Exception:  # noqa: BLE001 - masking failed: drop the content, keep the record
            record.msg, record.args = REDACTION_FAILED, None
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True

    def _redact_record(self, record: logging.LogRecord) -> None:
        r = self.redactor
        msg = record.msg if isinstance(record.msg, str) else r.redact(record.msg)
        if record.args and isinstance(msg, str):
            # A template with arguments holds placeholders: masking "token=%s" itself would
            # leave fewer placeholders than arguments. The arguments are masked below and
            # the formatted text is checked whole.
            record.msg = msg
        else:
            record.msg = r.redact_str(msg) if isinstance(msg, str) else str(msg)
        if isinstance(record.args, Mapping):
            record.args = r.redact_mapping(record.args)
        elif isinstance(record.args, tuple):
            record.args = tuple(r.redact(a) for a in record.args)
        # Safety net: a secret assembled by formatting (split across msg and args, or
        # produced by a %r of a redacted-away type) is caught on the final text.
        try:
            formatted = record.getMessage()
        except (TypeError, ValueError):
            formatted = None
        if formatted is not None:
            safe = r.redact_str(formatted)
            if safe != formatted:
                record.msg, record.args = safe, None
        if record.exc_info:
            text = record.exc_text or self._formatter.formatException(record.exc_info)
            record.exc_text = r.redact_str(text)
            # The exception objects still hold the raw text: handlers that render exc_info
            # themselves would bypass us, so only the redacted text is kept.
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = r.redact_str(record.exc_text)
        if record.stack_info:
            record.stack_info = r.redact_str(record.stack_info)
        for attr, value in list(record.__dict__.items()):
            # Callables (rich's ``highlighter`` extra, for instance) are behaviour, not data.
            if attr not in _STANDARD_RECORD_ATTRS and not callable(value):
                setattr(record, attr, r.redact(value, key=attr))


_default_lock = threading.Lock()
_default: Redactor | None = None


def default_redactor() -> Redactor:
    """The process-wide redactor: the secrets layer registers every resolved secret here."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Redactor()
        return _default


def install_redaction(
    logger_names: Iterable[str] = ("luigi_airbyte", "luigi", "luigi-interface", "httpx"),
    *,
    redactor: Redactor | None = None,
    handlers: Iterable[logging.Handler] = (),
    include_root_handlers: bool = True,
) -> RedactingFilter:
    """Attach one :class:`RedactingFilter` to the named loggers and to every handler they use.

    Handlers matter because a logger's filter does not see records from child loggers.
    Call it after logging is configured; give handlers created later to ``handlers`` or add
    the returned filter to them yourself. Safe to call twice (no duplicate filters).
    """
    filt = RedactingFilter(redactor)
    targets: list[logging.Logger | logging.Handler] = []
    for name in logger_names:
        lg = logging.getLogger(name)
        targets.append(lg)
        targets.extend(lg.handlers)
    if include_root_handlers:
        targets.extend(logging.getLogger().handlers)
    targets.extend(handlers)
    for target in targets:
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(filt)
    return filt
