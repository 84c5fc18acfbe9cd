"""The same service on ``grpc.aio``: ``AioServerInterceptor(...).protect`` and
``AioClientInterceptor(...).protect``.

Run it: ``python docs/examples/aio_quickstart.py``.
"""

from __future__ import annotations

import asyncio

import grpc
import grpc.aio

from resilience import AioClientInterceptor, AioServerInterceptor, Policy
from resilience.context import current_color, current_tier, traffic_color

METHOD = "/demo.Greeter/SayHello"


async def say_hello(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return b"hello %s (color=%s, tier=%s)" % (
        request,
        str(current_color()).encode(),
        str(current_tier()).encode(),
    )


async def serve(policy: Policy, port: int = 0) -> tuple[grpc.aio.Server, int]:
    """Start the server on 127.0.0.1 (port 0: any free port); return it and its port."""
    server = AioServerInterceptor(policy).protect(grpc.aio.server())
    handler = grpc.method_handlers_generic_handler(
        "demo.Greeter", {"SayHello": grpc.unary_unary_rpc_method_handler(say_hello)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server, port


async def main(port: int = 0) -> str:
    policy = Policy.default()
    server, port = await serve(policy, port)
    try:
        # As interceptors instead: grpc.aio.insecure_channel(target,
        # interceptors=AioClientInterceptor(policy)), the same stack at a higher cost per call.
        plain = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        async with AioClientInterceptor(policy).protect(plain) as channel:
            say: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(METHOD)
            with traffic_color("loadtest"):
                reply: bytes = await say(b"newcomer", timeout=5.0)
        return reply.decode()
    finally:
        await server.stop(None)


if __name__ == "__main__":
    print(asyncio.run(main()))
