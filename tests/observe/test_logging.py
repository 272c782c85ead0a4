"""RedactingFilter / install_redaction: canaries never reach log output."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from luigi_airbyte.observe.redact import RedactingFilter, Redactor, install_redaction


@pytest.fixture
def stream_logger(redactor: Redactor) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger with a StringIO handler carrying the filter, as the CLI would set it up."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s %(extra_field)s"))
    handler.addFilter(RedactingFilter(redactor))
    log = logging.getLogger("luigi_airbyte.test_redaction")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    try:
        yield log, stream
    finally:
        log.removeHandler(handler)
        log.propagate = True


def _fail_with_chain(canary: str) -> None:
    """RuntimeError, whose __context__ is a ValueError, whose __cause__ is a ConnectionError."""
    try:
        try:
            raise ConnectionError(f"dial tcp failed, password={canary}")
        except ConnectionError as inner:
            raise ValueError(f"could not log in with {canary}") from inner
    except ValueError:
        raise RuntimeError(f"sync failed ({canary})")  # noqa: B904 - implicit __context__


def test_message_args_extra_and_exceptions(
    stream_logger: tuple[logging.Logger, io.StringIO], canary: str
) -> None:
    log, stream = stream_logger
    log.info(f"direct {canary}", extra={"extra_field": "-"})  # noqa: G004 - on purpose
    log.info("args %s and %r", canary, {"k": canary}, extra={"extra_field": "-"})
    log.info("mapping %(token)s", {"token": canary}, extra={"extra_field": "-"})
    log.info("extra", extra={"extra_field": {"client_secret": "x", "v": canary}})
    log.info(canary[:12] + "%s", canary[12:], extra={"extra_field": "-"})  # noqa: G003

    class Conn:
        def __repr__(self) -> str:
            return f"Conn(secret={canary})"

    log.info("object %r", Conn(), extra={"extra_field": "-"})
    try:
        _fail_with_chain(canary)
    except RuntimeError:
        log.exception("step failed", extra={"extra_field": "-"})
    log.info("stack", stack_info=True, extra={"extra_field": canary})
    text = stream.getvalue()
    assert canary not in text
    assert "could not log in" in text  # chained causes are still shown
    assert "dial tcp failed" in text
    assert "***" in text


def test_explicit_cause_chain_through_caplog(
    caplog: pytest.LogCaptureFixture, redactor: Redactor, canary: str
) -> None:
    log = logging.getLogger("luigi_airbyte.sync.runner")
    install_redaction(["luigi_airbyte"], redactor=redactor, handlers=[caplog.handler])
    try:
        try:
            raise OSError(f"Authorization: Bearer {canary}")
        except OSError as exc:
            raise KeyError(f"missing {canary}") from exc
    except KeyError:
        log.exception("child logger record %s", canary)
    assert canary not in caplog.text
    for record in caplog.records:
        assert canary not in record.getMessage()
        assert canary not in (record.exc_text or "")
    assert "OSError" in caplog.text and "KeyError" in caplog.text


def test_secret_in_traceback_source_line_is_masked(
    stream_logger: tuple[logging.Logger, io.StringIO], redactor: Redactor
) -> None:
    # Airflow documents this as an xfail; we format and redact the whole text instead.
    log, stream = stream_logger
    redactor.register("literal-in-source-1234")
    try:
        raise ValueError("literal-in-source-1234")  # the source line itself has the secret
    except ValueError:
        log.exception("boom", extra={"extra_field": "-"})
    assert "literal-in-source-1234" not in stream.getvalue()


def test_install_redaction_is_idempotent_and_covers_root_handlers(redactor: Redactor) -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    try:
        f1 = install_redaction(redactor=redactor)
        install_redaction(redactor=redactor)
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
        for name in ("luigi_airbyte", "luigi", "luigi-interface", "httpx"):
            filters = logging.getLogger(name).filters
            assert sum(isinstance(f, RedactingFilter) for f in filters) == 1
        assert isinstance(f1, RedactingFilter)
    finally:
        root.removeHandler(handler)
        for name in ("luigi_airbyte", "luigi", "luigi-interface", "httpx"):
            lg = logging.getLogger(name)
            for f in list(lg.filters):
                if isinstance(f, RedactingFilter):
                    lg.removeFilter(f)


def test_filter_never_drops_records(redactor: Redactor) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "bad %d", ("notanint",), None)
    assert RedactingFilter(redactor).filter(record) is True


def test_callable_extras_are_left_alone(redactor: Redactor) -> None:
    def highlighter(text: str) -> str:
        return text

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.highlighter = highlighter
    record.markup = True
    RedactingFilter(redactor).filter(record)
    assert record.highlighter is highlighter and record.markup is True


def test_a_template_naming_a_secret_field_still_formats() -> None:
    """``log.info("secret=%s %r", a, b)``: the template is not masked into one placeholder."""
    import logging as _logging

    from luigi_airbyte.observe.redact import RedactingFilter, Redactor

    redactor = Redactor()
    redactor.register("CANARY-template-secret")
    record = _logging.LogRecord(
        "t", _logging.INFO, __file__, 1, "secret=%s %r", ("CANARY-template-secret", {"s": 1}), None
    )
    assert RedactingFilter(redactor).filter(record)
    text = record.getMessage()  # raised TypeError before: "secret=*** %r" % (a, b)
    assert "CANARY" not in text and "{'s': 1}" in text
