"""The grpc.aio twin of :class:`~_interop_clients.SyncDriver`: the same operations and
outcomes, each run to its end on a :class:`~support.LoopThread`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
import grpc.aio

from ._interop_clients import WAIT, Outcome, _echoed, _raised, _rich, _shape
from .support import LoopThread


async def _from(requests: Sequence[bytes]) -> AsyncIterator[bytes]:
    for request in requests:
        yield request


class AioDriver:
    """The same operations on a ``grpc.aio.Channel``, each run on ``loop``."""

    def __init__(self, channel: grpc.aio.Channel, loop: LoopThread) -> None:
        self.channel: Any = channel
        self._loop = loop

    def unary(self, method: str, request: bytes, **options: Any) -> Outcome:
        return self._loop.run(self._await(self.channel.unary_unary(method), request, options))

    def unary_future(self, method: str, request: bytes, **options: Any) -> Outcome:
        """grpc.aio has no ``future()``: the call object is awaited as in :meth:`unary`."""
        return self.unary(method, request, **options)

    def client_stream(self, method: str, requests: Sequence[bytes], **options: Any) -> Outcome:
        multi = self.channel.stream_unary(method)
        return self._loop.run(self._await(multi, _from(requests), options))

    def server_stream(self, method: str, request: bytes, **options: Any) -> Outcome:
        multi = self.channel.unary_stream(method)
        return self._loop.run(self._drain(multi, request, (), options))

    def bidi(
        self, method: str, requests: Sequence[bytes], style: str = "iterator", **options: Any
    ) -> Outcome:
        """``style``: ``"iterator"`` (a sync one), ``"async"`` (an async generator) or
        ``"writes"`` (``write()`` each request, then ``done_writing()``)."""
        multi = self.channel.stream_stream(method)
        if style == "writes":
            return self._loop.run(self._drain(multi, None, requests, options))
        stream = iter(requests) if style == "iterator" else _from(requests)
        return self._loop.run(self._drain(multi, stream, (), options))

    def ping_pong(self, method: str, requests: Sequence[bytes], **options: Any) -> Outcome:
        async def run() -> Outcome:
            call = self.channel.stream_stream(method)(**options)
            responses: list[Any] = []
            error: BaseException | None = None
            try:
                for request in requests:
                    await call.write(request)
                    responses.append(_shape(await call.read()))
                await call.done_writing()
                while (message := await call.read()) is not grpc.aio.EOF:
                    responses.append(_shape(message))
            except grpc.RpcError as rpc_error:
                error = rpc_error
            return await _ended(error, call, tuple(responses))

        return self._loop.run(run())

    def cancel_after_begin(self, method: str) -> Outcome:
        async def run() -> Outcome:
            release = asyncio.Event()

            async def stream() -> AsyncIterator[bytes]:
                await release.wait()
                nothing: tuple[bytes, ...] = ()
                for request in nothing:
                    yield request

            call = self.channel.stream_unary(method)(stream())
            state = (call.cancel(), call.cancelled(), call.done())
            error: BaseException | None = None
            try:
                await call
            except (asyncio.CancelledError, grpc.RpcError) as raised:
                error = raised
            ran = asyncio.Event()
            call.add_done_callback(lambda _call: ran.set())
            callbacks_ran = await _within(ran.wait())
            release.set()
            return Outcome(
                _raised(error), await call.code(), await call.details(), (*state, callbacks_ran)
            )

        return self._loop.run(run())

    def cancel_after_first_response(self, method: str, request: bytes) -> Outcome:
        async def run() -> Outcome:
            release = asyncio.Event()

            async def stream() -> AsyncIterator[bytes]:
                yield request
                await release.wait()

            call = self.channel.stream_stream(method)(stream())
            first = _shape(await call.read())
            cancelled = call.cancel()
            error: BaseException | None = None
            try:
                await call.read()
            except (asyncio.CancelledError, grpc.RpcError) as raised:
                error = raised
            release.set()
            state = (first, cancelled, call.cancelled(), call.done())
            return Outcome(_raised(error), await call.code(), await call.details(), state)

        return self._loop.run(run())

    @staticmethod
    async def _await(multi: Any, request: Any, options: dict[str, Any]) -> Outcome:
        call = multi(request, **options)
        try:
            response = await call
        except grpc.RpcError as error:
            return await _ended(error, call, None)
        return await _ended(None, call, _shape(response))

    @staticmethod
    async def _drain(
        multi: Any, request: Any, writes: Sequence[bytes], options: dict[str, Any]
    ) -> Outcome:
        call = multi(**options) if request is None else multi(request, **options)
        responses: list[Any] = []
        error: BaseException | None = None
        try:
            if request is None:
                for message in writes:
                    await call.write(message)
                await call.done_writing()
            async for message in call:
                responses.append(_shape(message))
        except grpc.RpcError as rpc_error:
            error = rpc_error
        return await _ended(error, call, tuple(responses))


async def _within(waiting: Any) -> bool:
    try:
        await asyncio.wait_for(waiting, WAIT)
    except asyncio.TimeoutError:
        return False
    return True


async def _ended(error: BaseException | None, call: Any, value: Any) -> Outcome:
    code = await call.code()
    details = await call.details()
    trailing = await call.trailing_metadata()
    rich = _rich(error) if isinstance(error, grpc.aio.AioRpcError) else None
    return Outcome(
        _raised(error),
        code,
        details,
        value,
        _echoed(await call.initial_metadata()),
        _echoed(trailing),
        rich,
    )
