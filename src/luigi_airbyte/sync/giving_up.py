"""Giving up on a job: the queue timeout, the deadline, a stuck job, an interrupt.

Each way of giving up either detaches (the job keeps running; the next run with the
same run key re-attaches) or cancels and confirms by polling that the job stopped.
"""

from __future__ import annotations

import logging
from typing import NoReturn

from luigi_airbyte.airbyte.models import Job, JobStatus
from luigi_airbyte.backoff import Backoff
from luigi_airbyte.errors import (
    AirbyteError,
    StateConflictError,
    SyncTimeoutError,
)
from luigi_airbyte.sync.api import TRANSIENT_ERRORS
from luigi_airbyte.sync.signals import Terminated
from luigi_airbyte.sync.wait_state import WaitState

logger = logging.getLogger(__name__)

# A cancel is confirmed by polls 1 s apart growing 1.5x to 10 s. No jitter: these poll one
# job, they are not a herd.
_CANCEL_POLL = Backoff(base=1.0, cap=10.0, factor=1.5, jitter="none")


class GivingUp(WaitState):
    """Deadlines, stuck jobs, cancels and interrupts of one wait."""

    def _queue_timeout(self) -> NoReturn:
        """Queued past ``queue_timeout``: give up waiting, never cancel (Airbyte decides)."""
        job = self.job
        limit = self.settings.queue_timeout or 0.0
        logger.info(
            "connection %s job %s: still %s after %.0fs queued (queue_timeout %.0fs); "
            "leaving it queued: the next run with run key %s re-attaches",
            self.cid,
            job.job_id,
            job.status.value,
            self.queued_s,
            limit,
            self.att.run_key,
        )
        self._emit("sync.queue_timeout", level="warning", queued_s=self.queued_s)
        raise SyncTimeoutError(
            f"Airbyte job {job.job_id} on connection {self.cid} waited {self.queued_s:.0f}s "
            f"queued for capacity (queue_timeout {limit:.0f}s) and never started. It was left "
            "queued, not cancelled (Airbyte cancels a manual sync queued for 8h itself); the "
            "next run with the same date re-attaches to it. Free capacity in Airbyte (fewer "
            "concurrent syncs, more workers) or raise queue_timeout in the pipeline file. "
            f"See {self.job_url or 'the Airbyte UI'}",
            connection_id=self.cid,
            job_id=job.job_id,
        )

    # ------------------------------------------------------------------ giving up

    def _check_stuck(self, now: float) -> Job | None:
        stuck_after = self.settings.stuck_after
        if stuck_after is None or self.stuck_reported or now - self.last_change < stuck_after:
            return None
        self.stuck_reported = True
        quiet = now - self.last_change
        logger.warning(
            "connection %s job %s: no progress for %.0fs (still %s); %s",
            self.cid,
            self.job.job_id,
            quiet,
            self.job.status.value,
            "cancelling" if self.settings.on_stuck == "cancel" else "still waiting",
        )
        self._emit("sync.stuck", level="warning", status=self.job.status.value, quiet_s=quiet)
        if self.settings.on_stuck != "cancel":
            return None
        final = self._cancel_and_confirm("stuck")
        if final.status is JobStatus.SUCCEEDED:
            return final
        self._fail_after_cancel(final, f"it made no progress for {quiet:.0f}s and was cancelled")

    def _deadline_passed(self) -> Job:
        timeout = self.settings.timeout
        job = self.job
        if self.settings.on_timeout == "detach":
            logger.info(
                "connection %s job %s: not finished after %.0fs; detaching (the job keeps "
                "running; the next run with run key %s re-attaches)",
                self.cid,
                job.job_id,
                timeout,
                self.att.run_key,
            )
            self._emit("sync.detached", level="warning", reason="timeout")
            raise SyncTimeoutError(
                f"Airbyte job {job.job_id} on connection {self.cid} did not finish within "
                f"{timeout:.0f}s; it was left running ({job.status.value}) and the next run "
                f"re-attaches to it. See {self.job_url or 'the Airbyte UI'}",
                connection_id=self.cid,
                job_id=job.job_id,
            )
        logger.warning(
            "connection %s job %s: not finished after %.0fs; cancelling",
            self.cid,
            job.job_id,
            timeout,
        )
        self._emit("sync.timeout", level="error", timeout_s=timeout)
        final = self._cancel_and_confirm("timeout")
        if final.status is JobStatus.SUCCEEDED:
            logger.warning(
                "connection %s job %s: finished successfully just as it was cancelled",
                self.cid,
                final.job_id,
            )
            return final
        self._fail_after_cancel(final, f"it did not finish within {timeout:.0f}s")

    def _fail_after_cancel(self, final: Job, why: str) -> NoReturn:
        confirmed = final.status.is_terminal
        if confirmed:
            self.journal.record_final(self.att.run_key, final)
            state = f"it is now {final.status.value}"
        else:
            state = (
                f"the cancel was not confirmed within {self.settings.cancel_confirm_timeout:.0f}s "
                f"(last status {final.status.value}); the ledger row stays open"
            )
        raise SyncTimeoutError(
            f"Airbyte job {final.job_id} on connection {self.cid}: {why}; {state}. "
            f"See {self.job_url or 'the Airbyte UI'}",
            connection_id=self.cid,
            job_id=final.job_id,
        )

    def _cancel_and_confirm(self, reason: str) -> Job:
        """Cancel and poll until Airbyte shows a terminal status (bounded).

        A cancel request is not a cancel: Airbyte has answered 500 to one, and kept
        jobs running after one (airbytehq/airbyte#9776, #8808).
        """
        job = self.job
        self._emit("sync.cancel_requested", level="warning", reason=reason)
        sent = self._send_cancel(job)
        current = job
        deadline = self.clock.monotonic() + self.settings.cancel_confirm_timeout
        pauses = _CANCEL_POLL.delays()
        while not current.status.is_terminal:
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                logger.error(
                    "connection %s job %s: cancel not confirmed after %.0fs (status %s)",
                    self.cid,
                    job.job_id,
                    self.settings.cancel_confirm_timeout,
                    current.status.value,
                )
                self._emit("sync.cancel_unconfirmed", level="error", status=current.status.value)
                self.job = current
                return current
            self.clock.sleep(min(next(pauses), remaining))
            if not sent:
                sent = self._send_cancel(current)
            try:
                current = self.client.get_job(job.job_id)
            except TRANSIENT_ERRORS as exc:
                logger.warning(
                    "connection %s job %s: polling after cancel failed (%s)",
                    self.cid,
                    job.job_id,
                    exc,
                )
        self.job = current
        logger.info(
            "connection %s job %s: after cancel the job is %s",
            self.cid,
            job.job_id,
            current.status.value,
        )
        self._emit("sync.cancel_confirmed", status=current.status.value, reason=reason)
        self._warn_successor(current)
        return current

    def _send_cancel(self, job: Job) -> bool:
        try:
            self.client.cancel_job(job.job_id)
        except StateConflictError as exc:
            # Airbyte says the job is not running any more: polling shows what it became.
            logger.info(
                "connection %s job %s: cancel refused (%s); checking its status",
                self.cid,
                job.job_id,
                exc,
            )
        except TRANSIENT_ERRORS as exc:
            logger.warning(
                "connection %s job %s: cancel request failed (%s); will retry once",
                self.cid,
                job.job_id,
                exc,
            )
            return False
        return True

    def _warn_successor(self, cancelled: Job) -> None:
        """Airbyte has been seen starting a new job right after a cancel (airbyte#8808)."""
        try:
            jobs = list(
                self.client.list_jobs(self.cid, order_by="createdAt|DESC", page_size=5, max_items=5)
            )
        except AirbyteError:
            return
        newer = [j for j in jobs if j.job_id > cancelled.job_id and not j.status.is_terminal]
        if newer:
            logger.warning(
                "connection %s job %s: Airbyte started job %s after the cancel; it is not ours "
                "and was left alone",
                self.cid,
                cancelled.job_id,
                newer[0].job_id,
            )
            self._emit("sync.successor_started", level="warning", successor_job_id=newer[0].job_id)

    def _interrupted(self, exc: BaseException) -> None:
        kind = "SIGTERM" if isinstance(exc, Terminated) else "KeyboardInterrupt"
        job = self.job
        if self.settings.on_interrupt == "detach" or job.status.is_terminal:
            logger.warning(
                "connection %s job %s: interrupted (%s); detaching: the job keeps running and "
                "the next run with run key %s re-attaches to it",
                self.cid,
                job.job_id,
                kind,
                self.att.run_key,
            )
            self._emit("sync.detached", level="warning", reason=kind)
            return
        logger.warning(
            "connection %s job %s: interrupted (%s); cancelling the job",
            self.cid,
            job.job_id,
            kind,
        )
        final = self._cancel_and_confirm(kind)
        if final.status.is_terminal:
            self.journal.record_final(self.att.run_key, final)

    # ------------------------------------------------------------------ the end
