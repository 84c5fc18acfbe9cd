"""A complete sync service: a protected server, a protected channel, one call.

Run it: ``python docs/examples/quickstart.py``. The service is generic (bytes in, bytes
out) so the example needs no generated code; with generated stubs the two ``protect`` lines
are the same (register the servicer on the server ``protect`` returns).
"""

from __future__ import annotations

from concurrent import futures

import grpc

from resilience import ClientInterceptor, Policy, ServerInterceptor
from resilience.context import current_color, current_tier, traffic_color

METHOD = "/demo.Greeter/SayHello"


def say_hello(request: bytes, context: grpc.ServicerContext) -> bytes:
    # The protected server has put the caller's color and tier into contextvars.
    return b"hello %s (color=%s, tier=%s)" % (
        request,
        str(current_color()).encode(),
        str(current_tier()).encode(),
    )


def serve(policy: Policy, port: int = 0) -> tuple[grpc.Server, int]:
    """Start the server on 127.0.0.1 (port 0: any free port); return it and its port."""
    server = ServerInterceptor(policy).protect(  # <- the one server-side line
        grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    )
    handler = grpc.method_handlers_generic_handler(
        "demo.Greeter", {"SayHello": grpc.unary_unary_rpc_method_handler(say_hello)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server, port


def main(port: int = 0) -> str:
    policy = Policy.default()  # breaker and propagation on; limits and timeouts off
    server, port = serve(policy, port)
    try:
        channel = ClientInterceptor(policy).protect(  # <- the one client-side line
            grpc.insecure_channel(f"127.0.0.1:{port}")
        )
        say: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(METHOD)
        with traffic_color("loadtest"):  # a color travels with the call (W3C baggage)
            reply: bytes = say(b"newcomer", timeout=5.0)
        channel.close()
        return reply.decode()
    finally:
        server.stop(None)


if __name__ == "__main__":
    print(main())
