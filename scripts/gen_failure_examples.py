"""Generate the failed-run examples in docs/exit-codes.md and docs/observability.md.

    python scripts/gen_failure_examples.py           # run the failures, rewrite the examples
    python scripts/gen_failure_examples.py --check   # exit 1 if an example is out of date

The examples are not written by hand: this script runs the documented failures for real
(`luigi-airbyte run` in a subprocess, against a sandbox Airbyte on a free loopback port,
in a temporary project, as the end-to-end tests do) and copies what they print:

1. a CRM sync that fails in Airbyte on every attempt (exit 5): the last lines of the run,
   and the alert its owner role's JSON-lines route received (the JSON and its text);
2. a retried attempt that re-sends records into an append stream (exit 6): the recap,
   then the sync row and last lines of the `--reload crm` command that recap prints.

What changes from one run to the next is replaced by a fixed, readable value: the
temporary project directory becomes /srv/nightly, the sandbox's port 38000, random run
ids fixed UUIDs in order of appearance, durations and timestamps fixed values. What the
code decides stays as printed: the sandbox's own (deterministic) ids, job ids, counts,
messages. Which of two independent syncs Luigi starts first (so which gets the lower
Airbyte job id) depends on Python's string hash seed, so the runs use PYTHONHASHSEED=0.

Each example sits in the docs between `<!-- example: NAME begin ... -->` and
`<!-- example: NAME end -->`; the prose around it is written by hand.
tests/e2e/test_e2e_doc_examples.py runs the check.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the end-to-end helpers: world, project, clean env

from e2e.e2e_helpers import CLI, CRM, Project, clean_env, world_data  # noqa: E402
from luigi_airbyte.sandbox import Sandbox  # noqa: E402
from luigi_airbyte.sandbox.world import world_from_dict  # noqa: E402

EXIT_CODES = ROOT / "docs" / "exit-codes.md"
OBSERVABILITY = ROOT / "docs" / "observability.md"
COMMAND = "python scripts/gen_failure_examples.py"

FAILURE = "Source CRM: connection refused by crm.internal:5432"
FAILED_DATE = "2026-01-15"
BAD_LOAD_DATE = "2026-02-03"

PROJECT_DIR = "/srv/nightly"
PORT = "38000"  # five digits like a real free port, so folded table cells keep their width
ALERT_AT = "2026-01-16T02:00:07.000000+00:00"
DURATION = "1.0s"
RUN_ID = "00000000-0000-4000-8000-{:012d}"
UUID4 = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\b")
SHORT_RUN = re.compile(r"(?<=\brun )[0-9a-f]{8}(?= )")  # a run's short id, as stderr prints it
RUN_LINE = re.compile(r"^run [0-9a-f-]{36}: ")
TABLE_LINE = "│"


@dataclass
class Normaliser:
    """Replaces what differs between two runs of the same failure by fixed values."""

    project_dirs: list[str]
    port: int
    run_ids: dict[str, str] = field(default_factory=dict)

    def __call__(self, text: str) -> str:
        return "\n".join(self._line(line) for line in text.split("\n"))

    def _line(self, line: str) -> str:
        if not line.startswith(TABLE_LINE):
            return self._text(line)
        # a table row: normalise each cell, then give it back its width
        cells = line.split(TABLE_LINE)
        out = []
        for i, cell in enumerate(cells):
            new = self._text(cell)
            if 0 < i < len(cells) - 1:
                new = re.sub(r"^ \d+(?:\.\d+)?m?s +$", f" {DURATION} ", new)
                new = re.sub(r"\bqueued \d+(?:\.\d+)?m?s\b", "queued 0s", new)
                new = re.sub(r"\bin \d+(?:\.\d+)?m?s\b", f"in {DURATION}", new)
                new = new.rstrip().ljust(len(cell)) if len(new.rstrip()) <= len(cell) else new
            out.append(new)
        return TABLE_LINE.join(out)

    def _text(self, text: str) -> str:
        for path in self.project_dirs:
            text = text.replace(path, PROJECT_DIR)
        text = text.replace(f"127.0.0.1:{self.port}", f"127.0.0.1:{PORT}")
        text = UUID4.sub(self._run_id, text)
        return SHORT_RUN.sub(self._short_run_id, text)

    def _short_run_id(self, match: re.Match[str]) -> str:
        short = match.group(0)
        if short.startswith("00000000"):
            return short  # already a placeholder
        for found, placeholder in self.run_ids.items():
            if found.startswith(short):
                return placeholder[:8]
        placeholder = RUN_ID.format(len(self.run_ids) + 1)
        self.run_ids[short] = placeholder
        return placeholder[:8]

    def _run_id(self, match: re.Match[str]) -> str:
        found = match.group(0)
        if found not in self.run_ids:
            self.run_ids[found] = RUN_ID.format(len(self.run_ids) + 1)
        return self.run_ids[found]


@dataclass
class Output:
    """What one `luigi-airbyte` command printed (stdout and stderr merged, as a terminal
    shows them)."""

    argv: list[str]
    returncode: int
    text: str

    @property
    def lines(self) -> list[str]:
        return self.text.rstrip("\n").split("\n")

    def last_lines(self) -> list[str]:
        """From the `run <id>: ...` line after the table to the end: the recap."""
        lines = self.lines
        starts = [i for i, line in enumerate(lines) if RUN_LINE.match(line)]
        if not starts:
            raise RuntimeError(f"no `run <id>:` line in the output of {self.argv}:\n{self.text}")
        return lines[starts[-1] :]

    def table_rows(self) -> list[list[str]]:
        """The rows of the last table, each as its printed lines (a cell may fold)."""
        lines = self.lines
        bottom = max(i for i, line in enumerate(lines) if line.startswith("└"))
        top = max(i for i, line in enumerate(lines[:bottom]) if line.startswith("┡"))
        rows: list[list[str]] = []
        for line in lines[top + 1 : bottom]:
            first_cell = line.split(TABLE_LINE)[1].strip()
            if first_cell or not rows:
                rows.append([line])
            else:
                rows[-1].append(line)
        return rows

    def tail(self, rows: int) -> list[str]:
        """The last ``rows`` rows of the table, its bottom border, then the recap."""
        lines = self.lines
        bottom = max(i for i, line in enumerate(lines) if line.startswith("└"))
        kept = [line for row in self.table_rows()[-rows:] for line in row]
        return [*kept, lines[bottom], *self.last_lines()]

    def row(self, step: str) -> list[str]:
        """The table row of one step."""
        for row in self.table_rows():
            if row[0].split(TABLE_LINE)[1].strip() == step:
                return row
        raise RuntimeError(f"no row for step {step!r} in the output of {self.argv}")


def _run(project: Project, argv: list[str], expect: int) -> Output:
    done = subprocess.run(
        [CLI, *argv],
        cwd=project.root,
        env=clean_env(PYTHONHASHSEED="0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=180,
        check=False,
    )
    out = Output(argv, done.returncode, done.stdout)
    if done.returncode != expect:
        raise RuntimeError(
            f"`luigi-airbyte {shlex.join(argv)}` exited {done.returncode}, "
            f"expected {expect}:\n{done.stdout}"
        )
    return out


def _recovery(lines: list[str]) -> list[str]:
    """The one command the last lines say recovers (the last backquoted luigi-airbyte ...)."""
    found = re.findall(r"`luigi-airbyte ([^`]+)`", "\n".join(lines))
    if not found:
        raise RuntimeError("the recap names no command that recovers:\n" + "\n".join(lines))
    return shlex.split(found[-1])


def _from_line(lines: list[str], start: str) -> list[str]:
    """The lines from the first that starts with ``start`` to the end."""
    for i, line in enumerate(lines):
        if line.startswith(start):
            return lines[i:]
    raise RuntimeError(f"no line starts with {start!r}:\n" + "\n".join(lines))


def _fenced(lang: str, lines: list[str]) -> str:
    return f"```{lang}\n" + "\n".join(lines) + "\n```\n"


def capture(workdir: Path) -> dict[str, str]:
    """Run the documented failures in ``workdir`` and return each example's Markdown, by name."""
    root = workdir / "nightly"
    root.mkdir(parents=True)
    world = world_data(max_attempts=2, attempt_backoff_seconds=0)
    with Sandbox(world_from_dict(world, base_dir=root)) as sandbox:
        project = Project(root, sandbox)
        project.write()
        pipeline = str(project.path)
        norm = Normaliser([str(root), os.path.realpath(root)], sandbox.port)

        # 1. The CRM sync fails in Airbyte on every attempt.
        sandbox.set_faults(engine={"jobs": {CRM: {"fail_attempts": 5, "failure_message": FAILURE}}})
        failed = _run(project, ["run", pipeline, "--date", FAILED_DATE], expect=5)
        (alert,) = project.alert_lines()
        alert["at"] = ALERT_AT
        alert_json = json.dumps(alert, indent=2, ensure_ascii=False)

        # 2. A retried attempt re-sends records into the append stream; then the recap's fix.
        sandbox.set_faults(engine={"jobs": {CRM: {"fail_attempts": 1, "duplicate_on_retry": True}}})
        bad_load = _run(project, ["run", pipeline, "--date", BAD_LOAD_DATE], expect=6)
        sandbox.set_faults(engine={"jobs": {}})
        recovery = _recovery(bad_load.last_lines())
        if "--reload" not in recovery:
            raise RuntimeError(f"the bad load's recap does not say --reload: {recovery}")
        reloaded = _run(project, recovery, expect=0)

    # 3. Airbyte is down: the sandbox has stopped, so its port refuses (after the retries).
    down = _run(project, ["run", pipeline, "--date", FAILED_DATE], expect=4)
    preflight = _from_line(down.lines, "error: preflight failed")

    return {
        "failed-sync-tail": _fenced("text", [norm(line) for line in failed.tail(rows=3)]),
        "failed-sync-alert-json": _fenced("json", [norm(alert_json)]),
        "failed-sync-alert-text": _fenced("text", [norm(alert["text"])]),
        "bad-load-recap": _fenced("text", [norm(line) for line in bad_load.last_lines()]),
        "bad-load-reload": _fenced(
            "text", [norm(line) for line in [*reloaded.row("crm"), *reloaded.last_lines()]]
        ),
        "preflight-airbyte-down": _fenced("text", [norm(line) for line in preflight]),
    }


BLOCK = re.compile(
    r"(?P<begin><!-- example: (?P<name>[\w-]+) begin[^\n]*-->\n)"
    r"(?P<body>.*?)"
    r"(?P<end><!-- example: (?P=name) end -->)",
    re.DOTALL,
)
DOCS = {
    EXIT_CODES: ("failed-sync-tail", "bad-load-recap", "bad-load-reload", "preflight-airbyte-down"),
    OBSERVABILITY: ("failed-sync-alert-json", "failed-sync-alert-text"),
}


def blocks(text: str) -> dict[str, str]:
    """The examples of one doc, by name."""
    return {m.group("name"): m.group("body") for m in BLOCK.finditer(text)}


def render(text: str, examples: dict[str, str]) -> str:
    """``text`` with each of its examples replaced by the one in ``examples``."""

    def replace(m: re.Match[str]) -> str:
        body = examples.get(m.group("name"), m.group("body"))
        return m.group("begin") + body + m.group("end")

    return BLOCK.sub(replace, text)


def stale(examples: dict[str, str], read: Callable[[Path], str] | None = None) -> list[str]:
    """One line per example that differs from, or is missing in, its doc (empty: all
    up to date), with a diff."""
    read = read or (lambda path: path.read_text(encoding="utf-8"))
    problems: list[str] = []
    for doc, names in DOCS.items():
        current = blocks(read(doc))
        for name in names:
            rel = doc.relative_to(ROOT)
            if name not in current:
                problems.append(
                    f"{rel}: the example {name!r} is missing: add "
                    f"`<!-- example: {name} begin -->` and `<!-- example: {name} end -->`"
                )
                continue
            if current[name] != examples[name]:
                diff = difflib.unified_diff(
                    current[name].splitlines(),
                    examples[name].splitlines(),
                    f"{rel} ({name}, in the doc)",
                    f"{rel} ({name}, printed now)",
                    lineterm="",
                )
                problems.append(
                    f"{rel}: the example {name!r} differs from what the code prints now:\n"
                    + "\n".join(diff)
                )
    return problems


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="failure-examples-") as tmp:
        examples = capture(Path(tmp))
    if "--check" in argv:
        problems = stale(examples)
        for problem in problems:
            sys.stderr.write(problem + "\n")
        if problems:
            sys.stderr.write(f"the docs' failure examples are out of date; run: {COMMAND}\n")
            return 1
        return 0
    for doc in DOCS:
        current = doc.read_text(encoding="utf-8")
        new = render(current, examples)
        if new != current:
            doc.write_text(new, encoding="utf-8")
            sys.stderr.write(f"wrote {doc}\n")
    missing = [p for p in stale(examples) if "is missing" in p]
    for problem in missing:
        sys.stderr.write(problem + "\n")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
