"""Errors keep their message and fields through pickling (Luigi may pickle a task's error)."""

from __future__ import annotations

import pickle

import pytest

from luigi_airbyte.errors import (
    AirbyteAPIError,
    AirbyteTransportError,
    JobCreateUncertainError,
    LuigiAirbyteError,
    RateLimitedError,
    SyncFailedError,
)


@pytest.mark.parametrize(
    "error",
    [
        AirbyteAPIError(
            status_code=409,
            method="POST",
            path="/jobs",
            server_message="busy",
            problem_type="try-again-later",
            hint="wait",
        ),
        RateLimitedError(status_code=429, method="GET", path="/jobs"),
        AirbyteTransportError("reset", method="GET", path="/jobs"),
        JobCreateUncertainError("lost answer", method="POST", path="/jobs"),
        SyncFailedError("job 7 failed", connection_id="c1", job_id=7),
    ],
)
def test_error_survives_pickling(error: LuigiAirbyteError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)


def test_api_error_message_names_request_status_and_hint() -> None:
    error = AirbyteAPIError(
        status_code=409,
        method="POST",
        path="/jobs",
        server_message="busy",
        problem_type="try-again-later",
        hint="wait",
    )
    assert str(error) == "POST /jobs returned 409 (try-again-later): busy. wait"
    assert error.args == (str(error),)
