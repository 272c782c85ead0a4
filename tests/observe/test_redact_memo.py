"""The redactor remembers its answers for short strings (an event's keys, name, run id and
pipeline repeat in every event: a fresh run of 1,000 syncs redacts 1,000 skip events),
and never reuses an answer made before a secret was registered."""

from __future__ import annotations

import threading

import pytest

from luigi_airbyte.observe.events import Event
from luigi_airbyte.observe.redact import REDACTED, Redactor

SECRET = "s3cr3t-value-0123456789"


def test_an_answer_made_before_a_secret_is_registered_is_not_reused() -> None:
    r = Redactor()
    text = f"token for crm: {SECRET}"
    assert r.redact_str(text) == text  # not a secret yet: remembered as is
    r.register(SECRET)
    assert SECRET not in r.redact_str(text)
    assert REDACTED in r.redact_str(text)


def test_repeated_short_strings_are_scanned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    r = Redactor()
    scanned: list[str] = []
    original = r._redact_text

    def counting(text: str) -> str:
        scanned.append(text)
        return original(text)

    monkeypatch.setattr(r, "_redact_text", counting)
    for i in range(100):
        r.redact_event(Event("step.fresh", {"run_id": "r-1", "pipeline": "p", "step": f"s{i}"}))
    # name, three keys, two repeated values once each; the 100 step names once each
    assert len(scanned) == 6 + 100
    long = "x" * 300
    r.redact_str(long)
    r.redact_str(long)
    assert scanned.count(long) == 2  # long text is not remembered


def test_sensitive_keys_answer_as_before() -> None:
    r = Redactor()
    keys = ["password", "API-Key", "client_secret", "step", "message", "Authorization", "x"]
    first = [r.is_sensitive_key(k) for k in keys]
    again = [r.is_sensitive_key(k) for k in keys]
    assert first == again == [True, True, True, False, False, True, False]


def test_registering_while_redacting_never_leaks() -> None:
    r = Redactor()
    texts = [f"value {i} {SECRET}" for i in range(200)]
    stop = threading.Event()

    def redact_all() -> None:
        while not stop.is_set():
            for t in texts:
                r.redact_str(t)

    worker = threading.Thread(target=redact_all)
    worker.start()
    try:
        r.register(SECRET)
    finally:
        stop.set()
        worker.join()
    assert all(SECRET not in r.redact_str(t) for t in texts)
