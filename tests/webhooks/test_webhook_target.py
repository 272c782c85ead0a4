"""``webhook configure``'s target and ``webhook serve``'s receiver agree: the token is
one path segment after the URL's path (query kept after it), nothing is added without a
token, and a token needing quoting still reaches the receiver."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from luigi_airbyte.app.runtime import Runtime
from luigi_airbyte.app.webhook_receiver import WebhookReceiver
from luigi_airbyte.app.webhooks import webhook_target
from luigi_airbyte.errors import ConfigError

CONN = "9f3c1c5e-1111-4a5b-9c2d-000000000001"
PIPELINE = {
    "version": 1,
    "airbyte": {
        "url": "http://127.0.0.1:9/api/public/v1",
        "auth": {
            "type": "client_credentials",
            "client_id": "env:AB_ID",
            "client_secret": "env:AB_S",
        },
    },
    "owners": {"t": {"alerts": ["console"]}},
    "pipelines": {"p": {"owner": "t", "steps": [{"sync": "crm", "connection": "CRM"}]}},
}


Load = Callable[[str | None], Runtime]


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Load]:
    """Load the pipeline with ``webhook.token: env:HOOKTOK`` set to the value given."""
    path = tmp_path / "pipeline.yaml"
    path.write_text(json.dumps(PIPELINE), encoding="utf-8")
    loaded: list[Runtime] = []

    def load(token: str | None) -> Runtime:
        if token is not None:
            monkeypatch.setenv("HOOKTOK", token)
        cli = {"webhook.token": "env:HOOKTOK"} if token is not None else {}
        loaded.append(Runtime.load(path, cli=cli, env={}))
        return loaded[-1]

    yield load
    for rt in loaded:
        rt.close()


@pytest.mark.parametrize(
    ("url", "token", "url_set", "shown"),
    [
        ("https://hooks.example.com/h", None, "https://hooks.example.com/h", None),
        ("https://hooks.example.com/h/", None, "https://hooks.example.com/h/", None),
        (
            "https://hooks.example.com/h",
            "tok-123456",
            "https://hooks.example.com/h/tok-123456",
            "https://hooks.example.com/h/***",
        ),
        (
            "https://hooks.example.com/h/",
            "tok-123456",
            "https://hooks.example.com/h/tok-123456",
            "https://hooks.example.com/h/***",
        ),
        (
            "https://hooks.example.com/h?x=1",
            "tok-123456",
            "https://hooks.example.com/h/tok-123456?x=1",
            "https://hooks.example.com/h/***?x=1",
        ),
        (
            "https://hooks.example.com?x=1",
            "tok-123456",
            "https://hooks.example.com/tok-123456?x=1",
            "https://hooks.example.com/***?x=1",
        ),
    ],
)
def test_the_token_is_one_path_segment_before_the_query(
    runtime: Load, url: str, token: str | None, url_set: str, shown: str | None
) -> None:
    target = webhook_target(runtime(token), url)
    assert target.url == url_set
    assert target.shown == (shown or url_set)


@pytest.mark.parametrize(
    "url",
    [
        "https://u:PASSWDSECRET@hooks.example.com/h",
        "https://PASSWDSECRET@hooks.example.com/h",
        "u:PASSWDSECRET@hooks.example.com/h",
    ],
)
def test_a_url_with_credentials_is_refused_without_printing_them(runtime: Load, url: str) -> None:
    with pytest.raises(ConfigError) as info:
        webhook_target(runtime("tok-123456"), url)
    text = str(info.value)
    assert "--url" in text and "user:password@" in text
    assert "PASSWDSECRET" not in text


@pytest.mark.parametrize("token", ["tok-123456", "a b?c#d%20e+f"])
def test_the_receiver_accepts_what_configure_sets(runtime: Load, token: str) -> None:
    target = webhook_target(runtime(token), "https://hooks.example.com/airbyte?x=1")
    calls: list[tuple[str, int]] = []

    class Sink:
        def hint(self, connection_id: str, job_id: int) -> None:
            calls.append((connection_id, job_id))

    body = {"data": {"connection": {"id": CONN}, "jobId": 7, "success": True}}
    with WebhookReceiver(Sink(), connections={CONN}, token=token) as receiver:
        receiver.start()
        host, port = receiver.address
        # a reverse proxy maps public_url's path (/airbyte) to /, keeping the rest
        sent = urlsplit(target.url)
        path = sent.path.removeprefix("/airbyte")
        raw = f"http://{host}:{port}{path}?{sent.query}"
        with httpx.Client(timeout=5) as client:
            assert client.post(raw, json=body).status_code == 200
            assert (
                client.post(
                    receiver.url, json={**body, "data": {**body["data"], "jobId": 8}}
                ).status_code
                == 200
            )
            assert client.post(f"http://{host}:{port}/wrong", json=body).status_code == 404
    assert calls == [(CONN, 7), (CONN, 8)]
