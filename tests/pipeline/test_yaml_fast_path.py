"""The C fast path of the pipeline YAML reader gives exactly the round-trip loader's answer.

`load_yaml` reads with libyaml's events when it can answer as the round-trip loader
would, and otherwise (anchors, tags, duplicate keys, the flow-style plain scalars libyaml
refuses, any syntax error) leaves the file to the round-trip loader. Each case here is
compared with the round-trip loader's own answer (`_load_round_trip`, today's reader), and
the valid ones are also checked not to touch the round-trip loader at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from luigi_airbyte.errors import ConfigError
from luigi_airbyte.pipeline import _yaml, load_pipeline_file
from luigi_airbyte.pipeline._yaml import YamlProblem, load_yaml

pytest.importorskip("_ruamel_yaml")

HERE = Path(__file__).parent
VALID = sorted((HERE / "valid").glob("*.yaml"))

STEPS = """\
version: 1
owners:
  data-eng: {{}}
pipelines:
  nightly:
    owner: data-eng
    steps:
{steps}
"""


def _steps(n: int) -> str:
    return "".join(
        f"      - sync: s{i}\n        connection: conn-{i}\n        freshness: 6h\n"
        f"        retries: {i % 3}\n"
        for i in range(n)
    )


def _round_trip(text: str) -> Any:
    """Today's answer: the round-trip loader's data and lines, or its one problem."""
    try:
        return _yaml._load_round_trip(text, "p.yaml")
    except YamlProblem as exc:
        return exc.problem


def _answer(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    try:
        return load_yaml(path, "p.yaml")
    except YamlProblem as exc:
        return exc.problem


@pytest.fixture
def round_trip_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the round-trip parses `load_yaml` makes."""
    calls: list[str] = []
    real = _yaml.parse_yaml

    def counting(text: str, source: str) -> Any:
        calls.append(source)
        return real(text, source)

    monkeypatch.setattr(_yaml, "parse_yaml", counting)
    return calls


CASES = {
    "anchors and aliases": (
        "defaults: &d {retries: 2}\nother: *d\nlist: [&x a, *x]\n",
        lambda a: a[0] == {"defaults": {"retries": 2}, "other": {"retries": 2}, "list": ["a", "a"]},
    ),
    "python tag": (
        "version: 1\nbad: !!python/object:os.system x\n",
        lambda p: p.line == 2 and "!!python/object:os.system" in p.message,
    ),
    "custom tag": ("a:\n  b: !custom x\n", lambda p: p.field == "a.b" and "'!custom'" in p.message),
    "core tag": ("a: !!str 1\n", lambda a: a[0] == {"a": "1"}),
    "duplicate key": (
        "a: 1\nb: 2\na: 3\n",
        lambda p: p.line == 3 and p.message == "duplicate key 'a'",
    ),
    "flow-style URL": (
        "warehouse: {url: duckdb:///x.duckdb}\n",
        lambda a: a[0] == {"warehouse": {"url": "duckdb:///x.duckdb"}},
    ),
    "syntax error": ("a: [1, 2\nb: 3\n", lambda p: p.line is not None and "syntax" in p.message),
    "date scalar": ("a: 2026-01-15\n", lambda a: a[0] == {"a": "2026-01-15"}),
    "merge key": (
        "a: {x: 1}\nb:\n  <<: {x: 2}\n  y: 3\n",
        lambda a: a[0]["b"] == {"x": 2, "y": 3},
    ),
    "two documents": ("a: 1\n---\nb: 2\n", lambda p: "syntax" in p.message),
    "YAML 1.1 directive": ("%YAML 1.1\n---\na: yes\n", lambda a: a[0] == {"a": True}),
    "YAML 1.2 scalars": (
        "a: yes\nb: 0o17\nc: 1_000\nd: .inf\ne: ~\nf: 'x'\ng: |\n  text\n",
        lambda a: (
            a[0]
            == {
                "a": "yes",
                "b": 15,
                "c": 1000,
                "d": float("inf"),
                "e": None,
                "f": "x",
                "g": "text\n",
            }
        ),
    ),
    "deep nesting": (
        "a: " + "[" * 100 + "]" * 100 + "\n",
        lambda a: a[1]["a"] == 1 and len(a[1]) == 100,
    ),
    "empty": ("", lambda a: a == (None, {})),
    # found by fuzzing: libyaml and the round-trip loader disagree on these characters
    "tab in a plain key": (
        "version: 1\nairbyt\te:\n  timeout: 5\n",
        lambda p: p.line == 2 and "'\\t'" in p.message,
    ),
    "NEL line break": (
        "pipelines:\n  nightly:\n\x85    owner: data\n    steps: []\n",
        lambda p: "syntax" in p.message,
    ),
    "line separator in a string": (
        'a: ["\u2028x"]\nb: 1\n',
        lambda a: a[1]["b"] == 2,
    ),
    "lone carriage return": ("a: 1\rb: 2\n", lambda a: a[1]["b"] == 2),
    "windows line endings": ("a: 1\r\nb: [x, y]\r\n", lambda a: a[1]["b[1]"] == 2),
    "keys that need quoting in a path": (
        'a:\n  - "x.y": 1\n    \'q"k\': [2, {"sp ace": 3}]\n',
        lambda a: a[1]['a[0]["q\\"k"][1]["sp ace"]'] == 3,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_answer_is_the_round_trip_loaders(tmp_path: Path, name: str) -> None:
    text, expected = CASES[name]
    got = _answer(tmp_path, text)
    assert expected(got), got
    assert repr(got) == repr(_round_trip(text))  # same values, types, lines and problem


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_files_give_the_same_data_and_lines(path: Path) -> None:
    got = load_yaml(path, str(path))
    assert repr(got) == repr(_yaml._load_round_trip(path.read_text(), str(path)))


def test_valid_file_is_read_without_the_round_trip_loader(
    tmp_path: Path, round_trip_calls: list[str]
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(STEPS.format(steps=_steps(300)))
    pf = load_pipeline_file(path)
    assert round_trip_calls == []
    assert len(pf.pipeline("nightly").steps) == 300
    assert pf.line_of("pipelines.nightly.steps[299]") == 8 + 4 * 299
    assert pf.line_of("pipelines.nightly.steps[299].retries") == 11 + 4 * 299
    assert pf.line_of("owners.data-eng") == 3


def test_invalid_file_still_gets_its_line(tmp_path: Path, round_trip_calls: list[str]) -> None:
    steps = _steps(50).replace("retries: 1\n", "retries: -1\n", 1)  # step 1, line 15
    path = tmp_path / "p.yaml"
    path.write_text(STEPS.format(steps=steps))
    with pytest.raises(ConfigError) as err:
        load_pipeline_file(path)
    (problem,) = err.value.problems
    assert (problem.field, problem.line) == ("pipelines.nightly.steps[1].retries", 15)
    assert round_trip_calls == []  # the line came from the fast path's own map


def test_flow_style_url_falls_back_to_the_round_trip_loader(
    tmp_path: Path, round_trip_calls: list[str]
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("a: {url: duckdb:///x}\n")
    assert load_yaml(path, "p.yaml") == ({"a": {"url": "duckdb:///x"}}, {"a": 1, "a.url": 1})
    assert round_trip_calls == ["p.yaml"]
