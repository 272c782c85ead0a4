"""The garbage collector is paused for a console run's start-up and resumed when it ends
(`luigi_airbyte.app.collector`, issue 10): after the first scheduling pass, before a fork,
when the command returns. Each probe runs in its own interpreter: the pause is global."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PIPELINE = """\
version: 1
airbyte:
  url: http://127.0.0.1:9/api/public/v1
  auth: {type: client_credentials, client_id: x, client_secret: "env:GC_TEST_SECRET"}
state_dir: state
owners:
  data: {alerts: ["jsonl:alerts.jsonl"]}
pipelines:
  p:
    owner: data
    steps:
      - command: {argv: [python, -c, "print(1)"]}
        name: a
"""


def _probe(code: str, tmp_path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={"GC_TEST_SECRET": "s", "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


DECORATED = """
import gc, json
from luigi_airbyte.app import collector
if {allow}:
    collector.allow_pauses()
seen = {{}}
@collector.paused_start_up
def command():
    seen["inside"] = gc.isenabled()
command()
print(json.dumps({{**seen, "after": gc.isenabled(), "frozen": gc.get_freeze_count()}}))
"""


def test_the_console_run_starts_with_the_collector_paused_and_ends_it_resumed(
    tmp_path: Path,
) -> None:
    got = _probe(DECORATED.format(allow=True), tmp_path)
    assert got["inside"] is False
    assert got["after"] is True
    assert isinstance(got["frozen"], int) and got["frozen"] > 0  # start-up's heap: frozen


def test_a_process_that_did_not_allow_pauses_keeps_its_collector(tmp_path: Path) -> None:
    got = _probe(DECORATED.format(allow=False), tmp_path)
    assert got == {"inside": True, "after": True, "frozen": 0}


FORK = """
import gc, json, os
from luigi_airbyte.app import collector
collector.allow_pauses()
collector.pause()
paused = gc.isenabled()
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(w, b"1" if gc.isenabled() else b"0")
    os._exit(0)
os.waitpid(pid, 0)
child = os.read(r, 1) == b"1"
print(json.dumps({"paused": paused, "child": child, "parent": gc.isenabled()}))
"""


def test_a_fork_resumes_the_collector_in_parent_and_child(tmp_path: Path) -> None:
    assert _probe(FORK, tmp_path) == {"paused": False, "child": True, "parent": True}


SCHEDULING_PASS = """
import gc, json
from luigi_airbyte.app import collector
from luigi_airbyte.app.runtime import Runtime
collector.allow_pauses()
collector.pause()
rt = Runtime.load("pipeline.yaml")
with rt.executor().scheduling_pass():
    during = gc.isenabled()
print(json.dumps({"during": during, "after": gc.isenabled()}))
rt.close()
"""


def test_the_first_scheduling_pass_ends_the_pause(tmp_path: Path) -> None:
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    assert _probe(SCHEDULING_PASS, tmp_path) == {"during": False, "after": True}
