"""World files parse fast (the C parser where present) and exactly as the pure parser does."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.parser import Parser

from luigi_airbyte.sandbox.errors import WorldError
from luigi_airbyte.sandbox.world import load_world, yaml_loader

# scalars where YAML 1.1 and 1.2 (or careless resolvers) disagree
SCALARS = [
    "yes", "no", "on", "off", "true", "True", "FALSE", "012", "0o12", "0x1F", "0b101",
    "1_000", "1:20", "1e3", "1.5", ".5", "-.inf", "~", "null", "", "2024-01-01",
    "2024-01-01T10:00:00Z", "+12", "09", '"012"', "'yes'", "0 0 * * * ?",
]  # fmt: skip


@pytest.mark.parametrize("scalar", SCALARS)
def test_the_loader_reads_scalars_as_the_pure_parser_does(scalar: str) -> None:
    doc = f"k: {scalar}\nl:\n  - {scalar}\n"
    pure = YAML(typ="safe", pure=True).load(doc)
    assert repr(yaml_loader().load(doc)) == repr(pure)


def test_the_loader_uses_the_c_parser_where_installed() -> None:
    pytest.importorskip("_ruamel_yaml")
    assert yaml_loader().Parser is not Parser


def test_a_yaml_error_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "world.yaml"
    path.write_text("workspaces:\n  - name: a\nsources: [1, 2\nconnections: {\n", encoding="utf-8")
    with pytest.raises(WorldError, match=r"(?s)not valid YAML.*line 3"):
        load_world(path)


def test_yaml_the_c_parser_refuses_is_read_by_the_pure_parser(tmp_path: Path) -> None:
    """libyaml refuses a ':' in a plain scalar of a flow mapping; YAML 1.2 allows it."""
    path = tmp_path / "world.yaml"
    path.write_text(
        "destinations:\n"
        "  - {name: Warehouse, type: duckdb, path: 'w.duckdb'}\n"
        "sources:\n"
        "  - {name: S, type: generator, streams: [{name: s, rows: 3}]}\n"
        "connections: []\n"
        "settings: {note: {url: postgresql://u@h:5432/db}}\n",
        encoding="utf-8",
    )
    text = path.read_text(encoding="utf-8")
    assert yaml_loader(pure=True).load(text)["settings"]["note"]["url"].startswith("postgresql")
    try:
        load_world(path)
    except WorldError as exc:  # the world's own validation may refuse the made-up setting,
        assert "not valid YAML" not in str(exc), exc  # but never as unreadable YAML
