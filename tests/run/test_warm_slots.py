"""With ``--workers`` > 1, syncs run in warm slots: a few long-lived processes, one per
worker process, instead of a fork per task (``tasks/warm_slots.py``). Luigi's worker sees
each one as the process it would have forked: results, failures and deaths included.

Real Luigi (``run_graph``, local scheduler), tasks that write the pid they ran in.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import luigi
import psutil
import pytest

from luigi_airbyte.tasks import warm_slots
from luigi_airbyte.tasks.build import WorkerOptions, run_graph


class Warm(luigi.Task):
    """Marked like a sync: a worker may run it in a warm slot."""

    warm_process = True
    folder = luigi.Parameter()
    i = luigi.IntParameter()
    die = luigi.BoolParameter(default=False)
    fail = luigi.BoolParameter(default=False)
    after = luigi.IntParameter(default=-1)  # a Killer's number to wait for

    def requires(self) -> list[luigi.Task]:
        return [Killer(folder=self.folder, i=self.after)] if self.after >= 0 else []

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(Path(self.folder, f"warm-{self.i}.pid")))

    def run(self) -> None:
        if self.die:
            os._exit(3)  # the process dies without a result
        if self.fail:
            raise RuntimeError("this task fails")
        with self.output().open("w") as f:
            f.write(str(os.getpid()))


class Killer(luigi.Task):
    """Not marked: forked per task. Kills the (idle) slot that ran ``Warm(i)``."""

    folder = luigi.Parameter()
    i = luigi.IntParameter()

    def requires(self) -> list[luigi.Task]:
        return [Warm(folder=self.folder, i=self.i)]

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(Path(self.folder, f"killer-{self.i}.pid")))

    def run(self) -> None:
        slot = int(Path(self.folder, f"warm-{self.i}.pid").read_text())
        os.kill(slot, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while psutil.pid_exists(slot) and psutil.Process(slot).status() != "zombie":
            assert time.monotonic() < deadline, "the slot did not die"
            time.sleep(0.01)
        with self.output().open("w") as f:
            f.write(str(os.getpid()))


def _pids(folder: Path, prefix: str) -> dict[int, int]:
    return {int(p.stem.split("-")[1]): int(p.read_text()) for p in folder.glob(f"{prefix}-*.pid")}


@pytest.fixture(autouse=True)
def _warm_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(warm_slots.ENV, raising=False)


def test_warm_tasks_run_in_one_process_per_worker_not_one_each(tmp_path: Path) -> None:
    tasks = [Warm(folder=str(tmp_path), i=i) for i in range(8)]

    outcome = run_graph(tasks, workers=2, options=WorkerOptions(keep_alive=False))

    assert outcome.succeeded, outcome.summary_text
    pids = set(_pids(tmp_path, "warm").values())
    assert len(_pids(tmp_path, "warm")) == 8
    assert len(pids) <= 2, pids  # a fork per task: 8
    assert os.getpid() not in pids
    assert not any(psutil.pid_exists(p) for p in pids), "a slot outlived the run"


def test_switched_off_each_task_gets_a_process_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(warm_slots.ENV, "off")
    tasks = [Warm(folder=str(tmp_path), i=i) for i in range(4)]

    outcome = run_graph(tasks, workers=2, options=WorkerOptions(keep_alive=False))

    assert outcome.succeeded, outcome.summary_text
    assert len(set(_pids(tmp_path, "warm").values())) == 4


def test_a_slot_that_dies_mid_task_fails_that_task_only(tmp_path: Path) -> None:
    folder = str(tmp_path)
    dies = Warm(folder=folder, i=0, die=True)
    others = [Warm(folder=folder, i=i) for i in range(1, 5)]

    outcome = run_graph([dies, *others], workers=2, options=WorkerOptions(keep_alive=False))

    assert not outcome.succeeded
    assert outcome.ids("failed") == [dies.task_id], outcome.summary_text
    assert sorted(_pids(tmp_path, "warm")) == [1, 2, 3, 4]


def test_a_task_that_raises_is_reported_and_its_slot_runs_the_next(tmp_path: Path) -> None:
    folder = str(tmp_path)
    fails = Warm(folder=folder, i=0, fail=True)
    others = [Warm(folder=folder, i=i) for i in range(1, 6)]

    outcome = run_graph([fails, *others], workers=2, options=WorkerOptions(keep_alive=False))

    assert outcome.ids("failed") == [fails.task_id], outcome.summary_text
    assert len(set(_pids(tmp_path, "warm").values())) <= 2


def test_a_slot_killed_while_idle_is_replaced(tmp_path: Path) -> None:
    folder = str(tmp_path)
    # Warm(0) -> Killer(0) kills Warm(0)'s idle slot -> Warm(1) needs a slot again.
    last = Warm(folder=folder, i=1, after=0)
    killer = Killer(folder=folder, i=0)
    assert last.requires() == [killer]

    outcome = run_graph([last], workers=2, options=WorkerOptions(keep_alive=False))

    assert outcome.succeeded, outcome.summary_text
    warm = _pids(tmp_path, "warm")
    assert warm[0] != warm[1]  # a new slot
    assert _pids(tmp_path, "killer")[0] not in warm.values()  # unmarked: a fork of its own


class Scoped(luigi.WrapperTask):
    """A root over warm tasks with a ``process_scope``, as the pipeline's root."""

    warm_process = True
    folder = luigi.Parameter()

    def requires(self) -> list[luigi.Task]:
        return [Warm(folder=self.folder, i=i) for i in range(3)]

    def process_scope(self) -> contextlib.AbstractContextManager[None]:
        folder = Path(str(self.folder))

        @contextlib.contextmanager
        def scope() -> Iterator[None]:
            (folder / "scope-in").write_text(str(os.getpid()))
            yield
            (folder / "scope-out").write_text(str(os.getpid()))

        return scope()

    def run(self) -> None:
        folder = Path(str(self.folder))
        assert (folder / "scope-in").exists() and not (folder / "scope-out").exists()
        (folder / "root.pid").write_text(str(os.getpid()))


def test_a_warm_root_runs_in_a_slot_inside_its_process_scope(tmp_path: Path) -> None:
    """The pipeline's root runs last in a free slot, not a fork of the grown run process,
    and Luigi's check of its dependencies happens inside its scope (one scheduling pass)."""
    outcome = run_graph([Scoped(folder=str(tmp_path))], workers=2, options=WorkerOptions())

    assert outcome.succeeded, outcome.summary_text
    slots = set(_pids(tmp_path, "warm").values())
    root = int((tmp_path / "root.pid").read_text())
    assert root in slots, (root, slots)
    assert int((tmp_path / "scope-in").read_text()) == root
    assert int((tmp_path / "scope-out").read_text()) == root


def test_a_slots_first_task_imports_nothing_for_its_date_parameter() -> None:
    # A slot is forked from the run process: what its first task needs and the run process
    # never imported, each slot imports on its own, 8 at once in a run's first wave. Its
    # task's date parameter parses with strptime, whose first call imported _strptime
    # (1.5-24 ms a slot in scale.py's first wave on 2 CPUs). Fresh interpreter: in this
    # one an earlier test parsed a date already.
    probe = (
        "import sys, luigi, luigi_airbyte.tasks.warm_slots\n"
        "before = set(sys.modules)\n"
        "luigi.DateParameter().parse('2026-11-24')\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
