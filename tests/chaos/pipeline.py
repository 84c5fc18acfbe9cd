"""The server interceptor's hook point, as the interceptors run it, and a tiny client.

The interceptors extract the caller's color into the call context, then run their hooks; the
stand-in below does the same with the echo server's ``pre`` hook.
"""

from __future__ import annotations

from typing import Any

import grpc

from loadtest.echo_server import color_of
from resilience.chaos import FaultInjector, aio_fault_hook, fault_hook
from resilience.context import CallContext, use_call_context

COLORED = (("baggage", "resilience.color=loadtest"),)


def hook(aio: bool, injector: FaultInjector) -> Any:
    """The fault hook of ``injector``, run inside a call context holding the caller's color."""
    if aio:
        inner_aio = aio_fault_hook(injector)

        async def pre_aio(method: str, metadata: dict[str, Any], req: Any, context: Any) -> None:
            with use_call_context(CallContext(color=color_of(metadata))):
                await inner_aio(method, metadata, req, context)

        return pre_aio
    inner = fault_hook(injector)

    def pre(method: str, metadata: dict[str, Any], req: Any, context: Any) -> None:
        with use_call_context(CallContext(color=color_of(metadata))):
            inner(method, metadata, req, context)

    return pre


def say(target: str, metadata: Any = ()) -> tuple[grpc.StatusCode, str, Any]:
    """Call /echo.Echo/Say; returns (code, details, trailing metadata)."""
    with grpc.insecure_channel(target) as channel:
        generic: Any = channel
        try:
            _, call = generic.unary_unary("/echo.Echo/Say").with_call(
                b"hi", metadata=metadata, timeout=5
            )
            return call.code(), "", call.trailing_metadata()
        except grpc.RpcError as exc:
            failed: Any = exc
            return failed.code(), failed.details(), failed.trailing_metadata()
