"""The four RPC shapes behind one table.

gRPC names a method's shape by whether its request and its response are streams. Everything the
interceptors do differently per shape is one of two facts: which attribute of a
:class:`grpc.RpcMethodHandler` holds the behaviour (and which factory rebuilds a handler around a
new one), and whether the response is a stream (which decides how the outcome is waited for and
whether a dynamic timeout applies).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc

if TYPE_CHECKING:
    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]
else:
    Handler = grpc.RpcMethodHandler  # not subscriptable at runtime
HandlerFactory: TypeAlias = Callable[..., Handler]


@dataclass(frozen=True, slots=True)
class Shape:
    """One RPC shape: ``name`` (``"unary_unary"`` ...), the two streaming flags, the handler
    attribute holding its behaviour and the ``grpc.*_rpc_method_handler`` factory for it."""

    name: str
    request_streaming: bool
    response_streaming: bool
    factory: HandlerFactory

    @property
    def streaming(self) -> bool:
        """True when either side is a stream (a long-lived call: no dynamic timeout by default)."""
        return self.request_streaming or self.response_streaming

    def behavior(self, handler: Handler) -> Callable[..., Any]:
        """The handler's behaviour function for this shape."""
        behavior: Callable[..., Any] = getattr(handler, self.name)
        return behavior

    def rebuild(self, handler: Handler, behavior: Callable[..., Any]) -> Handler:
        """A handler of the same shape and serializers as ``handler`` running ``behavior``."""
        return self.factory(
            behavior,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


UNARY_UNARY = Shape("unary_unary", False, False, grpc.unary_unary_rpc_method_handler)
UNARY_STREAM = Shape("unary_stream", False, True, grpc.unary_stream_rpc_method_handler)
STREAM_UNARY = Shape("stream_unary", True, False, grpc.stream_unary_rpc_method_handler)
STREAM_STREAM = Shape("stream_stream", True, True, grpc.stream_stream_rpc_method_handler)

SHAPES: dict[tuple[bool, bool], Shape] = {
    (False, False): UNARY_UNARY,
    (False, True): UNARY_STREAM,
    (True, False): STREAM_UNARY,
    (True, True): STREAM_STREAM,
}
"""(request_streaming, response_streaming) -> Shape."""

ALL_SHAPES: tuple[Shape, ...] = (UNARY_UNARY, UNARY_STREAM, STREAM_UNARY, STREAM_STREAM)


def shape_of(handler: Handler) -> Shape:
    """The shape of a server method handler."""
    return SHAPES[bool(handler.request_streaming), bool(handler.response_streaming)]
