"""gRPC interceptors: one client and one server interceptor per side, sync and ``grpc.aio``.

Each runs the whole resilience stack for its side as plain calls over one I/O-free core
(:mod:`resilience.interceptors._pipeline`), so a service pays the interception cost once::

    channel = grpc.intercept_channel(grpc.insecure_channel(target), ClientInterceptor(policy))
    server = grpc.server(executor, interceptors=[ServerInterceptor(policy)])

    channel = grpc.aio.insecure_channel(target, interceptors=AioClientInterceptor(policy))
    server = grpc.aio.server(interceptors=[AioServerInterceptor(policy)])

``AioClientInterceptor`` is a sequence of four one-shape interceptors (a grpc.aio channel files
an object under its first shape only): pass it as the whole list, as above, or unpack it into
yours, ``interceptors=[*AioClientInterceptor(policy), other]``. Nesting it in a list raises a
TypeError that says so.
"""

from __future__ import annotations

from resilience.interceptors.aio_client import AioClientInterceptor
from resilience.interceptors.aio_server import AioServerInterceptor
from resilience.interceptors.client import ClientInterceptor, LocalRejection
from resilience.interceptors.server import ServerInterceptor

__all__ = [
    "AioClientInterceptor",
    "AioServerInterceptor",
    "ClientInterceptor",
    "LocalRejection",
    "ServerInterceptor",
]
