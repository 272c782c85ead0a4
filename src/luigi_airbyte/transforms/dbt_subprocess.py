"""Child-process entry point: run dbt through its programmatic API and write the run results.

``DbtRunner`` starts ``python -m luigi_airbyte.transforms.dbt_subprocess <dbt args>``
rather than calling ``dbtRunner`` in our own process: dbt mutates global state and
logging, and Luigi forks workers, so one dbt invocation per process is the safe shape.
The results go to the file named by ``LUIGI_AIRBYTE_RESULT_FILE`` (a per-run path, so
concurrent runs of one project never read each other's ``target/run_results.json``).

Exit codes follow the dbt CLI: 0 success, 1 a node failed, 2 dbt could not run.
"""

from __future__ import annotations

import os
import sys

RESULT_FILE_ENV = "LUIGI_AIRBYTE_RESULT_FILE"


def main(argv: list[str] | None = None) -> int:
    from dbt.artifacts.schemas.run import RunExecutionResult
    from dbt.cli.main import dbtRunner

    args = list(sys.argv[1:] if argv is None else argv)
    outcome = dbtRunner().invoke(args)
    path = os.environ.get(RESULT_FILE_ENV)
    if path and isinstance(outcome.result, RunExecutionResult):
        outcome.result.write(path)
    if outcome.success:
        return 0
    if outcome.exception is not None:
        sys.stderr.write(
            f"dbt could not run: {type(outcome.exception).__name__}: {outcome.exception}\n"
        )
        return 2
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
