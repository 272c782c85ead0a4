"""A run imports Luigi without the optional packages it does not use from it (issue 10,
start-up): ``jsonschema`` and ``tornado`` always, ``requests`` with the local scheduler
(``app/lean_imports.py``): Luigi's import 85 ms instead of 176. Deterministic: a fresh
interpreter runs a pipeline through the console script's entry, then tells what it
imported and what Luigi concluded; the same run called as a library (a test, an embedding
program) imports Luigi whole."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.luigid_helpers import running_luigid
from luigi_airbyte.app import lean_imports
from run.fresh_run import run_probe

PROBE = """
import datetime as dt, json, sys
from pathlib import Path
mode, url = sys.argv[1], sys.argv[2]
if mode == "console":  # the console script's own entry, as `luigi-airbyte run` calls it
    from luigi_airbyte.cli import main
    sys.argv = ["luigi-airbyte", "run", "pipeline.yaml", "--date", "2026-11-24",
                "--skip-preflight", "--json"] + (["--scheduler-url", url] if url else [])
    try:
        main()
    except SystemExit as exc:
        code = exc.code
else:  # a program calling the same code
    from luigi_airbyte.cli.run_cmd import execute_run
    code, _ = execute_run(Path("pipeline.yaml"), run_date=dt.date(2026, 11, 24),
                          skip_preflight=True, as_json=True)
import luigi.parameter, luigi.rpc
print(json.dumps({
    "code": code,
    "imported": [m for m in ("jsonschema", "tornado", "requests") if m in sys.modules],
    "luigi_validates_schemas": luigi.parameter._JSONSCHEMA_ENABLED,
    "luigi_rpc_requests": luigi.rpc.HAS_REQUESTS,
}))
"""


def test_a_console_run_on_the_local_scheduler_imports_luigi_without_them(
    tmp_path: Path,
) -> None:
    assert run_probe(tmp_path, PROBE, "console", "") == {
        "code": 0,
        "imported": [],
        "luigi_validates_schemas": False,
        "luigi_rpc_requests": False,
    }


def test_under_luigid_luigi_keeps_its_requests_client(tmp_path: Path) -> None:
    home = tmp_path / "luigid"
    home.mkdir()
    with running_luigid(home) as url:
        got = run_probe(tmp_path, PROBE, "console", url)
    assert got == {
        "code": 0,
        "imported": ["requests"],
        "luigi_validates_schemas": False,
        "luigi_rpc_requests": True,
    }


def test_a_run_that_did_not_allow_it_imports_luigi_whole(tmp_path: Path) -> None:
    got = run_probe(tmp_path, PROBE, "embedded", "")
    assert got["code"] == 0
    assert got["imported"] == ["jsonschema", "tornado", "requests"]
    assert got["luigi_validates_schemas"] is True and got["luigi_rpc_requests"] is True


# ------------------------------------------------------------------ the block itself


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An importable package no test imported yet, and `absent` allowed."""
    name = f"lean_probe_{tmp_path.name.replace('-', '_')}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / name / "sub.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(lean_imports, "_allowed", True)
    yield name
    for key in [k for k in sys.modules if k.split(".")[0] == name]:
        del sys.modules[key]


def test_only_the_blocks_own_thread_finds_a_hidden_package_missing(package: str) -> None:
    elsewhere: list[object] = []
    with lean_imports.absent([package]):
        with pytest.raises(ModuleNotFoundError):
            __import__(package)
        with pytest.raises(ModuleNotFoundError):
            __import__(f"{package}.sub")
        worker = threading.Thread(target=lambda: elsewhere.append(__import__(package)))
        worker.start()
        worker.join()
    assert [m.__name__ for m in elsewhere] == [package]  # another thread: imported


def test_after_the_block_a_hidden_package_imports_again(package: str) -> None:
    with lean_imports.absent([package]), pytest.raises(ModuleNotFoundError):
        __import__(package)
    assert __import__(f"{package}.sub").__name__ == package
    assert not any(type(f).__name__ == "_Hide" for f in sys.meta_path)


def test_without_allow_nothing_is_hidden(package: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lean_imports, "_allowed", False)
    with lean_imports.absent([package]):
        assert __import__(package).__name__ == package
