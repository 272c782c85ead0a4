"""A job that waits for a worker slot is ``queued`` on the wire; the runner waits it out."""

from __future__ import annotations

from luigi_airbyte.airbyte import AirbyteClient, AirbyteClientCredentials, JobStatus
from luigi_airbyte.sandbox import Sandbox, demo_world
from luigi_airbyte.store.ledger import InMemoryLedger
from luigi_airbyte.sync import FixedInterval, SyncRunner, SyncSettings


def test_a_queued_job_is_waited_for_and_succeeds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    world = demo_world(data_dir=tmp_path)
    world = world.model_copy(
        update={
            "settings": world.settings.model_copy(
                update={"max_concurrent_jobs": 1, "job_duration_seconds": 2.0}
            )
        }
    )
    with Sandbox(world) as sb:
        crm, events = (c["connectionId"] for c in sb.engine.list_connections())
        sb.engine.create_job(crm, "sync")  # occupies the only slot
        auth = AirbyteClientCredentials(sb.client_id, sb.client_secret)
        with AirbyteClient(url=sb.url, auth=auth) as client:
            runner = SyncRunner(
                client, InMemoryLedger(), settings=SyncSettings(poll_strategy=FixedInterval(0.2))
            )
            attachment = runner.trigger_or_attach(events, "sync:events:test")
            seen = {client.get_job(attachment.job.job_id).status for _ in range(3)}
            assert JobStatus.QUEUED in seen
            result = runner.wait(attachment)
        assert result.status is JobStatus.SUCCEEDED
        assert len(sb.engine.list_jobs(connection_id=events)) == 1
