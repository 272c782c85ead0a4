"""Sink URIs, as written under ``owners:`` in a pipeline file or given to ``--events``.

    console | console:stdout | console:stderr
    jsonl:<path>
    cloudwatch:<log-group>[?stream=<name>&region=<region>&retention_days=<n>]
    webhook:https://<host>/<path>
    slack:https://hooks.slack.com/services/...

Parsing is separate from building so the pipeline loader can report every bad URI at
once (``SinkURIError.problem``) without creating clients.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from luigi_airbyte.errors import Problem
from luigi_airbyte.observe.events import Sink
from luigi_airbyte.observe.redact import Redactor
from luigi_airbyte.observe.sinks.base import safe_url

if TYPE_CHECKING:
    from luigi_airbyte.observe.sinks.webhook import HeadersRef

__all__ = [
    "SINK_KINDS",
    "SinkURI",
    "SinkURIError",
    "display_uri",
    "parse_sink_uri",
    "sink_from_uri",
]

SINK_KINDS = ("console", "jsonl", "cloudwatch", "webhook", "slack")
_EXAMPLES = (
    "console, jsonl:/var/log/luigi-airbyte/events.jsonl, cloudwatch:/luigi-airbyte/prod, "
    "webhook:https://alerts.example.com/hook, slack:https://hooks.slack.com/services/..."
)
_CLOUDWATCH_OPTIONS = frozenset({"stream", "region", "retention_days"})


class SinkURIError(ValueError):
    """A sink URI is malformed; carries the fix, and converts to a config ``Problem``."""

    def __init__(self, uri: str, message: str, fix: str) -> None:
        self.uri = display_uri(uri)
        self.message = message
        self.fix = fix
        super().__init__(f"invalid sink URI {self.uri!r}: {message} (fix: {fix})")

    def problem(self, source: str = "pipeline", field: str = "owners") -> Problem:
        return Problem(
            source=source, field=field, message=f"{self.uri!r}: {self.message}", fix=self.fix
        )


@dataclass(frozen=True)
class SinkURI:
    """A parsed sink URI: ``kind`` plus its ``target`` (path, log group or URL)."""

    kind: str
    target: str = ""
    options: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        if self.kind in ("webhook", "slack"):
            return f"{self.kind}:{safe_url(self.target)}"
        return f"{self.kind}:{self.target}" if self.target else self.kind


def display_uri(uri: str) -> str:
    """The URI with any webhook path elided: it may be a credential."""
    kind, sep, rest = uri.partition(":")
    if sep and kind.strip().lower() in ("webhook", "slack"):
        return f"{kind}:{safe_url(rest)}"
    return uri


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(uri: str, url: str, kind: str) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError as exc:
        raise SinkURIError(
            uri, f"the URL cannot be parsed ({exc})", f"write {kind}:https://host/path"
        ) from None
    if parts.scheme not in ("https", "http") or not host:
        raise SinkURIError(
            uri, "the target must be an absolute http(s) URL", f"write {kind}:https://host/path"
        )
    if parts.scheme == "http" and not _is_loopback(host):
        raise SinkURIError(
            uri,
            "plain http is only allowed to a loopback address (bodies would travel in clear)",
            "use an https:// URL",
        )
    if any(c in url for c in "\r\n\t "):
        raise SinkURIError(uri, "the URL contains whitespace", "remove spaces and line breaks")


def parse_sink_uri(uri: str) -> SinkURI:
    """Parse ``uri``; raises :class:`SinkURIError` (a ``ValueError``) naming the fix."""
    if not isinstance(uri, str) or not uri.strip():
        raise SinkURIError(str(uri), "the URI is empty", f"use one of: {_EXAMPLES}")
    text = uri.strip()
    kind, _, rest = text.partition(":")
    kind = kind.lower()
    if kind not in SINK_KINDS:
        raise SinkURIError(
            uri, f"unknown sink kind {kind!r}", f"start with one of {', '.join(SINK_KINDS)}"
        )
    if kind == "console":
        if rest not in ("", "stderr", "stdout"):
            raise SinkURIError(uri, "console takes no target but stdout or stderr", "write console")
        return SinkURI("console", rest or "stderr")
    if not rest:
        raise SinkURIError(uri, f"{kind} needs a target", f"for example: {_EXAMPLES}")
    if kind == "jsonl":
        if rest.startswith("//"):
            rest = rest[2:]  # tolerate jsonl:///abs/path
        return SinkURI("jsonl", str(Path(rest).expanduser()))
    if kind == "cloudwatch":
        group, _, query = rest.partition("?")
        options = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
        unknown = set(options) - _CLOUDWATCH_OPTIONS
        if unknown:
            raise SinkURIError(
                uri,
                f"unknown option(s) {', '.join(sorted(unknown))}",
                "use only ?stream=<name>&region=<region>&retention_days=<n>",
            )
        if not group or any(c in group for c in " :*"):
            raise SinkURIError(
                uri,
                "the log group name is empty or contains ' ', ':' or '*'",
                "write cloudwatch:/my/log-group?stream=name",
            )
        stream = options.get("stream")
        if stream is not None and (not stream or ":" in stream or "*" in stream):
            raise SinkURIError(
                uri, "the stream name is empty or contains ':' or '*'", "fix ?stream="
            )
        if "retention_days" in options and not options["retention_days"].isdigit():
            raise SinkURIError(
                uri, "retention_days must be a whole number", "e.g. retention_days=30"
            )
        return SinkURI("cloudwatch", group, options)
    _check_url(uri, rest, kind)
    return SinkURI(kind, rest)


def sink_from_uri(
    uri: str,
    *,
    redactor: Redactor | None = None,
    headers_ref: HeadersRef | None = None,
    base_dir: Path | None = None,
) -> Sink:
    """Build the sink a URI names. Network clients are created lazily where possible.

    ``headers_ref`` (webhook and slack only) supplies extra headers at send time, e.g. a
    bearer token resolved by the secrets layer; a URI never carries one. ``base_dir`` is
    where a relative ``jsonl:`` path starts (the pipeline file's folder for its routes);
    without it, the current directory.
    """
    spec = parse_sink_uri(uri)
    if spec.kind == "jsonl" and base_dir is not None and not Path(spec.target).is_absolute():
        spec = SinkURI("jsonl", str(base_dir / spec.target))
    if spec.kind == "console":
        from luigi_airbyte.observe.sinks.console import ConsoleSink

        return ConsoleSink(sys.stdout if spec.target == "stdout" else None)
    if spec.kind == "jsonl":
        from luigi_airbyte.observe.sinks.jsonl import JsonLinesSink

        return JsonLinesSink(spec.target)
    if spec.kind == "cloudwatch":
        from luigi_airbyte.observe.sinks.cloudwatch import CloudWatchLogsSink

        retention = spec.options.get("retention_days")
        return CloudWatchLogsSink(
            spec.target,
            spec.options.get("stream"),
            region=spec.options.get("region"),
            retention_days=int(retention) if retention else None,
        )
    from luigi_airbyte.observe.sinks.webhook import SlackWebhookSink, WebhookSink

    cls = SlackWebhookSink if spec.kind == "slack" else WebhookSink
    return cls(spec.target, headers_ref, redactor=redactor)
