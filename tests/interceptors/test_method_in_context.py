"""The server interceptor makes the handled method current: ``current_method()`` inside the
handler (for all four shapes) and the ``method`` field of the log filter's records."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from resilience.context import current_method, tier, traffic_color
from resilience.observability import ContextFilter
from resilience.testing import ECHO_METHODS, EchoBehavior

from .harness import SHAPES, Harness


class Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(ContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize("shape", SHAPES)
def test_the_handler_sees_its_method_and_logs_carry_it(harness: Harness, shape: str) -> None:
    seen: list[str | None] = []
    logger = logging.getLogger("tests.interceptors.method")
    keep = Keep()
    logger.addHandler(keep)
    logger.setLevel(logging.INFO)

    def on_call(request: bytes, context: Any) -> None:
        seen.append(current_method())
        with traffic_color("loadtest"), tier(1):  # narrowing the context keeps the method
            seen.append(current_method())
        logger.info("handling")

    try:
        server = harness.server(behavior=EchoBehavior(on_call=on_call))
        harness.client(server.address).call(shape)
    finally:
        logger.removeHandler(keep)

    method = ECHO_METHODS[shape]
    assert set(seen) == {method}
    assert {getattr(record, "method", None) for record in keep.records} == {method}


def test_outside_a_call_there_is_no_method() -> None:
    assert current_method() is None
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    ContextFilter().filter(record)
    assert record.method == ""  # type: ignore[attr-defined]
