"""AioClientInterceptor is a sequence of four one-shape interceptors: it works as the whole
interceptor list and unpacked into a longer one, for every shape; nesting it in a list fails
at once with a TypeError that says what to write instead of grpc's puzzling ValueError."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc.aio
import pytest

from resilience.interceptors import AioClientInterceptor
from resilience.interceptors.aio_client import NESTED_LIST_MESSAGE
from resilience.testing import ECHO_METHODS, AioEchoServer, aio_echo_call

from .harness import Recorder


class Tally(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self) -> None:
        self.calls = 0

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        self.calls += 1
        return await continuation(client_call_details, request)


@pytest.mark.parametrize("form", ["whole", "unpacked"])
def test_both_documented_forms_protect_every_shape(form: str) -> None:
    async def scenario() -> tuple[list[str], int]:
        seen = Recorder()
        resilient = AioClientInterceptor(observers=[seen])
        tally = Tally()
        interceptors: Any = resilient if form == "whole" else [*resilient, tally]
        server = await AioEchoServer().start()
        try:
            async with grpc.aio.insecure_channel(server.address, interceptors=interceptors) as ch:
                for shape in ECHO_METHODS:
                    await aio_echo_call(ch, shape, b"x")
        finally:
            await server.stop(None)
        return [info.method for info in seen.started], tally.calls

    methods, tallied = asyncio.run(scenario())

    assert methods == list(ECHO_METHODS.values())
    assert tallied == (1 if form == "unpacked" else 0)


def test_nesting_it_in_a_list_raises_a_type_error_saying_what_to_write() -> None:
    async def scenario() -> None:
        nested = [AioClientInterceptor()]  # the mistake (mypy flags it too)
        grpc.aio.insecure_channel("127.0.0.1:1", interceptors=nested)  # type: ignore[arg-type]

    with pytest.raises(TypeError) as raised:
        asyncio.run(scenario())

    assert str(raised.value) == NESTED_LIST_MESSAGE
    assert "interceptors=AioClientInterceptor(policy)" in NESTED_LIST_MESSAGE
    assert "interceptors=[*AioClientInterceptor(policy), other]" in NESTED_LIST_MESSAGE


def test_formatting_it_elsewhere_shows_its_repr() -> None:
    interceptor = AioClientInterceptor(observers=())
    assert f"{interceptor}" == repr(interceptor) == str(interceptor)
    assert f"{interceptor}".startswith("AioClientInterceptor(Policy(")
