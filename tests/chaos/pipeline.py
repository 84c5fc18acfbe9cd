"""The server pipeline's fault hook, as the interceptors will call it, and a tiny client."""

from __future__ import annotations

from typing import Any

import grpc

from loadtest.echo_server import color_of
from resilience.chaos import FaultInjector, apply_aio, apply_sync

COLORED = (("baggage", "resilience.color=loadtest"),)


def hook(aio: bool, injector: FaultInjector) -> Any:
    """The server interceptor's plug-in point, as the interceptors will call it."""
    if aio:

        async def pre_aio(method: str, metadata: dict[str, Any], _req: Any, context: Any) -> None:
            fault = injector.pick("server", method, color_of(metadata))
            if fault is not None:
                await apply_aio(fault, context)

        return pre_aio

    def pre(method: str, metadata: dict[str, Any], _req: Any, context: Any) -> None:
        fault = injector.pick("server", method, color_of(metadata))
        if fault is not None:
            apply_sync(fault, context)

    return pre


def say(target: str, metadata: Any = ()) -> tuple[grpc.StatusCode, str, Any]:
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
