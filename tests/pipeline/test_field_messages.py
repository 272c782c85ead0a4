"""Field errors say in words what is wrong and what to write: a name, a database URL, a
listening address (never a regular expression, never a fix that the value already obeys)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from luigi_airbyte.errors import ConfigError
from luigi_airbyte.pipeline import load_pipeline_file
from luigi_airbyte.pipeline.settings import resolve_settings


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_pipeline_file(path)
    return [f"{p.message} (fix: {p.fix})" for p in err.value.problems]


PIPELINE = """\
version: 1
owners: {{x: {{alerts: []}}}}
pipelines:
  p:
    owner: x
    steps:
      - command: {{argv: [echo]}}
        name: {name}
"""


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ('".."', "it must start with a letter or a digit"),
        ('"-x"', "it must start with a letter or a digit"),
        ('"crm users"', "it contains a space"),
        ('"crm/users"', "it contains '/'"),
    ],
)
def test_a_bad_name_says_why_in_words(tmp_path: Path, name: str, why: str) -> None:
    [problem] = _problems(tmp_path, PIPELINE.format(name=name))
    assert why in problem
    fix = problem.split("(fix: ", 1)[1]
    assert "a letter or digit, then" in fix and "only" not in fix


def test_a_bad_store_url_suggests_what_the_store_takes() -> None:
    with pytest.raises(ConfigError) as err:
        resolve_settings(cli={"store.url": ""}, env={}, luigi_cfg_paths=[])
    [problem] = err.value.problems
    assert problem.field == "store.url"
    assert problem.fix.startswith(
        "write a URL like sqlite:///path/to/metadata.db or postgresql+psycopg://user@host/db"
    )


@pytest.mark.parametrize("bad", ["localhost", "127.0.0.1:", "127.0.0.1:99999", "a b:1", 8711])
def test_a_bad_listening_address_says_host_port_in_words(bad: object) -> None:
    from luigi_airbyte.pipeline._types import ListenAddress  # for webhook.listen

    with pytest.raises(ValidationError) as err:
        TypeAdapter(ListenAddress).validate_python(bad)
    [error] = err.value.errors()
    assert "is not HOST:PORT" in error["msg"]
    assert "e.g. 127.0.0.1:8711" in error["ctx"]["fix"] and "[0-9]" not in error["ctx"]["fix"]


@pytest.mark.parametrize("good", ["127.0.0.1:8711", " [::1]:0 ", "hooks.internal:65535"])
def test_a_listening_address(good: str) -> None:
    from luigi_airbyte.pipeline._types import ListenAddress

    assert TypeAdapter(ListenAddress).validate_python(good) == good.strip()
