"""The failed-run examples in docs/exit-codes.md and docs/observability.md are what the
code prints now.

scripts/gen_failure_examples.py runs the documented failures for real (a CRM sync failing
in Airbyte, exit 5, with its alert; duplicates on retry, exit 6, and the `--reload crm`
that recovers) and compares each example block of the docs with what they printed. A
change to a recap, a table or an alert, or a hand edit of an example, fails here until
the docs are regenerated.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_failure_examples", ROOT / "scripts" / "gen_failure_examples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


GEN = _load_generator()


def test_failure_examples_in_the_docs_are_what_the_code_prints(tmp_path: Path) -> None:
    examples = GEN.capture(tmp_path)

    assert set(examples) == {name for names in GEN.DOCS.values() for name in names}
    for name, body in examples.items():  # nothing of this machine's run is left in them
        assert str(tmp_path) not in body and "/tmp/" not in body, (name, body)
    assert f"run {GEN.PROJECT_DIR}/pipeline.yaml" in examples["failed-sync-tail"]
    problems = GEN.stale(examples)
    assert not problems, "\n\n".join(problems) + f"\n\nregenerate the examples with: {GEN.COMMAND}"


def test_a_hand_edit_of_an_example_is_named() -> None:
    doc = GEN.EXIT_CODES
    text = doc.read_text(encoding="utf-8")
    examples = {
        name: body
        for path in GEN.DOCS
        for name, body in GEN.blocks(path.read_text(encoding="utf-8")).items()
    }
    body = examples["bad-load-recap"]
    assert body.endswith("\n```\n") and text.count(body) == 1
    edited = text.replace(body, body[: -len("```\n")] + "a line written by hand\n```\n")

    problems = GEN.stale(
        examples, read=lambda path: edited if path == doc else path.read_text(encoding="utf-8")
    )

    assert len(problems) == 1, problems
    assert problems[0].startswith("docs/exit-codes.md: the example 'bad-load-recap' differs")
    assert "\n-a line written by hand" in problems[0]


def test_a_normalised_table_row_keeps_its_width() -> None:
    norm = GEN.Normaliser(["/tmp/x/nightly"], 41234)
    row = "│ crm    │ sync │ 12.34s   │ job 5 (created); queued 1.2s; at 127.0.0.1:41234/a │"

    out = norm(row)

    assert len(out) == len(row)
    assert "│ 1.0s     │" in out and "queued 0s;" in out and "127.0.0.1:38000/a" in out
