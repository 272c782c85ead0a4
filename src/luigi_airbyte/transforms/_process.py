"""Run one child process in its own process group, and make sure nothing it started outlives it.

Why the care: Luigi's timeout sends SIGTERM to the task process only, and a JVM started
by ``spark-submit`` or a dbt thread pool will happily keep running as orphans (and keep
writing to the warehouse). So the child gets a new session (its own process group),
and on timeout, SIGTERM or Ctrl-C we signal the whole group, plus any descendant that
left the group (found with psutil when it is installed), TERM first and KILL after a
grace period. When the child exits normally, leftovers in its group are killed too,
before the leader is reaped so its group id cannot be reused meanwhile.

And when *we* die without a chance to clean up (``kill -9`` of the run, a worker lost),
the child must not live on: a dbt left running holds the warehouse's lock and writes
under the recovery run. On Linux the child asks the kernel, through a tiny launcher that
execs the real command, for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import IO, Any

from luigi_airbyte.backoff import Backoff

logger = logging.getLogger(__name__)

LineHandler = Callable[[str, str], "str | None"]
"""``(stream, line) -> text to keep`` (None drops the line); stream is stdout or stderr."""

_MAX_LINE = 4000
_PR_SET_PDEATHSIG = 1
# Runs in the child before the real command: ask for SIGTERM when the parent dies, give up
# if it already has (the parent id changed), then become the command (the request
# survives exec).
_ORPHAN_GUARD = (
    "import ctypes, os, signal, sys\n"
    f"ctypes.CDLL(None, use_errno=True).prctl({_PR_SET_PDEATHSIG}, int(signal.SIGTERM), 0, 0, 0)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(143)\n"
    "try:\n"
    "    os.execv(sys.argv[2], sys.argv[2:])\n"
    "except OSError as exc:\n"
    "    sys.stderr.write(f'cannot run {sys.argv[2]}: {exc.strerror}\\n')\n"
    "    sys.exit(127)\n"
)


def guarded(
    argv: Sequence[str], env: Mapping[str, str], cwd: str | os.PathLike[str] | None = None
) -> list[str]:
    """``argv`` wrapped so that the child dies with this process (Linux); as is elsewhere.

    The program is resolved as ``Popen`` would resolve it in the child: a bare name on
    the child's ``PATH``, a relative path against the child's ``cwd``. Raises
    ``FileNotFoundError`` or ``PermissionError`` as ``Popen`` would, so the caller's
    "cannot start" handling still applies.
    """
    if not sys.platform.startswith("linux") or not argv:
        return list(argv)
    name = str(argv[0])
    if os.sep in name:
        program = os.path.join(os.fspath(cwd) if cwd is not None else os.getcwd(), name)
        if not os.path.isfile(program):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)
        if not os.access(program, os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)
    else:
        found = shutil.which(name, path=env.get("PATH", os.defpath))
        if found is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)
        program = found
    return [sys.executable, "-c", _ORPHAN_GUARD, str(os.getpid()), program, *argv[1:]]


# Polls for a child's exit without reaping it: 20 ms growing 1.5x to 200 ms.
_EXIT_POLL = Backoff(base=0.02, cap=0.2, factor=1.5, jitter="none")


class Terminated(BaseException):
    """SIGTERM arrived while a child ran; the child group is already dead.

    A BaseException so ordinary ``except Exception`` blocks do not swallow it.
    ``redeliver()`` restores the usual outcome of the signal once we have cleaned up.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"terminated by {signal.Signals(signum).name}")

    def redeliver(self) -> None:
        """Raise the signal again with the previous handler in place (default: we die)."""
        signal.raise_signal(self.signum)


@dataclass(frozen=True)
class ProcessOutcome:
    exit_code: int | None  # None when we killed it on timeout
    timed_out: bool
    duration_s: float
    stdout_tail: tuple[str, ...]
    stderr_tail: tuple[str, ...]
    combined_tail: tuple[str, ...]


class _Tail:
    """Keeps the last lines of each stream and of both interleaved."""

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self.streams: dict[str, deque[str]] = {
            "stdout": deque(maxlen=size),
            "stderr": deque(maxlen=size),
        }
        self.combined: deque[str] = deque(maxlen=size)

    def add(self, stream: str, text: str) -> None:
        with self._lock:
            self.streams[stream].append(text)
            self.combined.append(text)


def _pump(pipe: IO[bytes], stream: str, tail: _Tail, on_line: LineHandler | None) -> None:
    with pipe:
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")[:_MAX_LINE]
            try:
                kept = on_line(stream, line) if on_line else line
            except Exception:  # a parser bug must not stop draining the pipe
                logger.debug("line handler failed", exc_info=True)
                kept = line
            if kept is not None:
                tail.add(stream, kept)


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While inside, SIGTERM raises ``Terminated`` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is None or previous == signal.SIG_IGN:  # ignored, or not ours to restore
        yield
        return

    fired = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if not fired:  # a second SIGTERM must not interrupt the cleanup of the first
            fired = True
            raise Terminated(signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _descendants(pid: int) -> list[Any]:
    """Every descendant of ``pid`` (psutil.Process objects), or [] without psutil."""
    try:
        import psutil
    except ImportError:  # psutil is optional: the process group still covers most cases
        return []
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def _signal_all(pgid: int, strays: Sequence[Any], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    for proc in strays:
        with contextlib.suppress(Exception):
            proc.send_signal(sig)


def _alive(proc: subprocess.Popen[bytes], strays: Sequence[Any]) -> bool:
    if proc.poll() is None:
        return True
    for stray in strays:
        with contextlib.suppress(Exception):
            if stray.is_running() and stray.status() != "zombie":
                return True
    return False


def kill_tree(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """TERM the child's group and stray descendants, then KILL whatever is left after grace."""
    strays = _descendants(proc.pid)
    _signal_all(proc.pid, strays, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _alive(proc, strays):
        time.sleep(0.05)
    _signal_all(proc.pid, strays, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def _wait_unreaped(pid: int, deadline: float | None) -> bool:
    """Wait until ``pid`` has exited without reaping it; False if the deadline passed first."""
    pauses = _EXIT_POLL.delays()
    while True:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(next(pauses))


def _start_pumps(
    proc: subprocess.Popen[bytes], tail: _Tail, on_line: LineHandler | None
) -> list[threading.Thread]:
    """One daemon thread per pipe feeding ``tail`` (and ``on_line``)."""
    pumps = []
    for stream, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        assert pipe is not None
        t = threading.Thread(target=_pump, args=(pipe, stream, tail, on_line), daemon=True)
        t.start()
        pumps.append(t)
    return pumps


def _wait_or_kill(
    proc: subprocess.Popen[bytes], deadline: float | None, timeout: float | None, grace: float
) -> bool:
    """Wait for the process until ``deadline``; True if it exited, False if it was killed."""
    if _wait_unreaped(proc.pid, deadline):
        # the leader is a zombie, so its group id is still ours: clear leftovers
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return True
    logger.warning("pid %d timed out after %.0fs; killing its group", proc.pid, timeout)
    kill_tree(proc, grace)
    return False


def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    on_line: LineHandler | None = None,
    tail_lines: int = 50,
    kill_grace_s: float = 5.0,
) -> ProcessOutcome:
    """Run ``argv`` to completion (or timeout) in a new session, capturing the output tails.

    Raises ``Terminated`` (after killing the group) when SIGTERM arrives, and re-raises
    ``KeyboardInterrupt`` after killing the group. ``OSError`` if it cannot start.
    """
    tail = _Tail(tail_lines)
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    proc: subprocess.Popen[bytes] | None = None
    pumps: list[threading.Thread] = []
    exited = False
    with _sigterm_raises():
        try:
            proc = subprocess.Popen(
                guarded(argv, env, cwd),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            pumps = _start_pumps(proc, tail, on_line)
            exited = _wait_or_kill(proc, deadline, timeout, kill_grace_s)
        except BaseException:
            if proc is not None and proc.returncode is None:
                kill_tree(proc, kill_grace_s)
            raise
        finally:
            for t in pumps:
                t.join(timeout=2.0)
    return ProcessOutcome(
        exit_code=proc.returncode if exited else None,
        timed_out=not exited,
        duration_s=time.monotonic() - started,
        stdout_tail=tuple(tail.streams["stdout"]),
        stderr_tail=tuple(tail.streams["stderr"]),
        combined_tail=tuple(tail.combined),
    )
