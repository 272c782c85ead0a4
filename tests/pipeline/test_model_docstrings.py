"""The models' field descriptions come from the string under each field (pydantic's
``use_attribute_docstrings`` rule, one parse per module here), and importing the models
builds no validator beyond the three models whose instances are defaults: a run pays for
the schemas when it first validates the file, once for the whole file."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest
from pydantic import BaseModel
from pydantic._internal._docs_extraction import extract_docstrings_from_cls

from luigi_airbyte.pipeline import _models, _steps

MODELS = [
    obj
    for mod in (_steps, _models)
    for obj in vars(mod).values()
    if isinstance(obj, type) and issubclass(obj, _steps.Model) and obj is not _steps.Model
]
DEFAULT_INSTANCES = {"AirbyteSection", "ReportsSection", "ConnectionSelect"}


def _expected(model: type[BaseModel], name: str) -> str | None:
    """Oracle: pydantic's own extraction, in the nearest class that annotates the field."""
    for klass in model.__mro__:
        if name in inspect.get_annotations(klass):
            return extract_docstrings_from_cls(klass, use_inspect=True).get(name)
    return None


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_descriptions_are_the_docstrings_under_the_fields(model: type[BaseModel]) -> None:
    for name, info in model.model_fields.items():
        assert info.description == _expected(model, name), (model.__name__, name)


def test_most_fields_are_documented() -> None:
    described = [i for m in MODELS for i in m.model_fields.values() if i.description]
    assert len(described) > 80


PROBE = """
import inspect
import json
from luigi_airbyte.pipeline import _models, _steps
models = [o for m in (_steps, _models) for o in vars(m).values()
          if isinstance(o, type) and issubclass(o, _steps.Model) and o is not _steps.Model]
print(json.dumps(sorted(m.__name__ for m in models if m.__pydantic_complete__)))
"""


def test_importing_the_models_builds_no_validator() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    built = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert built <= DEFAULT_INSTANCES
    assert len(MODELS) > 20


def test_a_model_defined_in_a_function_gets_its_docstrings() -> None:
    class Local(_steps.Model):
        size: int = 1
        """How many."""

    class Twice(_steps.Model):
        kept: str = ""
        """First of the name."""

    assert Local.model_fields["size"].description == "How many."
    assert Twice.model_fields["kept"].description == "First of the name."
    assert Local.model_validate({"size": 2}).size == 2


SETTINGS_PROBE = """
import json
from luigi_airbyte.pipeline._settings_spec import SETTINGS
built = [s.key for s in SETTINGS if "adapter" in vars(s)]
poll = next(s for s in SETTINGS if s.key == "poll.interval")
parsed = str(poll.parse("2m"))
print(json.dumps({"built": built, "parsed": parsed, "after": "adapter" in vars(poll)}))
"""


def test_settings_build_their_validators_when_first_parsing() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SETTINGS_PROBE],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state == {"built": [], "parsed": "0:02:00", "after": True}
