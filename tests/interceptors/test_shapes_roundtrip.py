"""With the default interceptors every shape passes through unchanged, and the handler runs in
a context carrying the caller's color and the method's tier."""

from __future__ import annotations

from typing import Any

import pytest

from resilience.context import CallContext, current_call_context, traffic_color
from resilience.testing import EchoBehavior

from .harness import SHAPES, Harness


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_echoes_through_both_interceptors(harness: Harness, shape: str) -> None:
    server = harness.server()
    client = harness.client(server.address)

    responses = client.call(shape, b"hello")

    expected = {
        "unary_unary": [b"hello"],
        "unary_stream": [b"hello"] * 3,
        "stream_unary": [b"hellohello"],
        "stream_stream": [b"hello", b"hello"],
    }[shape]
    assert responses == expected


@pytest.mark.parametrize("shape", SHAPES)
def test_handler_sees_color_and_tier_of_the_call(harness: Harness, shape: str) -> None:
    seen: list[CallContext] = []

    def look(request: bytes, context: Any) -> None:
        seen.append(current_call_context())

    server = harness.server(behavior=EchoBehavior(on_call=look))
    client = harness.client(server.address)

    with traffic_color("loadtest"):
        client.call(shape)

    assert seen
    assert {(ctx.color, ctx.tier) for ctx in seen} == {("loadtest", 2)}


def test_handler_context_does_not_leak_into_the_next_call(harness: Harness) -> None:
    seen: list[str | None] = []
    server = harness.server(
        behavior=EchoBehavior(on_call=lambda r, c: seen.append(current_call_context().color))
    )
    client = harness.client(server.address)

    with traffic_color("red"):
        client.call()
    client.call()

    assert seen == ["red", None]
