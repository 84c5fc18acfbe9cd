"""Log records carry the trace, span, color, tier and method of the call being handled."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from resilience import context
from resilience.observability import ContextFilter, JsonFormatter


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter(extra_fields=["order"]))
    logger = logging.getLogger("tests.observability.logging")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_inside_a_span_and_a_colored_call_carries_the_context(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    tracer = TracerProvider().get_tracer("test")
    with (
        tracer.start_as_current_span("handler") as span,
        context.use_call_context(context.CallContext(color="loadtest", tier=2)),
    ):
        logger.info("charged %s", "card", extra={"order": 17, "secret": "never"})
    (record,) = lines(stream)
    span_context = span.get_span_context()
    assert record["message"] == "charged card"
    assert record["trace_id"] == format(span_context.trace_id, "032x")
    assert record["span_id"] == format(span_context.span_id, "016x")
    assert record["color"] == "loadtest"
    assert record["tier"] == 2
    assert record["order"] == 17
    assert "secret" not in record
    assert record["level"] == "INFO"
    assert record["logger"] == "tests.observability.logging"


def test_outside_any_call_the_fields_are_empty_and_omitted(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    logger.warning("plain")
    (record,) = lines(stream)
    assert set(record) == {"time", "level", "logger", "message"}


def test_the_filter_makes_fields_usable_in_a_format_string() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    assert ContextFilter().filter(record)
    line = logging.Formatter("%(trace_id)s|%(color)s|%(tier)s|%(method)s|%(message)s").format(
        record
    )
    assert line == "||||hello"


def test_an_exception_is_formatted_into_the_json(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    try:
        raise KeyError("missing")
    except KeyError:
        logger.exception("failed")
    (record,) = lines(stream)
    assert "KeyError: 'missing'" in str(record["exception"])


def test_the_baggage_color_is_used_when_no_call_context_has_one(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    from opentelemetry import baggage
    from opentelemetry import context as otel_context

    logger, stream = logged
    token = otel_context.attach(baggage.set_baggage("resilience.color", "shadow"))
    try:
        logger.info("from baggage")
    finally:
        otel_context.detach(token)
    assert lines(stream)[0]["color"] == "shadow"
    assert trace.get_current_span().get_span_context().is_valid is False
