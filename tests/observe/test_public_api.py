"""The public surface of luigi_airbyte.observe, and that optional SDKs stay lazy."""

from __future__ import annotations

import subprocess
import sys

import luigi_airbyte.observe as observe


def test_all_is_sorted_and_resolvable() -> None:
    assert observe.__all__ == sorted(observe.__all__, key=lambda n: (not n.isupper(), n))
    for name in observe.__all__:
        assert getattr(observe, name) is not None, name


def test_public_names_are_exported() -> None:
    public = {
        name
        for name in vars(observe)
        if not name.startswith(("_", "@"))  # "@py_*": pytest rewrites plugin packages
        and name not in {"alerts", "bus", "events", "lineage", "redact", "sinks"}
        and name not in {"annotations"}
    }
    assert public == set(observe.__all__)


def test_importing_observe_does_not_import_optional_sdks() -> None:
    code = (
        "import sys, luigi_airbyte.observe\n"
        "bad = [m for m in ('boto3', 'botocore', 'openlineage', 'luigi') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
