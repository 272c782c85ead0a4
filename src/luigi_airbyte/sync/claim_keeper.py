"""``ClaimKeeper``: renews the lease of a claimed run key from a daemon thread.

The holder of a run key's claim (see ``luigi_airbyte.store.ledger``) must renew its lease
while it works, or another process takes the claim over once the lease expires. A keeper
renews every quarter of the lease until ``stop``; a failed renewal (store briefly down) is
logged and tried again at the next tick. If the renewal reports the claim is no longer
ours, ``lost`` turns true: another process judged this one gone.

The keeper uses wall time and real sleeps: leases are read by other processes.
"""

from __future__ import annotations

import logging
import threading

from luigi_airbyte.errors import LuigiAirbyteError
from luigi_airbyte.store.ledger import Holder, Ledger

logger = logging.getLogger(__name__)


class ClaimKeeper:
    """Renew ``holder``'s claim on ``run_key`` every ``lease_s / 4`` seconds until stopped."""

    def __init__(self, ledger: Ledger, run_key: str, holder: Holder, lease_s: float) -> None:
        self.ledger = ledger
        self.run_key = run_key
        self.holder = holder
        self.lease_s = lease_s
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"claim-keeper {run_key}", daemon=True
        )

    def start(self) -> ClaimKeeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        interval = max(self.lease_s / 4, 0.05)
        while not self._stop.wait(interval):
            try:
                ok = self.ledger.renew(self.run_key, self.holder, self.lease_s)
            except LuigiAirbyteError as exc:
                logger.warning(
                    "run key %s: could not renew the claim's lease (%s); retrying",
                    self.run_key,
                    exc,
                )
                continue
            if not ok:
                self.lost = True
                logger.error(
                    "run key %s: the claim was taken over by another process (this one "
                    "was judged gone); it keeps waiting on its job but will not post again",
                    self.run_key,
                )
                return


__all__ = ["ClaimKeeper"]
