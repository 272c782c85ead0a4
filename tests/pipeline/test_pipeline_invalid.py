"""Every file in invalid/ fails with the problem its header promises.

Header lines: ``# expect: <substring of the message>``, ``# field: <field path>`` and an
optional ``# line: N``. The CLI tests reuse these files to assert exit 3 and that
Airbyte is never contacted.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from luigi_airbyte.errors import ConfigError, Problem
from luigi_airbyte.pipeline import load_pipeline_file

INVALID = Path(__file__).parent / "invalid"
FILES = sorted(INVALID.glob("*.yaml"))
_HEADER = re.compile(rb"^# (expect|field|line): (.*)$", re.MULTILINE)


def _header(path: Path) -> dict[str, str]:
    return {k.decode(): v.decode("utf-8").strip() for k, v in _HEADER.findall(path.read_bytes())}


def test_there_are_enough_invalid_files() -> None:
    assert len(FILES) >= 24


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_invalid_file_is_reported(path: Path) -> None:
    header = _header(path)
    assert "expect" in header and "field" in header, f"{path.name}: header incomplete"
    with pytest.raises(ConfigError) as info:
        load_pipeline_file(path)
    error = info.value
    text = str(error)
    assert str(path) in text, "the message names the file"
    matching = [
        p for p in error.problems if header["expect"] in p.message or header["expect"] in p.fix
    ]
    assert matching, f"{path.name}: no problem says {header['expect']!r}:\n{text}"
    problem: Problem = matching[0]
    assert problem.source == str(path)
    assert problem.field == header["field"], text
    if "line" in header:
        assert problem.line == int(header["line"]), text
    assert all(p.fix for p in error.problems), f"{path.name}: a problem has no fix:\n{text}"
    assert error.exit_code == 3


def test_missing_file_is_one_problem(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_pipeline_file(missing)
    (problem,) = info.value.problems
    assert problem.message == "file not found"
    assert problem.source == str(missing) and problem.fix


def test_directory_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_pipeline_file(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_reading_it(tmp_path: Path) -> None:
    """Opening a FIFO with no writer blocks forever; the loader must stat it first."""
    fifo = tmp_path / "pipeline.yaml"
    os.mkfifo(fifo)
    code = (
        "import sys\n"
        "from luigi_airbyte.errors import ConfigError\n"
        "from luigi_airbyte.pipeline import load_pipeline_file\n"
        "try:\n"
        "    load_pipeline_file(sys.argv[1])\n"
        "except ConfigError as exc:\n"
        "    print(exc.problems[0].message)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, timeout=30
    )
    assert "is a named pipe (FIFO), not a regular file" in done.stdout, done.stderr


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="needs /dev/null")
def test_device_is_one_problem() -> None:
    with pytest.raises(ConfigError) as info:
        load_pipeline_file("/dev/null")
    (problem,) = info.value.problems
    assert problem.message == "is a character device, not a regular file"
    assert problem.fix and info.value.exit_code == 3


def test_alias_bomb_is_refused_fast_in_bounded_memory() -> None:
    """The fixture would expand to 9**9 strings; it is refused before it is copied.

    Measured in a fresh process: wall time of the load and the process's peak RSS
    (VmHWM, which belongs to the new program; ru_maxrss would carry the forking pytest's
    peak across exec on Linux).
    """
    code = (
        "import json, resource, sys, time\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # never eat the machine\n"
        "from luigi_airbyte.errors import ConfigError\n"
        "from luigi_airbyte.pipeline import load_pipeline_file\n"
        "start = time.perf_counter()\n"
        "try:\n"
        "    load_pipeline_file(sys.argv[1])\n"
        "    message = ''\n"
        "except ConfigError as exc:\n"
        "    message = exc.problems[0].message\n"
        "seconds = time.perf_counter() - start\n"
        "try:\n"
        "    status = open('/proc/self/status').read()\n"
        "    rss_mb = int(status.split('VmHWM:')[1].split()[0]) / 1024\n"
        "except (OSError, IndexError):\n"
        "    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps({'seconds': seconds, 'rss_mb': rss_mb, 'message': message}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(INVALID / "alias_bomb.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "expands to more than" in result["message"]
    assert result["seconds"] < 1.0, result
    assert result["rss_mb"] < 100, result


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nx: " + "[" * 1000 + "]" * 1000 + "\n",
        "version: 1\n" + "".join(" " * i + f"k{i}:\n" for i in range(1000)) + " " * 1000 + "v: 1\n",
    ],
    ids=["flow", "block"],
)
def test_nesting_too_deep_to_read_is_a_problem_not_a_crash(tmp_path: Path, text: str) -> None:
    """The round-trip loader recurses once per level: a RecursionError escaped as a
    traceback (exit 1), and ``--json`` printed no document."""
    path = tmp_path / "deep.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_pipeline_file(path)

    (problem,) = caught.value.problems
    assert problem.source == str(path) and "nests too deeply" in problem.message
