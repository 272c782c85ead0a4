"""``python -m luigi_airbyte.sandbox [--world FILE] [--host H] [--port N] [--state FILE]``."""

from __future__ import annotations

import argparse
import sys

from luigi_airbyte.sandbox.errors import WorldError
from luigi_airbyte.sandbox.server import serve


def main(argv: list[str] | None = None) -> int:
    """Parse the flags the CLI's ``sandbox serve`` also takes, then serve until a signal."""
    parser = argparse.ArgumentParser(
        prog="python -m luigi_airbyte.sandbox",
        description="Run an Airbyte-compatible sandbox server until SIGINT/SIGTERM.",
    )
    parser.add_argument("--world", help="world YAML file (default: the built-in demo world)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback)")
    parser.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one")
    parser.add_argument("--state", help="file that keeps jobs across restarts")
    args = parser.parse_args(argv)
    try:
        serve(args.world, args.host, args.port, args.state)
    except WorldError as exc:
        sys.stderr.write(f"{exc}\n")
        return 3
    except OSError as exc:
        sys.stderr.write(f"sandbox: {exc}\n")
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
