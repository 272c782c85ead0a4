"""CommandRunner: output, failures, minimal env, secrets, timeouts and signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from luigi_airbyte.errors import TransformError
from luigi_airbyte.observe.events import ListEmitter
from luigi_airbyte.transforms import CommandRunner, TransformFailedError

PY = sys.executable


def py(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


def test_success_returns_a_record_and_the_output_tail() -> None:
    events = ListEmitter()
    result = CommandRunner(py("print('hello'); print('done')"), name="greet", emitter=events).run()
    assert result.succeeded and result.exit_code == 0 and result.kind == "command"
    assert result.name == "greet"
    assert result.log_tail.splitlines()[-2:] == ["hello", "done"]
    [record] = result.records
    assert (record.name, record.status, record.message) == ("greet", "success", "done")
    assert events.names() == ["transform.started", "transform.finished"]
    assert events.events[1].fields["exit_code"] == 0


def test_failure_raises_with_exit_code_and_last_lines() -> None:
    events = ListEmitter()
    code = """
        import sys
        for i in range(100):
            print(f"line {i}", file=sys.stderr)
        sys.exit(3)
    """
    with pytest.raises(TransformFailedError) as info:
        CommandRunner(py(code), name="boom", emitter=events).run()
    err = info.value
    assert isinstance(err, TransformError) and err.exit_code == 7
    text = str(err)
    assert "command step 'boom' failed: exited with code 3" in text
    assert "line 99" in text and "line 50" not in text  # only the tail
    assert err.result.exit_code == 3 and not err.result.succeeded
    assert err.result.records[0].status == "error"
    assert events.names() == ["transform.started", "transform.failed"]
    assert events.events[-1].level == "error"


def test_child_gets_a_minimal_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRBYTE_CLIENT_SECRET", "parent-secret")
    monkeypatch.setenv("LANG", "C.UTF-8")
    code = "import json, os; print(json.dumps(sorted(os.environ)))"
    result = CommandRunner(py(code), env={"STEP_SETTING": "1"}).run()
    names = set(json.loads(result.log_tail.splitlines()[-1]))
    assert "AIRBYTE_CLIENT_SECRET" not in names
    assert {"PATH", "LANG", "STEP_SETTING"} <= names
    assert names <= {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "STEP_SETTING", "LC_CTYPE"}


def test_secret_travels_in_env_never_in_argv_and_is_masked_in_output() -> None:
    secret = "pw-7f3a9c-very-secret"
    code = """
        import os, sys
        cmdline = open(f"/proc/{os.getpid()}/cmdline", "rb").read().decode()
        print("secret in cmdline:", os.environ["DB_PASSWORD"] in cmdline)
        print("got", os.environ["DB_PASSWORD"])
        sys.exit(1)
    """
    with pytest.raises(TransformFailedError) as info:
        CommandRunner(py(code), env={"DB_PASSWORD": secret}).run()
    text = str(info.value)
    assert "secret in cmdline: False" in text
    assert "got ***" in text
    assert secret not in text
    assert secret not in info.value.result.log_tail
    assert secret not in json.dumps(info.value.result.to_dict())


def test_caller_redactor_applies_to_message_tail_and_records() -> None:
    runner = CommandRunner(
        py("print('token=abc123'); raise SystemExit(2)"),
        redact=lambda s: s.replace("abc123", "[redacted]"),
    )
    with pytest.raises(TransformFailedError) as info:
        runner.run()
    assert "abc123" not in str(info.value)
    assert "token=[redacted]" in info.value.result.log_tail
    assert info.value.result.records[0].message == "token=[redacted]"


def test_timeout_kills_the_group_including_grandchildren(tmp_path: Path, procs) -> None:
    pidfile = tmp_path / "grandchild.pid"
    argv = ["sh", "-c", f"sleep 300 & echo $! > {pidfile}; wait"]
    events = ListEmitter()
    started = time.monotonic()
    with pytest.raises(TransformFailedError) as info:
        CommandRunner(argv, timeout=1, emitter=events).run()
    assert time.monotonic() - started < 10
    assert "timed out after 1s; its process group was killed" in str(info.value)
    assert info.value.result.exit_code is None
    grandchild = procs.read_pid(pidfile)
    assert procs.wait_dead(grandchild, timeout=5)
    assert events.names()[-1] == "transform.failed"


def test_timeout_also_kills_a_grandchild_that_left_the_group(tmp_path: Path, procs) -> None:
    pidfile = tmp_path / "escaped.pid"
    code = f"""
        import subprocess, time
        p = subprocess.Popen(["sleep", "300"], start_new_session=True)
        open({str(pidfile)!r}, "w").write(str(p.pid))
        time.sleep(300)
    """
    with pytest.raises(TransformFailedError):
        CommandRunner(py(code), timeout=2).run()
    escaped = procs.read_pid(pidfile)
    assert procs.wait_dead(escaped, timeout=5)  # found through psutil, not the group


def test_background_leftovers_are_killed_when_the_command_ends(tmp_path: Path, procs) -> None:
    pidfile = tmp_path / "leftover.pid"
    started = time.monotonic()
    result = CommandRunner(["sh", "-c", f"sleep 300 & echo $! > {pidfile}"]).run()
    assert result.succeeded
    assert time.monotonic() - started < 5  # did not wait for the pipe the leftover held
    assert procs.wait_dead(procs.read_pid(pidfile), timeout=5)


SIGNAL_SCRIPT = """
import json, sys
from luigi_airbyte.observe.events import ListEmitter
from luigi_airbyte.transforms import CommandRunner

class FileEmitter(ListEmitter):
    def emit(self, event):
        with open(sys.argv[2], "a") as fh:
            fh.write(event.name + "\\n")

CommandRunner(["sh", "-c", "sleep 300 & echo $! > " + sys.argv[1] + "; wait"],
              emitter=FileEmitter()).run()
print("not reached")
"""


@pytest.mark.parametrize(
    ("sig", "expected_rc"),
    [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, -signal.SIGINT)],
    ids=["sigterm", "keyboard-interrupt"],
)
def test_signal_kills_the_child_group_and_is_re_raised(
    tmp_path: Path, procs, sig: signal.Signals, expected_rc: int
) -> None:
    script, pidfile, events = tmp_path / "run.py", tmp_path / "gc.pid", tmp_path / "events"
    script.write_text(SIGNAL_SCRIPT)
    worker = subprocess.Popen(
        [PY, str(script), str(pidfile), str(events)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    procs.track(worker.pid)
    grandchild = procs.read_pid(pidfile)
    os.kill(worker.pid, sig)
    out, _ = worker.communicate(timeout=20)
    assert worker.returncode == expected_rc  # died of the signal, as it would have without us
    assert b"not reached" not in out
    assert procs.wait_dead(grandchild, timeout=5)
    assert events.read_text().split() == ["transform.started", "transform.failed"]


def test_a_program_that_cannot_start() -> None:
    with pytest.raises(TransformError, match="could not start '/nonexistent/prog'"):
        CommandRunner(["/nonexistent/prog"]).run()


def test_argument_validation() -> None:
    with pytest.raises(ValueError, match="no shell string"):
        CommandRunner("echo hi")
    with pytest.raises(ValueError):
        CommandRunner([])
    with pytest.raises(ValueError):
        CommandRunner(["true"], timeout=0)


def test_a_child_dies_with_its_parent_when_the_parent_is_killed(tmp_path: Path) -> None:
    """kill -9 of the process running a transform leaves no orphan holding the warehouse."""
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    import psutil

    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux-only")
    pid_file = tmp_path / "child.pid"
    parent_code = textwrap.dedent(
        f"""
        import os, sys
        from luigi_airbyte.transforms._process import run_process
        run_process(
            [sys.executable, "-c",
             "import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
             "time.sleep(60)"],
            env=dict(os.environ),
        )
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text()):
            assert time.monotonic() < deadline, "the child never started"
            time.sleep(0.05)
        child = psutil.Process(int(pid_file.read_text()))
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        gone, _alive = psutil.wait_procs([child], timeout=10)
        assert gone, "the transform outlived the process that ran it"
    finally:
        if parent.poll() is None:
            parent.kill()


def test_a_relative_program_is_found_in_the_childs_folder(tmp_path: Path) -> None:
    """``argv: [./report.sh]`` runs from the step's folder, wherever the run started."""
    from luigi_airbyte.transforms._process import run_process

    folder = tmp_path / "project"
    folder.mkdir()
    script = folder / "report.sh"
    script.write_text('#!/bin/sh\necho ran in "$PWD"\n')
    script.chmod(0o755)
    outcome = run_process(["./report.sh"], env={"PATH": os.defpath}, cwd=folder)
    assert outcome.exit_code == 0, outcome
    assert any("ran in" in line for line in outcome.stdout_tail)
    with pytest.raises(FileNotFoundError):
        run_process(["./missing.sh"], env={"PATH": os.defpath}, cwd=folder)
