"""A run whose ``webhook.listen`` cannot be bound: a port in use is the expected shared
host (info); any other cause is a wrong setting, warned about with the field and the fix."""

from __future__ import annotations

import errno
import logging
import socket

import pytest

from luigi_airbyte.app import watch_pushes
from luigi_airbyte.app.runtime import Runtime
from luigi_airbyte.app.watch_pushes import pushes
from luigi_airbyte.pipeline.settings import resolve_settings


class _Follower:
    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def start(self) -> _Follower:
        return self

    def stop(self) -> None:
        pass


class _Watcher:
    def watches_connection(self, connection_id: str) -> bool:
        return False


def _bind_fails(monkeypatch: pytest.MonkeyPatch, exc: OSError) -> Runtime:
    def refuse(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr("luigi_airbyte.app.webhook_receiver.WebhookReceiver", refuse)
    monkeypatch.setattr(watch_pushes, "StoreHints", _Follower)
    settings = resolve_settings(
        cli={"airbyte.url": "http://127.0.0.1:9", "webhook.listen": "10.9.9.9:8711"},
        env={},
        luigi_cfg_paths=[],
    )
    rt = Runtime(settings)
    monkeypatch.setattr(rt, "store", lambda: None)
    return rt


@pytest.mark.parametrize(
    ("exc", "why"),
    [
        (OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"), "not one of this"),
        (socket.gaierror(-2, "Name or service not known"), "does not resolve"),
        (PermissionError(errno.EACCES, "Permission denied"), "not allowed"),
    ],
)
def test_an_address_that_cannot_be_bound_is_a_warning_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, exc: OSError, why: str
) -> None:
    rt = _bind_fails(monkeypatch, exc)
    with caplog.at_level(logging.INFO, "luigi_airbyte"), pushes(rt, _Watcher()) as how:  # type: ignore[arg-type]
        assert how == "store"
    [record] = [r for r in caplog.records if r.name == watch_pushes.__name__]
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert "webhook.listen" in text and "10.9.9.9:8711" in text and why in text
    assert "fix:" in text


def test_a_port_in_use_is_the_shared_receiver_not_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rt = _bind_fails(monkeypatch, OSError(errno.EADDRINUSE, "Address already in use"))
    with caplog.at_level(logging.INFO, "luigi_airbyte"), pushes(rt, _Watcher()) as how:  # type: ignore[arg-type]
        assert how == "store"
    [record] = [r for r in caplog.records if r.name == watch_pushes.__name__]
    assert record.levelno == logging.INFO and "is taken" in record.getMessage()
