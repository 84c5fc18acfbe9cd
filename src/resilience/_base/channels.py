"""The four multi-callable factories of a channel wrapper, written once.

A channel the library wraps (the dual-center channels, the protected aio channel) builds every
multi-callable the same way: the shape's name and the method's arguments go to one
``_multi_callable`` of its own. :class:`ShapeFactories` gives such a class gRPC's four public
factory methods (``unary_unary`` ... ``stream_stream``); list it before ``grpc.Channel`` or
``grpc.aio.Channel`` among the bases so that it supplies their abstract methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Serializer = Callable[[Any], bytes] | None
Deserializer = Callable[[bytes], Any] | None


class ShapeFactories:
    """``unary_unary`` ... ``stream_stream``, each handing its arguments to
    ``self._multi_callable(shape, method, serializer, deserializer, registered)``."""

    __slots__ = ()

    def _multi_callable(
        self, shape: str, method: str, ser: Serializer, de: Deserializer, registered: Any
    ) -> Any:
        raise NotImplementedError

    def unary_unary(
        self,
        method: str,
        request_serializer: Serializer = None,
        response_deserializer: Deserializer = None,
        _registered_method: bool | None = False,
    ) -> Any:
        return self._multi_callable(
            "unary_unary", method, request_serializer, response_deserializer, _registered_method
        )

    def unary_stream(
        self,
        method: str,
        request_serializer: Serializer = None,
        response_deserializer: Deserializer = None,
        _registered_method: bool | None = False,
    ) -> Any:
        return self._multi_callable(
            "unary_stream", method, request_serializer, response_deserializer, _registered_method
        )

    def stream_unary(
        self,
        method: str,
        request_serializer: Serializer = None,
        response_deserializer: Deserializer = None,
        _registered_method: bool | None = False,
    ) -> Any:
        return self._multi_callable(
            "stream_unary", method, request_serializer, response_deserializer, _registered_method
        )

    def stream_stream(
        self,
        method: str,
        request_serializer: Serializer = None,
        response_deserializer: Deserializer = None,
        _registered_method: bool | None = False,
    ) -> Any:
        return self._multi_callable(
            "stream_stream", method, request_serializer, response_deserializer, _registered_method
        )
