"""One sync through the SQL ledger in a process of its own, for the kill -9 boundary tests.

Usage: python sync_boundary_worker.py URL CONNECTION_ID RUN_KEY STORE_URL
Client id and secret come from INTEGRATION_CLIENT_ID / INTEGRATION_CLIENT_SECRET. With
LUIGI_AIRBYTE_TEST_PAUSE_AT set, the runner stops at that boundary (see sync/runner.py)
and touches LUIGI_AIRBYTE_TEST_PAUSE_FILE, so the test kills it exactly there. Prints
``<how> <job id> <status>`` and exits 0 after a succeeded sync.
"""

from __future__ import annotations

import logging
import os
import sys

from luigi_airbyte.airbyte import AirbyteClient, AirbyteClientCredentials, RetryPolicy
from luigi_airbyte.store import Store
from luigi_airbyte.sync import FixedInterval, SyncRunner, SyncSettings


def main(argv: list[str]) -> int:
    url, connection_id, run_key, store_url = argv
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    auth = AirbyteClientCredentials(
        os.environ["INTEGRATION_CLIENT_ID"], os.environ["INTEGRATION_CLIENT_SECRET"]
    )
    store = Store(store_url).open()
    # The client does not retry: the tests' faults must reach the runner as they are.
    retry = RetryPolicy(max_attempts=1, base_delay=0.05)
    with AirbyteClient(url=url, auth=auth, retry=retry, timeout=10.0) as client:
        settings = SyncSettings(
            poll_strategy=FixedInterval(0.1),
            confirm_window=1.0,
            clock_skew=5.0,
            timeout=120.0,
            stuck_after=None,
        )
        runner = SyncRunner(client, store.ledger, settings=settings, run_id="boundary")
        attachment = runner.trigger_or_attach(connection_id, run_key)
        result = runner.wait(attachment)
    print(attachment.how, result.job.job_id, result.status.value, flush=True)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
