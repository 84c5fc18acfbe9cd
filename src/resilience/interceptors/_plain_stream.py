"""A response stream that is a plain iterator, not a ``grpc.Call``, ended when it ends.

gRPC's own response stream is a ``grpc.Call`` and a ``grpc.Future`` whose done callback
records the call's status. A wrapped channel may hand back less: OpenTelemetry's gRPC
instrumentation (``GrpcInstrumentorClient``) returns a server-streaming call as a Python
generator, which starts the call on its first ``next()`` and has no done callback. Such a
stream is wrapped here and the call's status recorded when the caller reads it to its end,
it raises, or the caller closes or drops it (``CANCELLED``; a stream never read was never
sent).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

import grpc

from resilience.interceptors._client_call import ClientCall

_OK = grpc.StatusCode.OK
_CANCELLED = grpc.StatusCode.CANCELLED
_UNKNOWN = grpc.StatusCode.UNKNOWN


class EndedWhenRead(Iterator[Any]):
    """Iterates ``stream`` and ends ``call`` once: ``OK`` when the stream is exhausted, the
    error's code when it raises a ``grpc.RpcError``, ``CANCELLED`` when it raises anything
    else, is closed (``close()``/``cancel()``) or is garbage-collected before its end.
    Any other attribute is the stream's own."""

    __slots__ = ("_call", "_stream")

    def __init__(self, stream: Any, call: ClientCall) -> None:
        self._stream = stream
        self._call: ClientCall | None = call

    def _end(self, code: grpc.StatusCode) -> None:
        call, self._call = self._call, None
        if call is not None:
            call.end(code)

    def __next__(self) -> Any:
        try:
            return next(self._stream)
        except StopIteration:
            self._end(_OK)
            raise
        except grpc.RpcError as error:
            code = getattr(error, "code", None)
            self._end(code() if callable(code) else _UNKNOWN)
            raise
        except BaseException:
            self._end(_CANCELLED)
            raise

    def cancel(self) -> bool:
        """Stop the stream (its own ``cancel()``, else ``close()``); the call ends
        ``CANCELLED`` unless it had ended. True if it had not ended."""
        running = self._call is not None
        stop = getattr(self._stream, "cancel", None) or getattr(self._stream, "close", None)
        if callable(stop):
            stop()
        self._end(_CANCELLED)
        return running

    close = cancel

    def __del__(self) -> None:
        self._end(_CANCELLED)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def recorded(sent: Any, call: ClientCall) -> Any:
    """``sent`` (what the wrapped channel returned for ``call``) with the call's end recorded:
    by a termination callback when it has one (gRPC's calls), else by :class:`EndedWhenRead`.

    The callback holds the stream weakly (``add_callback``, and a weak reference to read
    the status): gRPC keeps a call's callbacks alive until the call ends, and a done callback
    (``add_done_callback``) holds the stream itself, so a stream the caller stopped reading
    and dropped (``break`` out of the loop) would never be collected, hence never cancelled:
    it would hold its server handler, its bulkhead place and its in-flight count until its
    deadline, for ever without one. Dropped, gRPC cancels it as it does without the library,
    and the call ends ``CANCELLED``."""
    add_callback = getattr(sent, "add_callback", None)
    if add_callback is None:
        add_done_callback = getattr(sent, "add_done_callback", None)
        if add_done_callback is None:
            return EndedWhenRead(sent, call)
        add_done_callback(call.future_done)
        return sent
    stream = weakref.ref(sent)

    def ended() -> None:
        alive = stream()
        if alive is None:
            call.end(_CANCELLED)
        else:
            call.future_done(alive)

    try:
        added = add_callback(ended)
    except NotImplementedError:  # gRPC's error of a call that has ended (_InactiveRpcError)
        added = False
    if not added:  # it has ended already
        ended()
    return sent
