"""One watcher per host: every in-flight job of a run seen through a few list calls.

Without it each waiting task sends ``GET /jobs/{id}`` on its own schedule, so Airbyte sees
O(jobs) requests per interval (29.8 requests/s for 50 syncs in flight). ``JobWatcher``
runs in the run process (started before Luigi forks workers; see
``luigi_airbyte.app.watcher``) and answers every waiting task from one listing of the
jobs updated since its last per workspace and tick, newest update first, 100 jobs a page:
O(workspaces) requests per tick, not O(jobs). Where Airbyte has a config API the listing
is its ``POST /v1/jobs/list_for_workspaces`` (the call behind the public ``GET /jobs``),
whose jobs come with their attempts and counts: an ended job's details travel with its
answer and its task fetches none (see ``_listed_details``). Elsewhere it is
``GET /jobs?workspaceIds=…&updatedAtStart=…&orderBy=updatedAt|DESC``.

Timing stays each task's own. A task asks ``next(job, scope, after, due_in)``: "tell me
when my job ends, and at the latest a state no older than ``due_in`` seconds from now".
``due_in`` is what the task's poll strategy would have slept (dense right after a
trigger without history, near the expected end with the connection's past durations,
see ``luigi_airbyte.sync.polling``), so the tasks' due times are where job ends are
likely. The watcher lists when the earliest request falls due (never before it; requests
due within ``TOGETHER``, 10 ms, share one listing; one falling due at most ``FRESH``, 30
ms, after a listing is answered at its due time from that listing), as its budget
allows: a token bucket (``TickBudget``) that refills ``RATE`` (1.8) listings a second up
to ``CAPACITY`` (5), credited ``END_CREDIT`` (three quarters of a listing) for each job
end a listing finds; a tick costs one. While the budget holds ``SPARE`` (2) listings or
more, a request is listed at its due time, ticks at least ``MIN_GAP`` (20 ms) apart,
however many tasks wait; below that, ticks are ``MERGE_GAP`` (0.25 s) apart, so requests
falling due close together (the tasks of a run of short syncs ask in waves) share a
listing. So a wave triggered together after a
quiet spell is answered at its tasks' own times, many tasks waiting on long jobs cost
Airbyte ``RATE`` listings a second, and a run of short syncs about one listing a wave.
(Until ``dropgap``, issue 10, ticks were 0.25 s apart while up to 8 tasks waited and 0.6 s
with more, whatever the budget: in ``benchmarks/polling.py`` one "still running" answer in
ten came 0.37 s or more after its due time; see ``benchmarks/RESULTS.md``.)

A listing answers every request that has fallen due, and wakes every other task whose job
it shows ended; a job still running is never reported before its task's due time (the
task would then wait a whole poll interval more from that early answer). Requests are not
held back for later ones: holding every request until the last one due within a tick had
fallen due answered the tasks of a run together, so they finished, forked and wrote the
store together, and a run's workers moved in lock-step waves that queued for the CPU
(``benchmarks/RESULTS.md``, watchgap).

What a listing cannot miss: Airbyte bumps a job's ``updatedAt`` whenever it changes, so a
listing from ``updatedAtStart`` = the newest ``updatedAt`` the previous listing saw (less
``margin`` for whole-second timestamps) shows every job that changed since, by Airbyte's
own clock; a newly watched job pulls the watermark back to what its task last saw of it.
A job missing from a listing has not changed.

The watcher only reads: it never posts, cancels or writes the ledger. ``hint(job_id)``
(a webhook said the job ended) confirms the job with one request now and publishes the
result: the config API's ``jobs/get_without_logs`` where Airbyte has one, whose answer
also holds the attempts and per-stream counts the task would otherwise fetch itself once
the job ended (they travel with the answer), else ``GET /jobs/{id}``. A push then costs
Airbyte one request, not a confirmation plus the task's own details. If the watcher dies
or stops answering, each task falls back to polling its own job
(``luigi_airbyte.sync.waiting``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from luigi_airbyte.airbyte.models import Job, JobDetails
from luigi_airbyte.backoff import Backoff
from luigi_airbyte.errors import AirbyteAPIError, AirbyteError, NotFoundError
from luigi_airbyte.sync.clock import Clock, SystemClock

logger = logging.getLogger(__name__)

PAGE_SIZE = 100
RATE = 1.8
"""Listings a second the budget refills: many tasks waiting on long jobs cost Airbyte
about this many requests a second (issue 10: <= 2 for 50 syncs in flight)."""
CAPACITY = 5.0
"""Listings the budget holds (a full budget after a quiet spell): the first wave of a
run's tasks, due within a few tens of ms of each other, is listed at its tasks' times with
an own look after (with 3, the first wave of 8 spent it and learnt its ends 0.2 s late,
``benchmarks/RESULTS.md``, listing_s8)."""
SPARE = 2.0
"""While the budget holds this many listings or more, a request is listed at its due
time (ticks ``MIN_GAP`` apart); below it, ticks are ``MERGE_GAP`` apart."""
END_CREDIT = 0.75
"""Listings credited back for each job end a listing finds: while short syncs keep
ending, the watcher may list more often than ``RATE``, at most three quarters of a
listing per sync more. A sync's ``POST`` and its share of the listings stay within 3
requests: 1.6-1.8 for runs of 1 s syncs on 8 workers, since the config API's listings
carry the ended jobs' details (with a details call per sync, a quarter listing was the
most: half made a run of 20 syncs cost 61-65 requests)."""
MIN_GAP = 0.02
"""Seconds between two ticks at least while the budget holds ``SPARE`` or more (50 ms
until the listings carried the details: a wave of 8 tasks due 12 ms apart then waited up
to 50 ms for its listing, 34 ms median from a job's end to its task learning it; 12-23 ms
with 20 ms, ``benchmarks/RESULTS.md``, listing_s8)."""
MERGE_GAP = 0.25
"""Seconds between two ticks at least once the budget holds less than ``SPARE``: requests
falling due close together share a listing (the tasks of a run of short syncs ask in
waves: one listing a wave, not one a task; listing each on time spent the budget on
listings 50 ms apart and found the ends later, ``benchmarks/watcher_sim.py``)."""
TOGETHER = 0.01
"""Requests falling due within this many seconds of the earliest share its listing (made
when the last of them falls due): tasks that asked at the same moment cost one request.
(50 ms before listing_s8: the first of them waited up to that for the last.)"""
FRESH = 0.03
"""Seconds a listing may precede a request's due time and still answer it: the request
is then answered at its due time from that listing, without one of its own. A run's first
wave asks together (8 first looks within 0.15 s): listed each at its own time, it spent
the budget while its jobs still ran, no own look was left, and the ends waited 0.25 s for
the tasks' next looks (``scale.py``, N = 10 on 8 workers: 7 runs of 11 without, 3 of 12
with 30 ms; 50 ms answered more requests from older listings and found the ends later in
the other runs; ``benchmarks/RESULTS.md``, fresh_s10)."""
FOLLOW_GAP = 0.05
"""Seconds after a listing that found a job still running at its task's due time until
the watcher looks again on its own, while the budget holds ``SPARE`` or more: a due time
is where a job's end is likely (a 1 s job is seen running at 1.0 s and ends a few ms
later), and the task's own next look may be 0.25 s away or more."""
FOLLOWS = 2
"""Own looks in a row, at most, after a task's first due time (then the task's own)."""
MARGIN = 2.0
"""Seconds the watermark is pulled back: Airbyte's timestamps are whole seconds."""
FORGET_AFTER = 120.0
"""A job nobody asked about for this long is no longer watched."""

# A listing that fails is tried again 0.5 s later, doubling to 10 s; meanwhile the
# waiting tasks are told of the failure, as their own failed poll would have told them.
_LIST_RETRY = Backoff(base=0.5, cap=10.0, factor=2.0, jitter="none")


class JobListingAPI(Protocol):
    """The reads the watcher uses (``luigi_airbyte.airbyte.AirbyteClient`` has them)."""

    def get_job(self, job_id: int, /) -> Job: ...

    def get_job_details(self, job_id: int, /) -> JobDetails | None: ...

    def list_jobs(
        self,
        connection_id: str | None = None,
        *,
        updated_at_start: datetime | None = None,
        order_by: str = "createdAt|DESC",
        page_size: int = 100,
        workspace_ids: list[str] | None = None,
    ) -> Iterator[Job]: ...

    def list_job_details(
        self,
        *,
        workspace_ids: list[str] | None = None,
        connection_id: str | None = None,
        updated_at_start: datetime | None = None,
        page_size: int = 100,
    ) -> list[JobDetails] | None: ...


@dataclass(frozen=True)
class Answer:
    """The job as the watcher last saw it, with its version (bumped on every change).

    ``error`` is set when the watcher's last listing failed: the task counts it as a
    failed poll of its own. ``details`` are the ended job's attempts and counts when the
    listing that found its end or a hint's confirmation brought them (the task then does
    not fetch them again).
    """

    job: Job
    version: int
    error: str = ""
    details: JobDetails | None = None


class JobFeed(Protocol):
    """Where a waiting task asks for its job's next state (``JobWatcher`` in this process,
    ``WatchFeed`` from another); ``None`` means the watcher is gone: poll on your own."""

    def next(self, job: Job, scope: str, after: int, due_in: float, /) -> Answer | None: ...


@dataclass(frozen=True)
class _Ask:
    """A task's pending request: answered "still running" not before ``due``, by a
    listing that started at ``floor`` or later (``due`` less ``FRESH``, never before the
    request was made)."""

    due: float
    floor: float


@dataclass
class _Watched:
    job: Job
    scope: str
    version: int = 0
    refreshed: float = float("-inf")  # monotonic start of the last listing that covered it
    asked: float = 0.0  # monotonic time of the last request about it
    asks: list[_Ask] = field(default_factory=list)  # its task's pending requests
    error: str = ""
    details: JobDetails | None = None  # the ended job's details (a listing's, a hint's)
    follow: float | None = None  # when the watcher looks again on its own (``FOLLOW_GAP``)
    follows: int = 0  # own looks since the task's first due time
    looks: int = 0  # answers given to its task while the job ran

    def covers(self, ask: _Ask) -> bool:
        """Whether a listing recent enough for ``ask`` has seen the job."""
        return self.refreshed >= ask.floor

    def answer(self) -> Answer:
        details = self.details
        if details is not None and details.job.status is not self.job.status:
            details = None
        return Answer(self.job, self.version, self.error, details)


@dataclass
class TickBudget:
    """The watcher's token bucket: when the next listing may be made.

    ``tokens`` refill at ``rate`` a second up to ``capacity``; a tick spends one; each job
    end a listing finds credits ``end_credit`` (up to ``capacity``). Pure arithmetic on
    the times it is given, so its rule is tested on a fake clock.
    """

    rate: float = RATE
    capacity: float = CAPACITY
    end_credit: float = END_CREDIT
    tokens: float = CAPACITY
    at: float = float("-inf")  # time the tokens were last brought up to date

    def __post_init__(self) -> None:
        if not (self.rate > 0 and self.capacity >= 1 and self.end_credit >= 0):
            raise ValueError("TickBudget needs rate > 0, capacity >= 1 and end_credit >= 0")
        self.tokens = min(self.tokens, self.capacity)

    def _refill(self, now: float) -> None:
        if now > self.at:
            if self.at != float("-inf"):
                self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now

    def ready_at(self, now: float) -> float:
        """The earliest time (``now`` or later) a tick can be paid for."""
        self._refill(now)
        if self.tokens >= 1.0:
            return now
        return now + (1.0 - self.tokens) / self.rate

    def spend(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1.0

    def ended(self, jobs: int, now: float) -> None:
        """A listing found ``jobs`` job ends: credit them."""
        self._refill(now)
        self.tokens = min(self.capacity, self.tokens + jobs * self.end_credit)


def scope_for(connection_id: str, workspace_id: str | None) -> str:
    """The listing that covers a job: its workspace's, else its connection's own."""
    return f"ws:{workspace_id}" if workspace_id else f"conn:{connection_id}"


class JobWatcher:
    """Polls Airbyte for every watched job with one listing per scope and tick; read-only.

    Args:
        client: reads jobs (``get_job``, ``list_jobs``).
        rate, capacity, end_credit: the listing budget (``TickBudget``).
        min_gap: seconds between two ticks at least while the budget holds ``spare``
            listings or more; ``merge_gap`` below that.
        fresh: seconds a listing may precede a request's due time and answer it
            (``FRESH``).
        margin: seconds the ``updatedAtStart`` watermark is pulled back.
        follows, follow_gap: own looks after a due time that found the job running
            (``FOLLOWS``, ``FOLLOW_GAP``; 0 follows: none).
        clock: time source (monotonic for ticks, wall time as a last-resort watermark).
    """

    def __init__(
        self,
        client: JobListingAPI,
        *,
        rate: float = RATE,
        capacity: float = CAPACITY,
        end_credit: float = END_CREDIT,
        min_gap: float = MIN_GAP,
        merge_gap: float = MERGE_GAP,
        spare: float = SPARE,
        margin: float = MARGIN,
        follows: int = FOLLOWS,
        follow_gap: float = FOLLOW_GAP,
        fresh: float = FRESH,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.budget = TickBudget(rate=rate, capacity=capacity, end_credit=end_credit)
        self.min_gap = min_gap
        self.merge_gap = max(min_gap, merge_gap)
        self.spare = spare
        self.follows = follows
        self.follow_gap = follow_gap
        self.fresh = max(0.0, fresh)
        self.margin = timedelta(seconds=margin)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._jobs: dict[int, _Watched] = {}
        self._since: dict[str, datetime] = {}  # scope -> watermark (Airbyte's clock)
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._last_tick = float("-inf")
        self._errors = 0
        self._details_listing: bool | None = None  # None: not tried yet
        self.ticks = 0  # listings rounds done (for tests and benchmarks)
        self.listings = 0  # list requests sent (one per scope and page)
        self.ends = 0  # job ends found by listings (each credits the budget)

    # ------------------------------------------------------------------ life cycle

    def start(self) -> JobWatcher:
        self._thread = threading.Thread(target=self._loop, name="airbyte-job-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopped

    # ------------------------------------------------------------------ what tasks call

    def next(
        self, job: Job, scope: str, after: int, due_in: float, timeout: float | None = None
    ) -> Answer | None:
        """Block until a listing shows ``job`` ended (or failed) past version ``after``,
        or, at ``due_in`` seconds from now, for what a listing started after this call and
        no earlier than ``fresh`` before then saw. A job still running is never answered
        before ``due_in``: the task would count that as its poll and wait a whole poll
        interval more from it.

        Returns ``None`` if the watcher stopped, or nothing came within ``timeout``
        (default: ``due_in`` plus a minute): the caller then polls on its own.
        """
        now = self.clock.monotonic()
        due = now + max(0.0, due_in)
        limit = due + (60.0 if timeout is None else timeout)
        with self._cond:
            watched = self._watch(job, scope, now)
            if watched.version > after:
                return watched.answer()
            ask = self._ask(watched, now, due)
            self._cond.notify_all()
            try:
                while not self._stopped:
                    if watched.version > after and (
                        watched.job.status.is_terminal or watched.error
                    ):
                        break
                    # Only a listing that started after this request answers it (no
                    # spinning on an old one), and not before it is due.
                    at = self.clock.monotonic()
                    if watched.covers(ask) and at >= due:
                        break
                    remaining = limit - at
                    if remaining <= 0:
                        return None
                    wait = due - at if watched.covers(ask) else 1.0
                    self._cond.wait(max(0.0, min(remaining, wait)))
                else:
                    return None
            finally:
                watched.asks.remove(ask)
                watched.asked = self.clock.monotonic()
            if not watched.job.status.is_terminal and not watched.error:
                watched.looks += 1
            return watched.answer()

    def hint(self, job_id: int) -> None:
        """A push (webhook) says ``job_id`` may have ended: confirm it with one request now
        and publish what Airbyte says. The config API's job details where Airbyte has them
        (the ended job's counts go to its task with the answer), else ``GET /jobs/{id}``.
        A hint is never trusted on its own. One for a job not watched here, or for a job
        a listing already saw end (its task was told then, and fetches the details
        itself), sends no request."""
        with self._cond:
            watched = self._jobs.get(int(job_id))
            ended = watched is not None and watched.job.status.is_terminal
        if watched is None:
            logger.info("job watcher: hint for job %s, which is not watched here; ignored", job_id)
            return
        if ended:
            logger.debug("job watcher: hint for job %s, already seen ended; ignored", job_id)
            return
        details = self._confirming_details(int(job_id))
        try:
            job = details.job if details is not None else self.client.get_job(int(job_id))
        except AirbyteError as exc:
            logger.warning("job watcher: could not confirm job %s after a hint (%s)", job_id, exc)
            return
        with self._cond:
            self._update(job, self.clock.monotonic(), details)
            self._cond.notify_all()

    def _confirming_details(self, job_id: int) -> JobDetails | None:
        """The job's details to confirm a hint with; ``None`` (then ``GET /jobs/{id}``
        confirms it) without a config API, or when the details call failed."""
        try:
            details = self.client.get_job_details(job_id)
        except AirbyteError as exc:
            logger.info(
                "job watcher: no details of job %s after a hint (%s); asking GET", job_id, exc
            )
            return None
        if details is not None and details.job.job_id != job_id:
            return None  # not an answer about this job
        return details

    def watched(self) -> list[int]:
        with self._cond:
            return sorted(self._jobs)

    def watches_connection(self, connection_id: str) -> bool:
        """Whether a job of ``connection_id`` is watched here (a push for any other
        connection is none of this watcher's business)."""
        wanted = str(connection_id).lower()
        with self._cond:
            return any(w.job.connection_id.lower() == wanted for w in self._jobs.values())

    # ------------------------------------------------------------------ the tick

    def _watch(self, job: Job, scope: str, now: float) -> _Watched:
        watched = self._jobs.get(job.job_id)
        if watched is None:
            watched = _Watched(job=job, scope=scope, asked=now)
            self._jobs[job.job_id] = watched
            # Changes after what the task saw of the job must be listed.
            seen = job.last_updated_at or job.start_time
            if seen is None:
                seen = self.clock.now() - timedelta(minutes=10)
            old = self._since.get(scope)
            self._since[scope] = seen if old is None else min(old, seen)
        watched.asked = now
        return watched

    def _ask(self, watched: _Watched, now: float, due: float) -> _Ask:
        """Under the lock: ``watched``'s task asks at ``now`` for an answer at ``due``."""
        ask = _Ask(due=due, floor=max(now, due - self.fresh))
        watched.asks.append(ask)
        return ask

    def _loop(self) -> None:
        try:
            while True:
                scopes = self._wait_for_due()
                if scopes is None:
                    return
                self._tick(scopes)
        except Exception:  # a dead watcher leaves a trace; the tasks fall back
            logger.exception("job watcher: stopped by an unexpected error; tasks poll on their own")
            with self._cond:
                self._stopped = True
                self._cond.notify_all()

    def _wait_for_due(self) -> list[str] | None:
        """Sleep until a request falls due; the scopes to list then (``None``: stopped)."""
        with self._cond:
            while not self._stopped:
                now = self.clock.monotonic()
                plan = self._plan(now)
                if isinstance(plan, list):
                    return plan
                self._cond.wait(max(0.0, plan - now))
            return None

    def _plan(self, now: float) -> list[str] | float:
        """Under the lock: the scopes to list now (the tick is paid for), or the time to
        look again."""
        self._forget(now)
        # Requests a recent listing covers wait for their due time, not for a listing.
        open_ = [(w, [a.due for a in w.asks if not w.covers(a)]) for w in self._jobs.values()]
        waiting = [(w, dues) for w, dues in open_ if dues]
        following = [w for w in self._jobs.values() if w.follow is not None]
        self.budget.ready_at(now)  # brings the tokens up to date
        if following and self.budget.tokens < self.spare:
            for w in following:  # own looks spend only a spare budget; none now
                w.follow = None
            following = []
        if not waiting and not following:
            return now + 1.0
        dues = [d for _, ds in waiting for d in ds]
        at = self._next_tick(now, dues + [w.follow for w in following if w.follow is not None])
        if at > now:
            return at
        self.budget.spend(now)
        return sorted(
            {w.scope for w, ds in waiting if min(ds) <= now}
            | {w.scope for w in following if w.follow is not None and w.follow <= now}
        )

    def _next_tick(self, now: float, dues: list[float]) -> float:
        """When to list for requests falling due at ``dues``: when the earliest falls due
        (with those due within ``TOGETHER`` of it), not later to wait for others (see the
        module's docstring: that moved a run's tasks in waves), once the budget can pay
        for it and ``min_gap`` after the last tick; after a failed listing, not before
        its retry delay."""
        first = min(dues)
        last = max(d for d in dues if d <= first + TOGETHER)
        ready = self.budget.ready_at(now)
        gap = self.min_gap if self.budget.tokens >= self.spare else self.merge_gap
        at = max(last, self._last_tick + gap, ready)
        if self._errors:
            at = max(at, self._last_tick + _LIST_RETRY.delay(self._errors))
        return at

    def _forget(self, now: float) -> None:
        for job_id in [
            j for j, w in self._jobs.items() if not w.asks and now - w.asked > FORGET_AFTER
        ]:
            del self._jobs[job_id]

    def _tick(self, scopes: list[str]) -> None:
        started = self.clock.monotonic()
        self._last_tick = started
        self.ticks += 1
        failed = ""
        for scope in scopes:
            try:
                jobs = self._list(scope)
            except AirbyteError as exc:
                logger.warning("job watcher: listing %s failed (%s); retrying", scope, exc)
                failed = str(exc)
                continue
            with self._cond:
                ended = sum(self._update(job, started, details) for job, details in jobs)
                if ended:
                    self.budget.ended(ended, self.clock.monotonic())
                self.ends += ended
                for watched in self._jobs.values():
                    if watched.scope == scope:
                        watched.refreshed = started
                        watched.error = ""
                        self._follow_up(watched, started)
        with self._cond:
            self._errors = self._errors + 1 if failed else 0
            if failed:
                for watched in self._jobs.values():
                    if watched.scope in scopes and watched.refreshed < started:
                        watched.error = failed
                        watched.version += 1  # wake the task: it counts a failed poll
            self._cond.notify_all()

    def _follow_up(self, watched: _Watched, started: float) -> None:
        """Under the lock, after a listing that covered ``watched``: if its task's first
        due time had come and the job still runs, look again ``FOLLOW_GAP`` later
        (``FOLLOWS`` times in a row at most, ``follows``; only while the budget is spare,
        see ``_plan``). Only after the first: without history that look is where a short
        job's end is likely (just after it); later looks are the task's own, dense around
        the end its history predicts, and own looks there spent the budget the tasks'
        looks needed (``benchmarks/polling.py``: 30 % more listings, none sooner)."""
        if watched.job.status.is_terminal:
            watched.follow, watched.follows = None, 0
        elif self.follows and not watched.looks and any(watched.covers(a) for a in watched.asks):
            watched.follow, watched.follows = started + self.follow_gap, 1
        elif watched.follow is not None and watched.follow <= started:
            if watched.follows < self.follows:
                watched.follow, watched.follows = started + self.follow_gap, watched.follows + 1
            else:
                watched.follow = None

    def _list(self, scope: str) -> list[tuple[Job, JobDetails | None]]:
        """The jobs of ``scope`` changed since the watermark, each with its details when
        the listing brought them complete (see ``_listed_details``)."""
        kind, _, ident = scope.partition(":")
        with self._cond:
            since = self._since.get(scope)
        start = None if since is None else since - self.margin
        jobs = self._listed_details(kind, ident, start)
        if jobs is None:
            self.listings += 1
            pages = self.client.list_jobs(
                ident if kind == "conn" else None,
                workspace_ids=[ident] if kind == "ws" else None,
                updated_at_start=start,
                order_by="updatedAt|DESC",
                page_size=PAGE_SIZE,
            )
            jobs = [(job, None) for job in pages]
        self.listings += len(jobs) // PAGE_SIZE  # every further page is one more request
        newest = max((j.last_updated_at for j, _ in jobs if j.last_updated_at), default=None)
        if newest is not None:
            with self._cond:
                old = self._since.get(scope)
                self._since[scope] = newest if old is None else max(old, newest)
        return jobs

    def _listed_details(
        self, kind: str, ident: str, start: datetime | None
    ) -> list[tuple[Job, JobDetails | None]] | None:
        """The config API's listing (the one behind the public ``GET /jobs``), whose jobs
        come with their attempts and counts: an ended job's task then needs no details
        call of its own. ``None`` where Airbyte has no config API (or no such listing);
        the public listing is used from then on. Details are passed on only for an ended
        job whose job-level counts Airbyte hydrated (its ``HydrateAggregatedStats`` flag,
        on by default): without them a listing lacks the committed bytes."""
        if self._details_listing is False:
            return None
        try:
            found = self.client.list_job_details(
                workspace_ids=[ident] if kind == "ws" else None,
                connection_id=ident if kind == "conn" else None,
                updated_at_start=start,
                page_size=PAGE_SIZE,
            )
        except AirbyteAPIError as exc:
            if not _listing_unusable(exc):
                raise  # a 5xx, a 429, a refused credential: this listing failed, not the API
            logger.warning("job watcher: the config API's job listing failed (%s)", exc)
            found = None
        if found is None:
            self._details_listing = False
            logger.info("job watcher: no config-API job listing here; using GET /jobs")
            return None
        self._details_listing = True
        self.listings += 1
        return [
            (d.job, d if d.job.status.is_terminal and d.stats.bytes_synced is not None else None)
            for d in found
        ]

    def _update(self, job: Job, at: float, details: JobDetails | None = None) -> bool:
        """Take in ``job`` as seen at ``at`` (with its ``details`` when a confirmation
        fetched them); whether it is a watched job's end, new."""
        watched = self._jobs.get(job.job_id)
        if watched is None:
            return False
        watched.refreshed = max(watched.refreshed, at)
        watched.error = ""
        if details is not None and job.status.is_terminal:
            watched.details = details
        if _state(job) == _state(watched.job):
            return False
        ended = job.status.is_terminal and not watched.job.status.is_terminal
        watched.job = job
        watched.version += 1
        return ended


def _listing_unusable(exc: AirbyteAPIError) -> bool:
    """Whether this Airbyte's config-API job listing is of no use to the watcher: absent
    (404: an older Airbyte), refusing the request's fields (400, 422), or answering what
    cannot be read (a 2xx). The public listing serves from then on; a job the unreadable
    answer held is not skipped by the watermark, which only the readable listing moves."""
    status = exc.status_code
    return isinstance(exc, NotFoundError) or status in (400, 422) or 200 <= status < 300


def _state(job: Job) -> tuple[object, ...]:
    return (
        job.status,
        job.raw_status,
        job.rows_synced,
        job.bytes_synced,
        job.last_updated_at,
        job.duration,
    )


__all__ = [
    "CAPACITY",
    "END_CREDIT",
    "FOLLOWS",
    "FOLLOW_GAP",
    "FRESH",
    "MIN_GAP",
    "PAGE_SIZE",
    "MERGE_GAP",
    "RATE",
    "SPARE",
    "TOGETHER",
    "Answer",
    "JobFeed",
    "JobListingAPI",
    "JobWatcher",
    "TickBudget",
    "scope_for",
]
