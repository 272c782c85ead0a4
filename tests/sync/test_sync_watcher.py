"""The host's job watcher: shared listings, its channel, and the fallback when it is gone.

``Waiter`` tests run on the ``FakeClock`` with a scripted feed; the watcher and its
socket run in real (short) time against a small listing fake.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sync_fakes import CONN, FakeAirbyte
from watch_fakes import T0, Listing, job

from luigi_airbyte.airbyte.models import Job, JobStatus
from luigi_airbyte.observe.events import ListEmitter
from luigi_airbyte.store.ledger import InMemoryLedger
from luigi_airbyte.sync import AdaptivePolling, FakeClock, SyncRunner, SyncSettings
from luigi_airbyte.sync.watch_channel import WatchFeed, WatchServer, job_to_wire, socket_path
from luigi_airbyte.sync.watcher import (
    CAPACITY,
    END_CREDIT,
    FOLLOW_GAP,
    FOLLOWS,
    FRESH,
    MERGE_GAP,
    RATE,
    SPARE,
    Answer,
    JobWatcher,
    _Ask,
    _Watched,
)

# ---------------------------------------------------------------- the waiting task's side


class ScriptedFeed:
    """A watcher that answers from the fake Airbyte after the due time, on the fake clock."""

    def __init__(self, fake: FakeAirbyte, clock: FakeClock, *, gone_after: int | None = None):
        self.fake, self.clock, self.gone_after = fake, clock, gone_after
        self.asked: list[float] = []
        self.version = 0

    def next(self, job: Job, scope: str, after: int, due_in: float) -> Answer | None:
        self.asked.append(due_in)
        if self.gone_after is not None and len(self.asked) > self.gone_after:
            return None
        self.clock.sleep(due_in)
        self.version += 1
        return Answer(self.fake._job(self.fake.jobs[job.job_id]), self.version)


def runner(fake: FakeAirbyte, clock: FakeClock, feed: Any, emitter: ListEmitter) -> SyncRunner:
    settings = SyncSettings(poll_strategy=AdaptivePolling(), stuck_after=None)
    return SyncRunner(
        fake, InMemoryLedger(), emitter=emitter, clock=clock, settings=settings, feed=feed
    )


def test_with_a_watcher_the_task_never_polls_its_job(
    fake: FakeAirbyte, clock: FakeClock, emitter: ListEmitter
) -> None:
    feed = ScriptedFeed(fake, clock)
    result = runner(fake, clock, feed, emitter).run(CONN, "k")
    assert result.status is JobStatus.SUCCEEDED
    assert fake.calls.count("get_job") == 0
    assert len(feed.asked) >= 3


def test_the_task_keeps_its_adaptive_timing_through_the_watcher(
    fake: FakeAirbyte, clock: FakeClock, emitter: ListEmitter
) -> None:
    # No history: dense right after the trigger (1 s, growing with the elapsed time).
    fresh = ScriptedFeed(fake, clock)
    runner(fake, clock, fresh, emitter).run(CONN, "fresh")
    assert fresh.asked[0] == pytest.approx(AdaptivePolling().initial)
    # With history (jobs of 60 s): the first wait sleeps most of the way to the end.
    fake.add_history(CONN, [60.0, 60.0, 60.0])
    fake.script = lambda: [("running", 60.0), ("succeeded", None)]
    guided = ScriptedFeed(fake, clock)
    runner(fake, clock, guided, emitter).run(CONN, "guided")
    assert guided.asked[0] > 20.0
    assert min(guided.asked) <= AdaptivePolling().dense


def test_a_watcher_that_goes_away_leaves_the_task_polling_its_own_job(
    fake: FakeAirbyte, clock: FakeClock, emitter: ListEmitter
) -> None:
    feed = ScriptedFeed(fake, clock, gone_after=1)
    result = runner(fake, clock, feed, emitter).run(CONN, "k")
    assert result.status is JobStatus.SUCCEEDED
    assert len(feed.asked) == 2  # never asked again once it failed to answer
    assert fake.calls.count("get_job") >= 1
    assert [e.name for e in emitter.events].count("sync.watcher_lost") == 1


# ---------------------------------------------------------------- the watcher itself


def ask_all(w: JobWatcher, jobs: list[Job], due_in: float) -> list[Answer | None]:
    answers: list[Answer | None] = [None] * len(jobs)

    def one(i: int) -> None:
        answers[i] = w.next(jobs[i], "ws:W", 0, due_in, timeout=5)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return answers


def test_one_listing_answers_every_job_due_in_a_tick(watcher: JobWatcher, listing: Listing) -> None:
    jobs = [job(i) for i in range(1, 11)]
    listing.jobs = {j.job_id: j for j in jobs}
    answers = ask_all(watcher, jobs, 0.3)
    assert all(a is not None and a.job.status is JobStatus.RUNNING for a in answers)
    assert len(listing.lists) == 1
    (call,) = listing.lists
    assert call["workspace_ids"] == ["W"] and call["order_by"] == "updatedAt|DESC"
    assert call["updated_at_start"] <= T0  # no change since the task's view can be missed
    assert listing.gets == []


class TimedListing(Listing):
    """A listing that notes when each call began (monotonic)."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[float] = []

    def list_jobs(self, connection_id: str | None = None, **kwargs: Any) -> Iterator[Job]:
        self.started.append(time.monotonic())
        return super().list_jobs(connection_id, **kwargs)


def ask_at(w: JobWatcher, plan: list[tuple[Job, float]]) -> list[tuple[float, float, Answer]]:
    """Ask about each job from its own thread, due ``due_in`` from now; for each answer,
    (due time, time answered, answer), monotonic."""
    out: list[tuple[float, float, Answer]] = []

    def one(j: Job, due_in: float) -> None:
        due = time.monotonic() + due_in
        answer = w.next(j, "ws:W", 0, due_in, timeout=5)
        assert answer is not None
        out.append((due, time.monotonic(), answer))

    threads = [threading.Thread(target=one, args=p) for p in plan]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return out


def test_no_task_is_answered_before_its_due_time() -> None:
    # Tasks triggered together ask at slightly different times. Answering the later ones
    # from the earliest one's listing (early) finds a 1 s job still running, and each such
    # task then waits a whole poll interval more: a 1 s sync took 2 s instead of 1 s.
    listing = TimedListing()
    jobs = [job(i) for i in range(1, 4)]
    listing.jobs = {j.job_id: j for j in jobs}
    w = JobWatcher(listing).start()
    try:
        answered = ask_at(w, list(zip(jobs, (0.1, 0.2, 0.3), strict=True)))
    finally:
        w.stop()
    assert len(answered) == 3
    for due, _, answer in answered:
        assert answer.job.status is JobStatus.RUNNING
        # the listing that answered it started no earlier than FRESH before its due time
        assert any(due - FRESH <= started for started in listing.started)
    assert all(at >= due for due, at, _ in answered)


def test_a_task_is_not_held_back_for_requests_due_later() -> None:
    # Holding the first request until the last one due within a tick fell due answered a
    # run's tasks together: they finished, forked and wrote the store at the same moment
    # and the run's workers moved in lock-step waves (N=100, 8 workers: 8 tasks answered
    # within 50 ms of each other, 2.5 s slower than polling each job).
    listing = TimedListing()
    listing.jobs = {1: job(1), 2: job(2)}
    w = JobWatcher(listing, follows=0).start()  # no own looks: only the tasks' due times
    try:
        answered = sorted(ask_at(w, [(job(1), 0.1), (job(2), 0.45)]))
    finally:
        w.stop()
    (due1, at1, _), (due2, at2, _) = answered
    assert due1 <= at1 < due2  # the first was answered at its own due time
    assert at2 >= due2
    assert len(listing.started) == 2


def test_requests_due_together_share_one_listing(listing: Listing) -> None:
    w = JobWatcher(listing).start()
    try:
        jobs = [job(i) for i in range(1, 6)]
        listing.jobs = {j.job_id: j for j in jobs}
        answered = ask_at(w, [(j, 0.2) for j in jobs])  # due within a few ms
    finally:
        w.stop()
    assert len(answered) == 5 and len(listing.lists) == 1


# ---------------------------------------------------------------- when to list (fake clock)


class Drive:
    """Runs a watcher's tick loop on a ``FakeClock``, one event at a time: the tasks' asks
    (``ask``), job ends (``end``) and the listings they cause, with no thread and no real
    time. Records each listing's time and each answer's."""

    def __init__(self, **budget: Any) -> None:
        self.clock = FakeClock()
        self.listing = Listing()
        self.w = JobWatcher(self.listing, clock=self.clock, **budget)
        self.events: list[tuple[float, int, str, Any]] = []  # (time, order, kind, what)
        self.pending: list[tuple[_Watched, _Ask, int]] = []
        self.ticks: list[float] = []
        self.answered: dict[int, list[tuple[float, float, str]]] = {}  # job -> (due, at, status)
        self._order = 0

    def at(self, t: float, kind: str, what: Any) -> None:
        self._order += 1
        self.events.append((t, self._order, kind, what))

    def ask(self, t: float, job_id: int, due_in: float) -> None:
        self.at(t, "ask", (job_id, due_in))

    def end(self, t: float, job_id: int) -> None:
        self.at(t, "end", job_id)

    def _apply(self, kind: str, what: Any, now: float) -> None:
        if kind == "ask":
            job_id, due_in = what
            if any(status != "running" for _, _, status in self.answered.get(job_id, [])):
                return  # the task learnt its job's end: it asks no more
            j = self.listing.jobs.setdefault(job_id, job(job_id))
            with self.w._cond:
                watched = self.w._watch(j, "ws:W", now)
                ask = self.w._ask(watched, now, now + due_in)
            self.pending.append((watched, ask, job_id))
        else:
            self.listing.jobs[what] = job(what, "succeeded", at=int(now) + 1)

    def _answer(self, now: float) -> None:
        for item in list(self.pending):
            watched, ask, job_id = item
            # as ``JobWatcher.next``: a covered request at its due time, an end at once
            due = ask.due
            if (watched.covers(ask) and now >= due - 1e-9) or (
                watched.version and watched.job.status.is_terminal
            ):
                watched.asks.remove(ask)
                self.pending.remove(item)
                status = watched.job.status.value
                if not watched.job.status.is_terminal:
                    watched.looks += 1  # as ``JobWatcher.next`` counts a running answer
                self.answered.setdefault(job_id, []).append((due, now, status))

    def run(self, until: float) -> Drive:
        self.events.sort()
        while True:
            now = self.clock.monotonic()
            while self.events and self.events[0][0] <= now + 1e-9:
                _, _, kind, what = self.events.pop(0)
                self._apply(kind, what, now)
            with self.w._cond:
                plan = self.w._plan(now)
            if isinstance(plan, list):
                self.ticks.append(now)
                self.w._tick(plan)
                self._answer(now)
                continue
            self._answer(now)  # requests a listing covered, at their due times
            held = [a.due for w, a, _ in self.pending if w.covers(a) and a.due > now]
            wake = min([plan, until] + held + [e[0] for e in self.events[:1]])
            if wake >= until:
                return self
            self.clock.advance(max(wake - now, 1e-6))


def test_a_request_is_listed_at_its_due_time_with_many_tasks_waiting() -> None:
    # Twenty tasks wait on long jobs; four more fall due at 0.1, 0.4, 1.0 and 1.3 s. The
    # budget holds 2 listings or more at each, so each is listed at its own due time (the
    # old rule: more than 8 waiting, ticks at least 0.6 s apart after the first 3, so the
    # fourth waited 0.3 s, and a job's end 0.3 s on average for the next listing).
    d = Drive(follows=0)  # no own looks (see the tests below): only the tasks' due times
    for i in range(20):
        d.ask(0.0, 100 + i, 30.0)
    dues = [0.1, 0.4, 1.0, 1.3]
    for k, due in enumerate(dues):
        d.ask(0.0, 1 + k, due)
    d.run(until=5.0)
    assert d.ticks == pytest.approx(dues)
    for k in range(4):
        ((due, at, status),) = d.answered[1 + k]
        assert at == pytest.approx(due) and status == "running"


def test_a_job_seen_running_at_its_due_time_is_looked_at_again_soon() -> None:
    # A 1 s job without history: its task looks at 1.0 s, the job ends a few ms later, and
    # the task's own next look is 0.25 s away. The watcher looks again FOLLOW_GAP later
    # on its own (its budget is spare) and wakes the task then.
    def learnt(**options: Any) -> float:
        d = Drive(**options)
        d.ask(0.0, 1, 1.0)
        d.end(1.01, 1)
        d.ask(1.0, 1, 0.25)  # the task asks again after its answer at 1.0
        d.run(until=3.0)
        ((at, status),) = [(at, s) for _, at, s in d.answered[1] if s != "running"]
        assert status == "succeeded"
        return at

    assert learnt() == pytest.approx(1.0 + FOLLOW_GAP)
    assert learnt(follows=0) == pytest.approx(1.25)  # the task's own next look


def test_own_looks_stop_after_a_few_and_never_spend_a_low_budget() -> None:
    def ticks(**budget: Any) -> list[float]:
        d = Drive(**budget)
        d.ask(0.0, 1, 1.0)
        d.ask(1.0, 1, 10.0)  # the job runs on; the task looks again in 10 s
        return d.run(until=5.0).ticks

    # A budget with room for more: FOLLOWS own looks, then none until the task's time.
    assert ticks() == pytest.approx([1.0 + FOLLOW_GAP * k for k in range(FOLLOWS + 1)])
    # A budget of 3 listings: an own look only while SPARE (2) are left before it.
    assert ticks(capacity=3.0) == pytest.approx([1.0, 1.0 + FOLLOW_GAP])
    assert ticks(capacity=1.5) == pytest.approx([1.0])  # never SPARE in hand: none


def test_only_a_tasks_first_look_is_followed() -> None:
    # Later looks are the task's own, dense where its history puts the end; own looks
    # there spent the budget those needed (benchmarks/polling.py).
    d = Drive(capacity=6.0)
    d.ask(0.0, 1, 1.0)
    d.ask(1.0, 1, 2.0)  # its second look, at 3.0
    d.ask(3.0, 1, 10.0)
    d.run(until=6.0)
    assert d.ticks == pytest.approx([1.0, 1.05, 1.1, 3.0])


def test_once_the_budget_runs_low_requests_close_together_share_a_listing() -> None:
    # Eight tasks ask every 0.1 s, staggered (a run of short syncs asks in waves): past the
    # first listings, ticks are MERGE_GAP apart and each answers several tasks, instead of
    # one listing per request 50 ms apart until the budget is gone.
    d = Drive()
    for i in range(8):
        for k in range(20):
            d.ask(0.1 * k + 0.0125 * i, 1 + i, 0.05)
    d.run(until=2.0)
    gaps = [b - a for a, b in itertools.pairwise(d.ticks)]
    assert gaps[0] < 0.1  # a full budget: the next request on time
    # until the budget is down to SPARE (a tick spends one, minus what refilled meanwhile)
    quick = int(CAPACITY - SPARE) + 1
    assert all(g >= MERGE_GAP - 1e-6 for g in gaps[quick:])
    assert len(gaps) > quick + 1
    answered = sum(len(v) for v in d.answered.values())
    assert answered >= 3 * len(d.ticks)


def test_a_wave_of_first_looks_leaves_the_budget_for_the_looks_that_find_the_ends() -> None:
    # Eight workers trigger 1 s jobs together (a run's first wave, no history): the first
    # looks fall due 10-17.5 ms apart and each job ends 70 ms after its task's due time.
    # Listed each at its own time, the wave spent the budget while every job still ran, so
    # no own look was left and the ends waited for the tasks' next looks 0.25 s later
    # (scale.py, N = 10 on 8 workers: 1.44-1.46x in 3 runs of 5). A listing at most FRESH
    # before a due time answers it at that time, so the budget lasts until the ends.
    def late(gap: float, **options: Any) -> float:
        d = Drive(**options)
        ends = {}
        for i in range(8):
            due = 1.0 + gap * i
            d.ask(gap * i, 1 + i, 1.0)
            d.end(due + 0.07, 1 + i)
            ends[1 + i] = due + 0.07
            d.ask(due, 1 + i, 0.25)  # the task's next look, after its "still running"
        d.run(until=3.0)
        learnt = {j: at for j, got in d.answered.items() for _, at, s in got if s != "running"}
        assert sorted(learnt) == sorted(ends)
        return max(learnt[j] - ends[j] for j in ends)

    for gap in (0.01, 0.0125, 0.015, 0.0175):
        assert late(gap) <= FOLLOW_GAP + 0.01
        assert late(gap, fresh=0.0) >= 0.2  # each listed at its own time: budget spent


def test_tasks_asking_all_the_time_cost_at_most_the_budget() -> None:
    # Replaces "with many tasks waiting, ticks are further apart": ticks are further apart
    # when the budget is spent, however many tasks ask (2 or 50), and never closer than
    # the budget allows (the old rule listed 4 times a second while 8 or fewer waited).
    def ticks(tasks: int, seconds: float = 20.0) -> list[float]:
        d = Drive()
        for i in range(tasks):
            for k in range(int(seconds / 0.1)):
                d.ask(0.1 * k + 0.01 * i, 1 + i, 0.05)
        return d.run(until=seconds).ticks

    for tasks in (2, 50):
        made = ticks(tasks)
        assert len(made) <= CAPACITY + RATE * 20.0 + 1
        assert len(made) >= RATE * 20.0 - 1  # the budget is spent, not left unused
        steady = made[int(CAPACITY) + 1 :]
        gaps = [b - a for a, b in itertools.pairwise(steady)]
        assert min(gaps) >= 1 / RATE - 1e-6


def test_job_ends_found_by_a_listing_credit_the_budget() -> None:
    # Eight tasks in a loop of 1 s jobs (as 8 workers): each end a listing finds pays for
    # END_CREDIT listing more, so while syncs end the watcher may list more often than its
    # refill alone allows; without ends it may not. (The old rule ignored ends.)
    def run(ending: bool) -> Drive:
        d = Drive()
        for i in range(8):
            for k in range(10):
                start = 1.1 * k + 0.13 * i
                jid = 1000 * (i + 1) + k
                d.ask(start, jid, 1.0)
                if ending:
                    d.end(start + 1.02, jid)
                for extra in range(1, 4):  # asks again every 0.25 s until it learns
                    d.ask(start + 1.0 + 0.25 * extra, jid, 0.0)
        return d.run(until=T)

    T = 13.0  # past the last task's last ask (12.56 s)
    with_ends, without = run(ending=True), run(ending=False)
    assert with_ends.w.ends == 80
    assert len(without.ticks) <= CAPACITY + RATE * T + 1
    assert len(with_ends.ticks) > CAPACITY + RATE * T + 1
    assert len(with_ends.ticks) <= CAPACITY + RATE * T + END_CREDIT * 80 + 1


def test_a_wave_of_requests_is_answered_in_a_burst() -> None:
    # Three tasks triggered within 200 ms of each other: each is answered at its own due
    # time (the first BURST listings 50 ms apart), not min_tick after the previous one.
    listing = TimedListing()
    jobs = [job(i) for i in range(1, 4)]
    listing.jobs = {j.job_id: j for j in jobs}
    w = JobWatcher(listing).start()
    try:
        answered = ask_at(w, list(zip(jobs, (0.1, 0.2, 0.3), strict=True)))
    finally:
        w.stop()
    assert len(answered) == 3
    assert all(due <= at < due + 0.3 for due, at, _ in answered)


def test_a_change_that_is_not_the_end_does_not_answer_early(
    watcher: JobWatcher, listing: Listing
) -> None:
    # A task answered early with its job still running counts that as its poll and waits
    # a whole poll interval more from it, past the job's end.
    listing.jobs = {1: job(1, "pending"), 2: job(2)}
    done: list[Answer | None] = []
    thread = threading.Thread(target=lambda: done.append(watcher.next(job(1), "ws:W", 0, 30.0)))
    thread.start()
    time.sleep(0.1)
    listing.jobs[1] = job(1, "running", at=2)  # it moved, but has not ended
    assert watcher.next(job(2), "ws:W", 0, 0.0, timeout=5) is not None  # a listing saw it
    time.sleep(0.3)
    assert not done  # still waiting for its due time
    listing.jobs[1] = job(1, "succeeded", at=4)
    time.sleep(0.25)  # past min_tick
    assert watcher.next(job(2), "ws:W", 0, 0.0, timeout=5) is not None
    thread.join(5)
    assert done and done[0] is not None and done[0].job.status is JobStatus.SUCCEEDED


def test_a_change_wakes_the_task_before_its_due_time(watcher: JobWatcher, listing: Listing) -> None:
    listing.jobs = {1: job(1), 2: job(2)}
    done: list[Answer | None] = []
    started = time.monotonic()
    thread = threading.Thread(target=lambda: done.append(watcher.next(job(1), "ws:W", 0, 30.0)))
    thread.start()
    time.sleep(0.1)
    listing.jobs[1] = job(1, "succeeded", at=5)
    # Another task's request makes the watcher list; the first one learns of its change.
    assert watcher.next(job(2), "ws:W", 0, 0.0, timeout=5) is not None
    thread.join(5)
    assert done and done[0] is not None and done[0].job.status is JobStatus.SUCCEEDED
    assert time.monotonic() - started < 5


def test_a_hint_confirms_the_job_with_one_get(watcher: JobWatcher, listing: Listing) -> None:
    listing.jobs = {1: job(1)}
    done: list[Answer | None] = []
    thread = threading.Thread(target=lambda: done.append(watcher.next(job(1), "ws:W", 0, 30.0)))
    thread.start()
    time.sleep(0.1)
    listing.jobs[1] = job(1, "succeeded", at=5)
    watcher.hint(1)
    thread.join(5)
    assert done and done[0] is not None and done[0].job.status is JobStatus.SUCCEEDED
    assert listing.gets == [1]
    watcher.hint(99)  # not watched here: ignored, no request
    assert listing.gets == [1]


def test_a_crashed_watcher_answers_none(watcher: JobWatcher, listing: Listing) -> None:
    listing.boom = True
    assert watcher.next(job(1), "ws:W", 0, 0.0, timeout=5) is None
    assert not watcher.alive


# ---------------------------------------------------------------- the channel


def test_the_wire_format_reads_back_as_the_same_job() -> None:
    original = Job.from_api(
        {
            "jobId": 7,
            "status": "running",
            "jobType": "sync",
            "connectionId": CONN,
            "startTime": "2026-01-15T12:00:00Z",
            "lastUpdatedAt": "2026-01-15T12:00:09Z",
            "duration": "PT9S",
            "rowsSynced": 5,
            "bytesSynced": 50,
        }
    )
    assert Job.from_api(job_to_wire(original)) == original


def test_the_feed_answers_through_the_socket(
    watcher: JobWatcher, listing: Listing, tmp_path: Path
) -> None:
    listing.jobs = {1: job(1, "succeeded", at=3)}
    server = WatchServer(watcher, socket_path(tmp_path, "r1"))
    try:
        answer = WatchFeed(server.path).next(job(1), "ws:W", 0, 0.1)
    finally:
        server.close()
    assert answer is not None and answer.job.status is JobStatus.SUCCEEDED
    assert not server.path.exists()


def test_closing_the_channel_does_not_wait_for_the_server_loop(
    watcher: JobWatcher, tmp_path: Path
) -> None:
    # socketserver's loop checks for shutdown every 0.5 s by default: every run's end
    # waited for it (0.25 s on average).
    took = 0.0
    for i in range(10):
        server = WatchServer(watcher, socket_path(tmp_path, f"r{i}"))
        time.sleep(0.01)
        started = time.monotonic()
        server.close()
        took += time.monotonic() - started
    assert took < 1.5


def test_a_removed_socket_answers_none_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    assert WatchFeed(tmp_path / "gone.sock").next(job(1), "ws:W", 0, 5.0) is None
    assert time.monotonic() - started < 1.0


def test_a_silent_watcher_answers_none_after_the_grace(tmp_path: Path) -> None:
    path = tmp_path / "silent.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.bind(str(path))
        silent.listen(8)  # accepts connections, never answers
        started = time.monotonic()
        answer = WatchFeed(path, grace=0.3).next(job(1), "ws:W", 0, 0.2)
        took = time.monotonic() - started
    assert answer is None
    assert 0.4 <= took < 3.0


def test_the_watcher_knows_which_connections_it_watches(
    watcher: JobWatcher, listing: Listing
) -> None:
    listing.jobs = {1: job(1)}
    assert not watcher.watches_connection(CONN)
    assert watcher.next(job(1), "ws:W", 0, 0.0, timeout=5) is not None
    assert watcher.watches_connection(CONN.upper())
    assert not watcher.watches_connection("00000000-0000-4000-8000-000000000001")


def test_a_socket_left_by_a_killed_run_is_removed_and_a_live_one_kept(
    watcher: JobWatcher, tmp_path: Path
) -> None:
    live = WatchServer(watcher, socket_path(tmp_path, "live-run"))
    dead = tmp_path / "watch-dead-run.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as gone:
        gone.bind(str(dead))  # bound, never listening: what a killed run leaves behind
    try:
        path = socket_path(tmp_path, "next-run")
        assert not dead.exists()
        assert live.path.exists() and path.parent == tmp_path
    finally:
        live.close()
