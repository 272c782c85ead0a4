"""Errors raised by the sandbox engine.

The HTTP layer maps each class to the Airbyte problem body of the same meaning, so the engine
never needs to know about HTTP: NotFound -> 404 resource-not-found, Conflict -> 409
(try-again-later or state-conflict), Unprocessable -> 422, BadRequest -> 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

ConflictKind = Literal["try-again-later", "state-conflict"]


class SandboxError(Exception):
    """Root of every sandbox error."""


class WorldError(SandboxError):
    """A world file (or dict) is invalid; every problem is listed with its field path and fix."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems: list[str] = list(problems)
        count = len(self.problems)
        head = f"{source}: {count} problem{'s' if count != 1 else ''} in the sandbox world:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class NotFound(SandboxError):
    """A resource id is unknown."""

    def __init__(self, resource_type: str, resource_id: str) -> None:
        self.resource_type = resource_type
        self.resource_id = str(resource_id)
        super().__init__(f"{resource_type} not found: {resource_id}")


class Conflict(SandboxError):
    """The request conflicts with current state (Airbyte answers 409)."""

    def __init__(self, kind: ConflictKind, message: str) -> None:
        self.kind: ConflictKind = kind
        self.message = message
        super().__init__(f"{kind}: {message}")


class Unprocessable(SandboxError):
    """The request is well formed but cannot be processed (Airbyte answers 422)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class CreateTimedOut(SandboxError):
    """``POST /jobs`` found no job id in time (Airbyte's ``IllegalStateException``: a 500)."""

    def __init__(self, message: str = "Timed out waiting for a sync job to be created") -> None:
        self.message = message
        super().__init__(message)


class BadRequest(SandboxError):
    """The request is malformed (Airbyte answers 400)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)
