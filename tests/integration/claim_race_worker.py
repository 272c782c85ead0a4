"""A long-lived racer for the claim race: runs ``trigger_or_attach`` + ``wait`` on command.

Usage: python claim_race_worker.py SANDBOX_URL STORE_URL
Client id and secret come from INTEGRATION_CLIENT_ID / INTEGRATION_CLIENT_SECRET.

Reads JSON lines ``{"trial", "connection_id", "run_key", "start_at", "shared"}`` on stdin
(``shared``: the racer takes the connection's recent jobs from a listing made when the
command arrives, as a brand-new claim of a run does from the run's listing); each runs
in a thread of its own (several lanes at once, one connection per lane), sleeps until
``start_at`` (epoch seconds, so racers in different processes start together) and writes
``{"trial", "pid", "started", "job_id", "how", "finished_at_attach", "status"}`` (or
``{"trial", "error"}``) as one JSON line on stdout.

With CLAIM_RACE_MEMO=1 the ledger's lock is switched off (every claim is granted, as
before the claim existed: the ledger is only a memo). The benchmark uses it to measure,
in the same run, what the lock prevents.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from typing import Any

from luigi_airbyte.airbyte import AirbyteClient, AirbyteClientCredentials, RetryPolicy
from luigi_airbyte.airbyte.models import Job, JobType
from luigi_airbyte.store import Store
from luigi_airbyte.store.ledger import Claim, ClaimResult, Holder, Ledger
from luigi_airbyte.sync import FixedInterval, SyncRunner, SyncSettings

_out = threading.Lock()


def _say(doc: dict[str, Any]) -> None:
    with _out:
        sys.stdout.write(json.dumps(doc) + "\n")
        sys.stdout.flush()


class MemoLedger:
    """The SQL ledger without its lock: what the ledger was before the claim."""

    def __init__(self, inner: Ledger) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def claim(
        self, run_key: str, connection_id: str, job_type: str, holder: Holder, lease_s: float = 60
    ) -> ClaimResult:
        return ClaimResult("acquired", claim=Claim(run_key, connection_id, job_type, holder))

    def mark_intent(self, run_key: str, holder: Holder, seen_max: int | None) -> None:
        return None

    def renew(self, run_key: str, holder: Holder, lease_s: float = 60) -> bool:
        return True

    def release(self, run_key: str, holder: Holder) -> None:
        return None


def _shared_listing(client: AirbyteClient, connection_id: str) -> Any:
    """A run's shared listing, taken when the command arrives: before every racer of the
    trial starts, so it is stale for all but the first (``SyncRunner(recent=...)``)."""
    seen = list(client.list_jobs(connection_id, job_type=JobType.SYNC, max_items=25))

    def recent(cid: str, job_type: JobType, limit: int) -> list[Job] | None:
        if cid != connection_id or job_type is not JobType.SYNC:
            return None
        return seen[:limit]

    return recent


def _race(client: AirbyteClient, store: Store, cmd: dict[str, Any]) -> None:
    settings = SyncSettings(
        poll_strategy=FixedInterval(0.05),
        confirm_window=1.0,
        clock_skew=5.0,
        timeout=60.0,
        stuck_after=None,
        zero_rows="ignore",
    )
    ledger: Any = MemoLedger(store.ledger) if os.environ.get("CLAIM_RACE_MEMO") else store.ledger
    recent = _shared_listing(client, cmd["connection_id"]) if cmd.get("shared") else None
    runner = SyncRunner(
        client, ledger, settings=settings, run_id=f"trial-{cmd['trial']}", recent=recent
    )
    time.sleep(max(0.0, float(cmd["start_at"]) - time.time()))
    started = time.time()
    try:
        attachment = runner.trigger_or_attach(cmd["connection_id"], cmd["run_key"])
        result = runner.wait(attachment)
        _say(
            {
                "trial": cmd["trial"],
                "pid": os.getpid(),
                "started": started,
                "job_id": result.job_id,
                "how": attachment.how,
                "finished_at_attach": attachment.finished,
                "status": result.status.value,
            }
        )
    except Exception as exc:
        _say({"trial": cmd["trial"], "pid": os.getpid(), "error": f"{type(exc).__name__}: {exc}"})


def main(argv: list[str]) -> int:
    url, store_url = argv
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    auth = AirbyteClientCredentials(
        os.environ["INTEGRATION_CLIENT_ID"], os.environ["INTEGRATION_CLIENT_SECRET"]
    )
    store = Store(store_url).open()
    with AirbyteClient(
        url=url, auth=auth, retry=RetryPolicy(base_delay=0.05, max_delay=0.5), timeout=10.0
    ) as client:
        client.list_jobs(max_items=1)  # token and connection pool warm before the first race
        _say({"ready": os.getpid()})
        threads = []
        for line in sys.stdin:
            if not line.strip():
                continue
            cmd = json.loads(line)
            t = threading.Thread(target=_race, args=(client, store, cmd), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
