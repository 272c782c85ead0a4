"""Parsing Airbyte payloads into frozen models: tolerant of new values, exact on counts."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from luigi_airbyte.airbyte import (
    ConnectorCheck,
    DiscoveredStream,
    Job,
    JobDetails,
    JobStatus,
    JobType,
    StreamStats,
)
from luigi_airbyte.airbyte.models import Connection, parse_datetime, parse_duration

# JobResponse as JobResponseMapper writes it (airbyte-api-notes.md §2).
JOB_RESPONSE = {
    "jobId": 4711,
    "status": "succeeded",
    "jobType": "sync",
    "startTime": "2023-03-25T01:30:50Z",
    "connectionId": "conn-1",
    "lastUpdatedAt": "2023-03-25T09:37:02Z",
    "duration": "PT8H6M12S",
    "bytesSynced": 2048,
    "rowsSynced": 17,
}


def test_job_response_is_parsed() -> None:
    job = Job.from_api(JOB_RESPONSE)
    assert job.job_id == 4711
    assert job.status is JobStatus.SUCCEEDED and job.status.is_terminal
    assert job.job_type is JobType.SYNC
    assert job.start_time == datetime(2023, 3, 25, 1, 30, 50, tzinfo=timezone.utc)
    assert job.last_updated_at == datetime(2023, 3, 25, 9, 37, 2, tzinfo=timezone.utc)
    assert job.duration == timedelta(hours=8, minutes=6, seconds=12)
    assert (job.bytes_synced, job.rows_synced) == (2048, 17)


def test_queued_is_a_known_non_terminal_status() -> None:
    job = Job.from_api({**JOB_RESPONSE, "status": "queued", "duration": None})
    assert job.status is JobStatus.QUEUED
    assert not job.status.is_terminal
    assert job.duration is None


def test_unknown_status_becomes_unknown_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        job = Job.from_api({**JOB_RESPONSE, "status": "paused_for_maintenance"})
    assert job.status is JobStatus.UNKNOWN
    assert not job.status.is_terminal
    assert job.raw_status == "paused_for_maintenance"
    assert "paused_for_maintenance" in caplog.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT8H6M12S", timedelta(hours=8, minutes=6, seconds=12)),
        ("PT45S", timedelta(seconds=45)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("PT0.5S", timedelta(seconds=0.5)),
        ("nonsense", None),
        (None, None),
    ],
)
def test_durations(text: str | None, expected: timedelta | None) -> None:
    assert parse_duration(text) == expected


def test_epoch_seconds_and_milliseconds() -> None:
    expected = datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert parse_datetime(1_700_000_000) == expected
    assert parse_datetime(1_700_000_000_000) == expected
    connection = Connection.from_api(
        {
            "connectionId": "c",
            "name": "n",
            "sourceId": "s",
            "destinationId": "d",
            "workspaceId": "w",
            "status": "active",
            "createdAt": 1_700_000_000,
        }
    )
    assert connection.created_at == expected


def _attempt(
    number: int,
    status: str,
    streams: list[tuple[str, int, int, int]],
    *,
    totals: dict[str, int] | None = None,
    failure: str | None = None,
) -> dict[str, object]:
    """An AttemptInfoRead; each stream is (name, emitted, committed, bytes committed)."""
    attempt: dict[str, object] = {
        "id": number,
        "status": status,
        "createdAt": 1_700_000_000 + number * 100,
        "updatedAt": 1_700_000_050 + number * 100,
        "endedAt": 1_700_000_050 + number * 100,
        "streamStats": [
            {
                "streamName": name,
                "streamNamespace": "public",
                "stats": {
                    "recordsEmitted": emitted,
                    "recordsCommitted": committed,
                    "bytesEmitted": committed * 10,
                    "bytesCommitted": bytes_committed,
                },
            }
            for name, emitted, committed, bytes_committed in streams
        ],
    }
    if totals is not None:
        attempt["totalStats"] = totals
    if failure:
        attempt["failureSummary"] = {
            "failures": [
                {
                    "timestamp": 1_700_000_060_000,
                    "failureOrigin": "source",
                    "failureType": "system_error",
                    "externalMessage": failure,
                    "internalMessage": "java.lang.RuntimeException: internal",
                },
                {"timestamp": 1_700_000_061_000, "externalMessage": "a later, secondary failure"},
            ]
        }
    return {"attempt": attempt, "logType": "formatted", "logs": {"logLines": []}}


def _job_read(status: str = "succeeded", **extra: object) -> dict[str, object]:
    job: dict[str, object] = {
        "id": 99,
        "configType": "sync",
        "configId": "conn-1",
        "createdAt": 1_700_000_000,
        "updatedAt": 1_700_000_372,
        "status": status,
    }
    job.update(extra)
    return job


def test_job_info_sums_counts_over_all_attempts_and_per_stream() -> None:
    data = {
        "job": _job_read(),
        "attempts": [
            _attempt(0, "failed", [("users", 10, 5, 50)], failure="Connection reset by peer"),
            _attempt(1, "failed", [("users", 4, 0, 0), ("orders", 2, 0, 0)], failure="Timeout"),
            _attempt(2, "succeeded", [("users", 7, 7, 70), ("orders", 3, 3, 30)]),
        ],
    }
    details = JobDetails.from_api(data)
    stats = details.stats
    assert stats.records_emitted == 10 + 4 + 2 + 7 + 3
    assert stats.records_committed == 5 + 7 + 3
    assert stats.bytes_committed == 50 + 70 + 30
    by_name = {s.name: s for s in stats.streams}
    assert by_name["users"] == StreamStats(
        name="users",
        namespace="public",
        records_emitted=21,
        records_committed=12,
        bytes_emitted=120,
        bytes_committed=120,
    )
    assert by_name["orders"].records_committed == 3
    assert [a.number for a in stats.attempts] == [0, 1, 2]
    assert stats.attempts[0].failure_origin == "source"
    # the last failed attempt's first failure, as the Airbyte UI shows it
    assert details.failure_reason == "Timeout"
    job = details.job
    assert job.job_id == 99 and job.connection_id == "conn-1"
    assert job.status is JobStatus.SUCCEEDED and job.job_type is JobType.SYNC
    assert job.start_time == datetime.fromtimestamp(1_700_000_000, tz=timezone.utc)
    assert job.last_updated_at == datetime.fromtimestamp(1_700_000_372, tz=timezone.utc)
    assert job.duration == timedelta(seconds=372)
    assert job.rows_synced == 15 and job.bytes_synced == 150


def test_job_info_prefers_server_aggregates_when_present() -> None:
    data = {
        "job": _job_read(
            aggregatedStats={
                "recordsEmitted": 100,
                "bytesEmitted": 1000,
                "recordsCommitted": 90,
                "bytesCommitted": 900,
                "recordsRejected": 1,
            },
            streamAggregatedStats=[
                {
                    "streamName": "users",
                    "recordsEmitted": 100,
                    "bytesEmitted": 1000,
                    "recordsCommitted": 90,
                    "bytesCommitted": 900,
                    "recordsRejected": 1,
                }
            ],
        ),
        "attempts": [_attempt(0, "succeeded", [("users", 1, 1, 1)])],
    }
    details = JobDetails.from_api(data)
    assert details.stats.records_committed == 90
    assert details.stats.records_rejected == 1
    assert details.stats.streams == (
        StreamStats(
            name="users",
            records_emitted=100,
            records_committed=90,
            bytes_emitted=1000,
            bytes_committed=900,
            records_rejected=1,
        ),
    )
    assert details.job.rows_synced == 90 and details.job.bytes_synced == 900
    assert details.failure_reason is None


def test_total_stats_missing_bytes_committed_falls_back_to_streams() -> None:
    # StatsAggregationHelper's hydrate path never sets totalStats.bytesCommitted
    attempt = _attempt(
        0,
        "succeeded",
        [("users", 5, 5, 55), ("orders", 1, 1, 11)],
        totals={"recordsEmitted": 6, "recordsCommitted": 6, "bytesEmitted": 60},
    )
    details = JobDetails.from_api({"job": _job_read(), "attempts": [attempt]})
    assert details.stats.records_committed == 6
    assert details.stats.bytes_committed == 66


def test_running_config_job_has_no_last_updated_and_pending_no_duration() -> None:
    running = JobDetails.from_api({"job": _job_read("running"), "attempts": []})
    assert running.job.last_updated_at is None
    assert running.job.duration == timedelta(seconds=372)
    assert running.job.rows_synced is None
    pending = JobDetails.from_api({"job": _job_read("pending"), "attempts": []})
    assert pending.job.duration is None


def test_reset_connection_config_type_is_reset() -> None:
    details = JobDetails.from_api({"job": _job_read(configType="reset_connection"), "attempts": []})
    assert details.job.job_type is JobType.RESET


def test_connector_check_failure_is_a_200_with_status_failed() -> None:
    check = ConnectorCheck.from_api(
        {
            "status": "failed",
            "message": "Could not connect: password authentication failed",
            "jobInfo": {"id": "x", "configType": "check_connection_source", "succeeded": True},
        }
    )
    assert check == ConnectorCheck(
        succeeded=False, message="Could not connect: password authentication failed"
    )
    ok = ConnectorCheck.from_api({"status": "succeeded", "jobInfo": {"succeeded": True}})
    assert ok.succeeded and ok.message == ""


def test_discovered_stream_columns() -> None:
    stream = DiscoveredStream.from_api(
        {
            "stream": {
                "name": "users",
                "namespace": "public",
                "jsonSchema": {"properties": {"id": {}, "email": {}, "updated_at": {}}},
                "supportedSyncModes": ["full_refresh", "incremental"],
            },
            "config": {"syncMode": "incremental", "destinationSyncMode": "append"},
        }
    )
    assert stream == DiscoveredStream(
        name="users",
        namespace="public",
        columns=("id", "email", "updated_at"),
        supported_sync_modes=("full_refresh", "incremental"),
    )
