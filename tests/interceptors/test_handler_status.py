"""A handler's own status reaches the client through the protected stack as the handler set
it, in all four shapes, sync and aio: trailing metadata it set, ``context.abort``,
``set_code``/``set_details`` then a return, and a raise after ``set_code`` (that code and the
details set, else the generic message: never the exception text). The client reads it from
the call (``with_call`` and ``future()``, a stream's ``code()``/``details()``/
``trailing_metadata()``, an aio call's awaited ones); the library adds none of its own
trailing keys to it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import grpc
import grpc.aio
import pytest

from resilience._base.keys import PUSHBACK, REJECT
from resilience.policy import Policy
from resilience.testing import ECHO_METHODS, EchoBehavior

from .harness import SHAPES, AioHarness, Failure, Harness, masked_by_grpc_aio

USER_KEY, USER_VALUE = "x-user-trailer", "kept"
POLICY = Policy.from_dict({"methods": {"*": {"breaker": {"min_requests": 1000}}}})

Observed = tuple[grpc.StatusCode, str, list[tuple[str, Any]]]


def handler(harness: Harness, scenario: str) -> Callable[[bytes, Any], Any]:
    """The ``on_call`` hook of a scenario: what the handler does with its context."""
    trailer = ((USER_KEY, USER_VALUE),)

    def sync_hook(request: bytes, context: Any) -> Any:
        context.set_trailing_metadata(trailer)
        if scenario == "abort":
            context.abort(grpc.StatusCode.NOT_FOUND, "not here")
        if scenario in ("set_code", "raise_after_code", "raise_after_code_only"):
            context.set_code(grpc.StatusCode.FAILED_PRECONDITION)
        if scenario in ("set_code", "raise_after_code"):
            context.set_details("precondition")
        if scenario.startswith("raise_after_code"):
            raise ValueError("a secret the client never sees")
        return None

    async def aio_hook(request: bytes, context: Any) -> Any:
        if scenario == "abort":
            await context.abort(grpc.StatusCode.NOT_FOUND, "not here", trailer)
        return sync_hook(request, context)

    return aio_hook if harness.aio else sync_hook


EXPECTED = {
    "trailer": (grpc.StatusCode.OK, None),
    "abort": (grpc.StatusCode.NOT_FOUND, "not here"),
    "set_code": (grpc.StatusCode.FAILED_PRECONDITION, "precondition"),
    "raise_after_code": (grpc.StatusCode.FAILED_PRECONDITION, "precondition"),
    "raise_after_code_only": (grpc.StatusCode.FAILED_PRECONDITION, "internal server error"),
}


def observe_sync(channel: Any, shape: str) -> Observed:
    multicallable = getattr(channel, shape)(ECHO_METHODS[shape])
    request: Any = b"ping" if shape.startswith("unary_") else iter((b"ping", b"ping"))
    if shape.endswith("_unary"):
        try:
            _, call = multicallable.with_call(request, timeout=10)
        except grpc.RpcError as error:
            call = error
        again: Any = iter((b"ping", b"ping")) if shape.startswith("stream_") else b"ping"
        future = multicallable.future(again, timeout=10)
        future.exception(10)
        seen = (future.code(), future.details() or "", list(future.trailing_metadata() or ()))
        assert seen == (call.code(), call.details() or "", list(call.trailing_metadata() or ()))
    else:
        call = multicallable(request, timeout=10)
        with contextlib.suppress(grpc.RpcError):
            list(call)
    return call.code(), call.details() or "", list(call.trailing_metadata() or ())


async def observe_aio(channel: Any, shape: str) -> Observed:
    multicallable = getattr(channel, shape)(ECHO_METHODS[shape])
    request: Any = b"ping" if shape.startswith("unary_") else iter((b"ping", b"ping"))
    call = multicallable(request, timeout=10)
    try:
        if shape.endswith("_stream"):
            _ = [response async for response in call]
        else:
            await call
    except grpc.aio.AioRpcError:
        pass
    trailing = await call.trailing_metadata()
    return await call.code(), await call.details() or "", list(trailing or ())


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scenario", list(EXPECTED))
def test_the_client_sees_the_status_the_handler_set(
    harness: Harness, shape: str, scenario: str
) -> None:
    behavior = EchoBehavior(on_call=handler(harness, scenario))
    server = harness.server(behavior=behavior, policy=POLICY)
    client = harness.client(server.address, policy=POLICY)
    if isinstance(harness, AioHarness):
        code, details, trailing = harness.run(observe_aio(client.channel, shape))
    else:
        code, details, trailing = observe_sync(client.channel, shape)
    if masked_by_grpc_aio(harness, shape, Failure(code, details, {})):
        return
    expected_code, expected_details = EXPECTED[scenario]
    assert code is expected_code
    if expected_details is not None:
        assert details == expected_details
    assert "secret" not in details
    assert [pair for pair in trailing if pair[0] == USER_KEY] == [(USER_KEY, USER_VALUE)]
    assert not {REJECT, PUSHBACK} & {key for key, _ in trailing}
