"""A canary secret over the wire: it must never reach a log line or an exception.

The world's application secret is ``CANARY-<uuid>``. A sync runs through faults (a lost
create answer, a 503 while polling) with every logger at DEBUG, then a job fails, then a
client with a wrong (also canary) secret is refused. Neither secret, nor any access token
minted for them, may appear in the captured logs or in the rendered exceptions.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable

import pytest

from integration.integration_helpers import CONNECTION, CONNECTION_ID, runner_for
from luigi_airbyte.airbyte import AirbyteClient, AirbyteClientCredentials, RetryPolicy
from luigi_airbyte.errors import AuthenticationError, SyncFailedError
from luigi_airbyte.sandbox import Sandbox
from luigi_airbyte.sync import SyncRunner

LOGGERS = ("", "luigi_airbyte", "httpx", "httpcore", "werkzeug")


def _rendered(exc: BaseException) -> str:
    """Everything an operator could see of an exception: chain, traceback, attributes."""
    parts = traceback.format_exception(type(exc), exc, exc.__traceback__)
    seen: BaseException | None = exc
    while seen is not None:
        parts += [repr(seen), str(seen), repr(vars(seen))]
        seen = seen.__cause__ or seen.__context__
    return "".join(parts)


def _client(sb: Sandbox, secret: str) -> tuple[AirbyteClient, AirbyteClientCredentials]:
    auth = AirbyteClientCredentials(sb.client_id, secret)
    client = AirbyteClient(
        url=sb.url, auth=auth, retry=RetryPolicy(base_delay=0.05, max_delay=0.5), timeout=10.0
    )
    return client, auth


def test_the_canary_secret_never_appears_in_logs_or_errors(
    start_sandbox: Callable[..., Sandbox], caplog: pytest.LogCaptureFixture
) -> None:
    canary = f"CANARY-{uuid.uuid4()}"
    wrong = f"CANARY-{uuid.uuid4()}"
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    sb = start_sandbox(secret=canary, job_seconds=0.3)
    sb.set_faults(
        http=[
            {"endpoint": "POST /jobs", "drop_connection": True, "nth": [1]},
            {"endpoint": "GET /jobs/{jobId}", "status": 503, "nth": [1]},
        ]
    )
    client, auth = _client(sb, canary)
    wrong_client, wrong_auth = _client(sb, wrong)
    secrets: set[str] = {canary, wrong}
    try:
        # 1. a sync through faults, authenticated with the canary
        runner = runner_for(client)
        assert runner.run(CONNECTION_ID, "canary/1").attached_how == "reconciled"
        secrets.update(auth.secret_values())  # the canary and the access token(s)

        # 2. a failed job
        sb.set_faults(engine={"jobs": {CONNECTION: {"fail_attempts": 9}}})
        with pytest.raises(SyncFailedError) as failed:
            runner.run(CONNECTION_ID, "canary/2")
        secrets.update(auth.secret_values())

        # 3. a refused credential
        with pytest.raises(AuthenticationError) as refused:
            SyncRunner(wrong_client, runner.ledger, settings=runner.settings).run(
                CONNECTION_ID, "canary/3"
            )
        secrets.update(wrong_auth.secret_values())
    finally:
        client.close()
        wrong_client.close()

    assert auth.token_fetches >= 1  # the canary really was used on the wire
    assert any(r.levelno == logging.DEBUG for r in caplog.records), "DEBUG was not captured"
    assert any("HTTP GET" in r.getMessage() for r in caplog.records)
    texts = {
        "logs": caplog.text,
        "log messages": "\n".join(r.getMessage() for r in caplog.records),
        "failed sync": _rendered(failed.value),
        "refused credential": _rendered(refused.value),
    }
    assert "CANARY-" not in texts["logs"]
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret leaked into the {where}"
