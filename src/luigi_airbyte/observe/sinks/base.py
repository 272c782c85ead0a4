"""What the sinks share: their error type and a URL form that is safe to print."""

from __future__ import annotations

from urllib.parse import urlsplit

from luigi_airbyte.errors import LuigiAirbyteError

__all__ = ["DeliveryError", "SinkError", "safe_url"]


class SinkError(LuigiAirbyteError):
    """An event sink could not be set up or used."""


class DeliveryError(SinkError):
    """Events or an alert could not be delivered after all retries."""

    def __init__(
        self, message: str, *, sink: str = "", attempts: int = 0, status_code: int | None = None
    ) -> None:
        self.sink = sink
        self.attempts = attempts
        self.status_code = status_code
        super().__init__(message)


def safe_url(url: str) -> str:
    """``scheme://host[:port]/…``: webhook paths and queries often *are* the credential."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    tail = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{host}{port}{tail}"
