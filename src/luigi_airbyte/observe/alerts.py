"""Alert routing by owner role.

Owners are roles, not people: ``owners:`` in the pipeline file maps a role to route URIs
(see :mod:`luigi_airbyte.observe.sinks.uri`). The router guarantees, per router instance:

* one alert per (run id, step, job id, kind), however often it is raised
  (``sent_keys``/``on_sent`` extend this across processes);
* an alert for an unknown role goes to the ``default`` role, or becomes an
  ``alert.unrouted`` error event: it is never dropped silently;
* a failed delivery is retried, then recorded as an ``alert.failed`` event;
* the alert is redacted before any route sees it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from luigi_airbyte.backoff import Backoff
from luigi_airbyte.errors import ConfigError, Problem
from luigi_airbyte.observe.events import Emitter, Event, NullEmitter, Sink
from luigi_airbyte.observe.redact import Redactor, default_redactor
from luigi_airbyte.observe.sinks.base import DeliveryError
from luigi_airbyte.observe.sinks.uri import SinkURIError, display_uri, parse_sink_uri, sink_from_uri

__all__ = ["DEFAULT_ROLE", "SEVERITIES", "Alert", "AlertResult", "AlertRouter", "Owners"]

logger = logging.getLogger(__name__)

DEFAULT_ROLE = "default"
SEVERITIES = ("info", "warning", "error", "critical")
_LEVEL = {"info": "info", "warning": "warning", "error": "error", "critical": "error"}


@dataclass(frozen=True)
class Alert:
    """Something an owner must act on. ``text`` says what failed; the router adds the rest."""

    owner_role: str
    severity: str
    title: str
    text: str
    run_id: str = ""
    step: str = ""
    job_id: str | int | None = None
    pipeline: str = ""
    links: Mapping[str, str] = field(default_factory=dict)
    kind: str = "failure"  # failure | sla | drift | rotation | ...: part of the dedup key
    airbyte_message: str = ""
    next_step: str = ""
    connection: str = ""  # the Airbyte connection's name
    connection_id: str = ""
    blocked: tuple[str, ...] = ()  # downstream steps that did not run because of this
    command: str = ""  # the one command that recovers; also quoted in next_step

    @property
    def dedup_key(self) -> str:
        """(run, step, job, kind): the same problem of the same job is alerted once."""
        job = "" if self.job_id is None else str(self.job_id)
        return "|".join((self.run_id, self.step, job, self.kind))

    def message(self) -> str:
        """The full alert text: what failed, the ids, Airbyte's message, the next step."""
        ids = [
            f"{label}: {value}"
            for label, value in (
                ("pipeline", self.pipeline),
                ("step", self.step),
                ("run", self.run_id),
                ("Airbyte job", "" if self.job_id is None else str(self.job_id)),
                ("owner", self.owner_role),
            )
            if value
        ]
        lines = [f"[{self.severity.upper()}] {self.title}", self.text]
        if ids:
            lines.append(" · ".join(ids))
        if self.connection or self.connection_id:
            both = self.connection and self.connection_id and self.connection != self.connection_id
            shown = f"{self.connection} ({self.connection_id})" if both else self.connection
            lines.append(f"Connection: {shown or self.connection_id}")
        if self.airbyte_message:
            lines.append(f"Airbyte said: {self.airbyte_message}")
        if self.blocked:
            lines.append(f"Blocked downstream: {', '.join(self.blocked)}")
        if self.next_step:
            lines.append(f"Next step: {self.next_step}")
        lines.extend(f"{label}: {url}" for label, url in self.links.items())
        return "\n".join(line for line in lines if line)

    def to_event(self) -> Event:
        return Event(
            name="alert",
            level=_LEVEL.get(self.severity, "error"),
            fields={
                "owner_role": self.owner_role,
                "severity": self.severity,
                "title": self.title,
                "text": self.message(),
                "pipeline": self.pipeline,
                "step": self.step,
                "run_id": self.run_id,
                "job_id": self.job_id,
                "kind": self.kind,
                "connection": self.connection,
                "connection_id": self.connection_id,
                "airbyte_message": self.airbyte_message,
                "blocked": list(self.blocked),
                "next_step": self.next_step,
                "command": self.command,
                "links": dict(self.links),
                "dedup_key": self.dedup_key,
            },
        )


class Owners(Mapping[str, tuple[str, ...]]):
    """Role -> route URIs, from the pipeline file's ``owners:`` block."""

    def __init__(self, routes: Mapping[str, Iterable[str]] | None = None) -> None:
        self._routes: dict[str, tuple[str, ...]] = {
            role: tuple(uris) for role, uris in (routes or {}).items()
        }

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None, *, source: str = "pipeline") -> Owners:
        """Accept ``{role: {alerts: [uri, ...]}}`` (the file form) or ``{role: [uri, ...]}``.

        Raises :class:`ConfigError` listing every bad role and URI at once.
        """
        problems: list[Problem] = []
        routes: dict[str, list[str]] = {}
        for role, value in (data or {}).items():
            where = f"owners.{role}"
            uris: Any = value.get("alerts", []) if isinstance(value, Mapping) else value
            if isinstance(uris, str):
                uris = [uris]
            if not isinstance(uris, (list, tuple)) or not all(isinstance(u, str) for u in uris):
                problems.append(
                    Problem(
                        source,
                        f"{where}.alerts",
                        "must be a list of route URIs",
                        "write alerts: [webhook:https://...]",
                    )
                )
                continue
            routes[str(role)] = list(uris)
        owners = cls(routes)
        problems.extend(owners.problems(source))
        if problems:
            raise ConfigError(problems)
        return owners

    def problems(self, source: str = "pipeline") -> list[Problem]:
        """Every unparseable route URI, as config problems."""
        out: list[Problem] = []
        for role, uris in self._routes.items():
            for i, uri in enumerate(uris):
                try:
                    parse_sink_uri(uri)
                except SinkURIError as exc:
                    out.append(exc.problem(source, f"owners.{role}.alerts[{i}]"))
        return out

    def resolve(self, role: str) -> tuple[str | None, tuple[str, ...]]:
        """(the role that will receive it, its routes); falls back to ``default``."""
        if self._routes.get(role):
            return role, self._routes[role]
        if self._routes.get(DEFAULT_ROLE):
            return DEFAULT_ROLE, self._routes[DEFAULT_ROLE]
        return None, ()

    def __getitem__(self, role: str) -> tuple[str, ...]:
        return self._routes[role]

    def __iter__(self) -> Iterator[str]:
        return iter(self._routes)

    def __len__(self) -> int:
        return len(self._routes)

    def __repr__(self) -> str:
        shown = {r: [display_uri(u) for u in uris] for r, uris in self._routes.items()}
        return f"Owners({shown!r})"


@dataclass(frozen=True)
class AlertResult:
    """What happened to one alert."""

    dedup_key: str
    role: str | None
    delivered: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    deduplicated: bool = False

    @property
    def ok(self) -> bool:
        """True if it reached every route (or had already been sent)."""
        return self.deduplicated or (bool(self.delivered) and not self.failed)


class AlertRouter:
    """Sends each :class:`Alert` to its owner role's routes, once.

    ``events`` receives ``alert.sent``, ``alert.failed``, ``alert.unrouted``,
    ``alert.fallback`` and ``alert.deduplicated`` events (the run's event bus).
    ``sent_keys``/``on_sent`` persist dedup keys (e.g. in the metadata store) so a resumed
    run does not alert again. A route is a sink; sinks are created once and reused.
    """

    def __init__(
        self,
        owners: Owners | Mapping[str, Iterable[str]],
        sink_factory: Callable[[str], Sink] | None = None,
        *,
        events: Emitter | None = None,
        redactor: Redactor | None = None,
        sent_keys: Iterable[str] = (),
        on_sent: Callable[[str], None] | None = None,
        attempts: int = 2,
        retry_delay: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.owners = owners if isinstance(owners, Owners) else Owners(owners)
        self.redactor = redactor if redactor is not None else default_redactor()
        self._factory = sink_factory or (lambda uri: sink_from_uri(uri, redactor=self.redactor))
        self.events: Emitter = events if events is not None else NullEmitter()
        self.attempts = max(1, attempts)
        self.retry_delay = retry_delay
        # retry_delay before the second try, doubling after (at most 30 s, or retry_delay).
        self._pauses = Backoff(
            base=max(0.0, retry_delay), cap=max(retry_delay, 30.0), jitter="none"
        )
        self._sleep = sleep
        self._on_sent = on_sent
        self._sent: set[str] = set(sent_keys)
        self._inflight: set[str] = set()
        self._sinks: dict[str, Sink] = {}
        self._lock = threading.Lock()

    def _emit(self, name: str, level: str, alert: Alert, **extra: Any) -> None:
        fields = {
            "owner_role": alert.owner_role,
            "title": alert.title,
            "pipeline": alert.pipeline,
            "step": alert.step,
            "run_id": alert.run_id,
            "job_id": alert.job_id,
            "kind": alert.kind,
            **extra,
        }
        try:
            self.events.emit(self.redactor.redact_event(Event(name, fields, level=level)))
        except Exception as exc:  # noqa: BLE001 - reporting about alerts must not raise either
            logger.warning("could not emit %s event: %s", name, self._safe(exc))

    def _safe(self, exc: BaseException) -> str:
        return f"{type(exc).__name__}: {self.redactor.redact_str(str(exc))}"

    def _sink(self, uri: str) -> Sink:
        with self._lock:
            sink = self._sinks.get(uri)
            if sink is None:
                sink = self._sinks[uri] = self._factory(uri)
            return sink

    def _deliver(self, uri: str, event: Event) -> str | None:
        """Send to one route with retries; returns the last error text, or None on success."""
        error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                sink = self._sink(uri)
                sink.emit(event)
                sink.flush()
                return None
            except SinkURIError as exc:
                return str(exc)  # configuration: retrying cannot help
            except Exception as exc:  # noqa: BLE001 - any sink failure becomes alert.failed
                error = f"{type(exc).__name__}: {exc}"
                permanent = (
                    isinstance(exc, DeliveryError)
                    and exc.status_code is not None
                    and 400 <= exc.status_code < 500
                    and exc.status_code not in (408, 425, 429)
                )
                if permanent:
                    break
            if attempt < self.attempts:
                self._sleep(self._pauses.delay(attempt))
        return error

    def alert(self, alert: Alert) -> AlertResult:
        """Route ``alert``; never raises. See the class docstring for the guarantees."""
        key = alert.dedup_key
        with self._lock:
            duplicate = key in self._sent or key in self._inflight
            if not duplicate:
                self._inflight.add(key)
        if duplicate:
            self._emit("alert.deduplicated", "info", alert, dedup_key=key)
            return AlertResult(key, None, deduplicated=True)
        try:
            return self._route(alert, key)
        finally:
            with self._lock:
                self._inflight.discard(key)

    def _route(self, alert: Alert, key: str) -> AlertResult:
        role, routes = self.owners.resolve(alert.owner_role)
        if role is None:
            logger.error(
                "alert %r for owner role %r was not delivered: the role has no alert routes "
                "and there is no %r role; add one under owners: in the pipeline file",
                self.redactor.redact_str(alert.title),
                alert.owner_role,
                DEFAULT_ROLE,
            )
            self._emit(
                "alert.unrouted",
                "error",
                alert,
                severity=alert.severity,
                text=alert.message(),
                reason=f"no routes for role {alert.owner_role!r} and no {DEFAULT_ROLE!r} role",
            )
            return AlertResult(key, None)
        if role != alert.owner_role:
            self._emit("alert.fallback", "warning", alert, routed_to=role)
        event = self.redactor.redact_event(alert.to_event())
        delivered: list[str] = []
        failed: list[str] = []
        for uri in routes:
            shown = display_uri(uri)
            error = self._deliver(uri, event)
            if error is None:
                delivered.append(shown)
                continue
            failed.append(shown)
            safe_error = self.redactor.redact_str(error)
            logger.error("alert %s could not be sent to %s: %s", key, shown, safe_error)
            self._emit(
                "alert.failed",
                "error",
                alert,
                route=shown,
                error=safe_error,
                attempts=self.attempts,
                severity=alert.severity,
                text=alert.message(),
            )
        if delivered:
            with self._lock:
                self._sent.add(key)
            self._emit("alert.sent", "info", alert, routes=delivered, routed_to=role)
            if self._on_sent is not None:
                try:
                    self._on_sent(key)
                except Exception as exc:  # noqa: BLE001 - persisting the key is best effort
                    logger.warning("could not persist alert dedup key %s: %s", key, self._safe(exc))
        return AlertResult(key, role, tuple(delivered), tuple(failed))

    def close(self) -> None:
        """Flush and close every route sink."""
        with self._lock:
            sinks, self._sinks = list(self._sinks.values()), {}
        for sink in sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - closing must not fail the run
                logger.warning("closing an alert route failed: %s", self._safe(exc))
