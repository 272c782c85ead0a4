"""The client's one send loop: every request, its retries and its errors, decided once.

``SendLoop._send`` applies the ``RetryPolicy`` (never resending a ``POST /jobs`` that may
have reached the server), turns error answers into the luigi-airbyte error tree and
translates httpx exceptions at this edge. ``AirbyteClient`` supplies the HTTP client,
the policies and the redactor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx

from luigi_airbyte.airbyte._errors import (
    Redactor,
    error_from_response,
    raise_if_cut_short,
    transport_error,
)
from luigi_airbyte.airbyte._http import _iso, _sent
from luigi_airbyte.airbyte._retry import RETRYABLE_STATUSES, RetryPolicy
from luigi_airbyte.backoff import parse_retry_after
from luigi_airbyte.errors import AirbyteAPIError, JobCreateUncertainError

logger = logging.getLogger("luigi_airbyte.airbyte")


@dataclass
class _Call:
    """One logical request across its tries: what the retry decisions need."""

    method: str
    path: str
    policy: RetryPolicy
    idempotent: bool
    create_job_for: str | None
    started: float = 0.0
    started_wall: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    attempt: int = 0
    throttled: int = 0

    def __post_init__(self) -> None:
        self.started = self.policy.clock()

    def log_retry(self, reason: str, delay: float) -> None:
        logger.warning(
            "retrying %s %s: attempt %d of %d failed (%s); next try in %.2f s",
            self.method,
            self.path,
            self.attempt,
            self.policy.max_attempts,
            reason,
            delay,
        )


class SendLoop:
    """``_send`` and its retry decisions; the client provides what is declared here."""

    _retry: RetryPolicy
    _no_retry: RetryPolicy
    _timeout: httpx.Timeout
    _redact: Redactor
    throttled_count: int

    @property
    def _http(self) -> httpx.Client:  # pragma: no cover - the client overrides it
        raise NotImplementedError

    def _auth_hint(self) -> str:  # pragma: no cover - the client overrides it
        raise NotImplementedError

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool,
        retry: bool = True,
        timeout: httpx.Timeout | None = None,
        hints: Mapping[int | str, str] | None = None,
        create_job_for: str | None = None,
    ) -> httpx.Response:
        """Send one logical request, retrying only what is safe; raise our errors."""
        policy = self._retry if retry else self._no_retry
        call = _Call(method, httpx.URL(url).path, policy, idempotent, create_job_for)
        while True:
            call.attempt += 1
            request = self._http.build_request(
                method,
                url,
                params=params,
                json=json,
                timeout=timeout if timeout is not None else self._timeout,
            )
            t0 = time.perf_counter()
            try:
                response = self._http.send(request)
                raise_if_cut_short(response, request)
            except httpx.HTTPError as exc:
                delay = self._transport_retry(call, exc, request)
            except AirbyteAPIError as exc:
                # Raised by the auth flow at the token endpoint: ours was not sent.
                delay = self._token_retry(call, exc)
            else:
                status = response.status_code
                level = logging.DEBUG if response.is_success and idempotent else logging.INFO
                ms = (time.perf_counter() - t0) * 1000
                logger.log(level, "HTTP %s %s -> %d (%.0f ms)", method, call.path, status, ms)
                if response.is_success:
                    return response
                delay = self._status_retry(call, response, hints)
                response.close()
            policy.sleep(delay)

    def _transport_retry(self, call: _Call, exc: httpx.HTTPError, request: httpx.Request) -> float:
        """The delay before retrying a request the transport failed; raise when not safe."""
        sent = _sent(exc, request)
        if call.policy.is_retryable_error(exc, sent=sent, idempotent=call.idempotent):
            delay = call.policy.next_delay(call.attempt, call.started)
            if delay is not None:
                call.log_retry(type(exc).__name__, delay)
                return delay
        if call.create_job_for is not None and sent:
            raise self._uncertain(
                call.path, call.create_job_for, call.started_wall, type(exc).__name__
            ) from exc
        note = f"gave up after {call.attempt} attempts" if call.attempt > 1 else ""
        raise transport_error(
            exc,
            method=call.method,
            path=call.path,
            target=f"{request.url.scheme}://{request.url.netloc.decode('ascii')}",
            redact=self._redact,
            note=note,
        ) from exc

    def _token_retry(self, call: _Call, exc: AirbyteAPIError) -> float:
        """The delay before retrying after the token endpoint failed; re-raise when none."""
        if exc.status_code in RETRYABLE_STATUSES:
            delay = call.policy.next_delay(call.attempt, call.started)
            if delay is not None:
                reason = f"token endpoint answered {exc.status_code}"
                call.log_retry(reason, delay)
                return delay
        raise exc

    def _status_retry(
        self, call: _Call, response: httpx.Response, hints: Mapping[int | str, str] | None
    ) -> float:
        """The delay before retrying an error answer; raise our error when it is final."""
        status = response.status_code
        policy = call.policy
        wait = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429 and wait is None and call.idempotent:
            # Throttling: an operator limits this user, with no hint how long.
            call.throttled += 1
            self.throttled_count += 1
            delay = policy.next_throttle_delay(call.throttled, call.started)
            if delay is not None:
                logger.warning(
                    "throttled by Airbyte: %s %s answered 429 without Retry-After "
                    "(%d in a row); backing off %.1f s (ceiling %.0f s per wait, "
                    "%.0f s in all)",
                    call.method,
                    call.path,
                    call.throttled,
                    delay,
                    policy.throttle_max_delay,
                    policy.throttle_max_elapsed,
                )
                return delay
        elif policy.is_retryable_status(status, idempotent=call.idempotent):
            delay = policy.next_delay(call.attempt, call.started, wait)
            if delay is not None:
                call.log_retry(f"HTTP {status}", delay)
                return delay
        error = error_from_response(
            response,
            method=call.method,
            path=call.path,
            redact=self._redact,
            hints=hints,
            auth_hint=self._auth_hint(),
            attempts=call.attempt,
            throttled=call.throttled,
        )
        if call.create_job_for is not None and status >= 500:
            raise self._uncertain(
                call.path, call.create_job_for, call.started_wall, f"HTTP {status}"
            ) from error
        raise error

    @staticmethod
    def _uncertain(
        path: str, connection_id: str, started: datetime, reason: str
    ) -> JobCreateUncertainError:
        return JobCreateUncertainError(
            f"POST {path} for connection {connection_id} got no clear answer ({reason}): "
            "a job may have been created. Do not post again; list the connection's jobs "
            f"created since about {_iso(started)} (allow for clock skew) and attach to the new one",
            method="POST",
            path=path,
        )
