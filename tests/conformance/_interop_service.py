"""A bytes-in, bytes-out service with the server features of gRPC's interop test descriptions
(doc/interop-test-descriptions.md in grpc/grpc), written for this suite, sync and grpc.aio.

A request that carries instructions is ``encode(**params)``: a JSON header, a newline and a
payload of zeros. The handlers read these parameters:

- ``size`` (unary, bidi): bytes of zeros in the response; ``sizes`` (server streaming): one
  response per size.
- ``status``: ``[code name, message]``: end the call with that status (Echo Status);
  ``rich``: with it, a ``google.rpc.Status`` with an ``ErrorInfo`` detail in
  ``grpc-status-details-bin``.
- ``sleep``: seconds to wait first (ends early when the call ends).
- ``compress``: answer gzip-compressed (CompressedResponse).
- ``echo_auth``: send the ``authorization`` header received back in ``x-grpc-test-echo-auth``.

Every call echoes ``x-grpc-test-echo-initial`` in its initial metadata and
``x-grpc-test-echo-trailing-bin`` in its trailing metadata (Echo Metadata). Client-streaming
requests are plain payloads; the response is their total size in ASCII decimal.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import grpc.aio
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

SERVICE = "conformance.Interop"
EMPTY = f"/{SERVICE}/EmptyCall"
UNARY = f"/{SERVICE}/UnaryCall"
INPUT = f"/{SERVICE}/StreamingInputCall"
OUTPUT = f"/{SERVICE}/StreamingOutputCall"
DUPLEX = f"/{SERVICE}/FullDuplexCall"
UNIMPLEMENTED_METHOD = f"/{SERVICE}/UnimplementedCall"
UNIMPLEMENTED_SERVICE = "/conformance.UnimplementedService/UnimplementedCall"
ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"
ECHO_AUTH = "x-grpc-test-echo-auth"
ERROR_REASON = "CONFORMANCE_REASON"
MAX_SLEEP = 10.0
"""Seconds a handler sleeps at most, whatever the request asks."""

Metadata = tuple[tuple[str, str | bytes], ...]


def encode(payload: int = 0, **params: Any) -> bytes:
    """A request: the parameters as a JSON header line, then ``payload`` bytes of zeros."""
    return json.dumps(params).encode() + b"\n" + bytes(payload)


def decode(request: bytes) -> dict[str, Any]:
    header, _, _payload = request.partition(b"\n")
    params: dict[str, Any] = json.loads(header)
    return params


def _echoes(context: Any) -> tuple[Metadata, Metadata]:
    """(initial, trailing) metadata to echo back from the caller's."""
    received = tuple(context.invocation_metadata() or ())
    initial = tuple((key, value) for key, value in received if key == ECHO_INITIAL)
    trailing = tuple((key, value) for key, value in received if key == ECHO_TRAILING)
    return initial, trailing


def _auth_echo(context: Any, params: dict[str, Any]) -> Metadata:
    if not params.get("echo_auth"):
        return ()
    received = dict(context.invocation_metadata() or ())
    return ((ECHO_AUTH, str(received.get("authorization", "none"))),)


def _failure(params: dict[str, Any]) -> tuple[grpc.StatusCode, str, Metadata] | None:
    """The status the request asks to end with: (code, message, extra trailing metadata)."""
    if "status" not in params:
        return None
    name, message = params["status"]
    code = grpc.StatusCode[name]
    if not params.get("rich"):
        return code, message, ()
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=ERROR_REASON, domain="conformance.test"))
    rich = status_pb2.Status(code=code.value[0], message=message, details=[info])
    return code, message, tuple(rpc_status.to_status(rich).trailing_metadata)


# -- sync ---------------------------------------------------------------------------------------


def _sleep_sync(context: grpc.ServicerContext, seconds: float) -> None:
    if seconds > 0:
        ended = threading.Event()
        context.add_callback(ended.set)
        ended.wait(min(seconds, MAX_SLEEP))


def _begin_sync(
    context: grpc.ServicerContext, params: dict[str, Any], *, first: bool = True
) -> None:
    """Echo metadata (initial only before the first message), compression, sleep, then the
    requested status if any."""
    initial, trailing = _echoes(context)
    if initial and first:
        context.send_initial_metadata(initial)
    context.set_trailing_metadata((*trailing, *_auth_echo(context, params)))
    if params.get("compress"):
        context.set_compression(grpc.Compression.Gzip)
    _sleep_sync(context, float(params.get("sleep", 0)))
    failure = _failure(params)
    if failure is not None:
        code, message, extra = failure
        context.set_trailing_metadata((*trailing, *extra))
        context.abort(code, message)


def sync_handler() -> grpc.GenericRpcHandler:
    def empty(request: bytes, context: grpc.ServicerContext) -> bytes:
        _begin_sync(context, {})
        return b""

    def unary(request: bytes, context: grpc.ServicerContext) -> bytes:
        params = decode(request)
        _begin_sync(context, params)
        return bytes(params.get("size", 0))

    def streaming_input(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        _begin_sync(context, {})
        return str(sum(len(request) for request in requests)).encode()

    def streaming_output(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        params = decode(request)
        _begin_sync(context, params)
        for size in params.get("sizes", ()):
            yield bytes(size)

    def full_duplex(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        _begin_sync(context, {})
        for request in requests:
            params = decode(request)
            _begin_sync(context, params, first=False)
            yield bytes(params.get("size", 0))

    return _service(empty, unary, streaming_input, streaming_output, full_duplex)


def _service(
    empty: Any, unary: Any, streaming_input: Any, streaming_output: Any, full_duplex: Any
) -> grpc.GenericRpcHandler:
    """The test service's five methods (sync or aio behaviours) under their interop names."""
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "EmptyCall": grpc.unary_unary_rpc_method_handler(empty),
            "UnaryCall": grpc.unary_unary_rpc_method_handler(unary),
            "StreamingInputCall": grpc.stream_unary_rpc_method_handler(streaming_input),
            "StreamingOutputCall": grpc.unary_stream_rpc_method_handler(streaming_output),
            "FullDuplexCall": grpc.stream_stream_rpc_method_handler(full_duplex),
        },
    )


# -- grpc.aio -----------------------------------------------------------------------------------

Context = grpc.aio.ServicerContext[Any, Any]


async def _begin_aio(context: Context, params: dict[str, Any], *, first: bool = True) -> None:
    """The aio twin of :func:`_begin_sync` (initial metadata only before the first message)."""
    initial, trailing = _echoes(context)
    if initial and first:
        await context.send_initial_metadata(initial)
    context.set_trailing_metadata((*trailing, *_auth_echo(context, params)))
    if params.get("compress"):
        context.set_compression(grpc.Compression.Gzip)
    sleep = float(params.get("sleep", 0))
    if sleep > 0:
        await asyncio.sleep(min(sleep, MAX_SLEEP))
    failure = _failure(params)
    if failure is not None:
        code, message, extra = failure
        await context.abort(code, message, trailing_metadata=(*trailing, *extra))


def aio_handler() -> grpc.GenericRpcHandler:
    async def empty(request: bytes, context: Context) -> bytes:
        await _begin_aio(context, {})
        return b""

    async def unary(request: bytes, context: Context) -> bytes:
        params = decode(request)
        await _begin_aio(context, params)
        return bytes(params.get("size", 0))

    async def streaming_input(requests: AsyncIterator[bytes], context: Context) -> bytes:
        await _begin_aio(context, {})
        return str(sum([len(request) async for request in requests])).encode()

    async def streaming_output(request: bytes, context: Context) -> AsyncIterator[bytes]:
        params = decode(request)
        await _begin_aio(context, params)
        for size in params.get("sizes", ()):
            yield bytes(size)

    async def full_duplex(requests: AsyncIterator[bytes], context: Context) -> AsyncIterator[bytes]:
        await _begin_aio(context, {})
        async for request in requests:
            params = decode(request)
            await _begin_aio(context, params, first=False)
            yield bytes(params.get("size", 0))

    return _service(empty, unary, streaming_input, streaming_output, full_duplex)
