"""Run one sync with the SQL ledger, as a worker process would; the kill -9 test kills it.

Usage: python sync_in_subprocess.py URL CONNECTION_ID RUN_KEY LEDGER_DB
The client id and secret come from INTEGRATION_CLIENT_ID / INTEGRATION_CLIENT_SECRET (not
argv, which any local user can read). Exits 0 after a succeeded sync.
"""

from __future__ import annotations

import logging
import os
import sys

from luigi_airbyte.airbyte import AirbyteClient, AirbyteClientCredentials, RetryPolicy
from luigi_airbyte.store import Store
from luigi_airbyte.sync import FixedInterval, SyncRunner, SyncSettings


def main(argv: list[str]) -> int:
    url, connection_id, run_key, ledger_db = argv
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    auth = AirbyteClientCredentials(
        os.environ["INTEGRATION_CLIENT_ID"], os.environ["INTEGRATION_CLIENT_SECRET"]
    )
    store = Store(f"sqlite:///{ledger_db}").open()
    with AirbyteClient(url=url, auth=auth, retry=RetryPolicy(base_delay=0.05)) as client:
        settings = SyncSettings(poll_strategy=FixedInterval(0.2), clock_skew=5.0, timeout=120.0)
        result = SyncRunner(client, store.ledger, settings=settings).run(connection_id, run_key)
    logging.getLogger(__name__).info("job %s: %s", result.job.job_id, result.status.value)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
