"""The grpc.aio call object of a protected channel's call that starts later (a client-side
fault's delay) or never (refused locally): it behaves as a grpc.aio call, and awaiting or
iterating it raises the refusal as :class:`grpc.aio.AioRpcError`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Generator
from typing import Any

import grpc
import grpc.aio

_CANCELLED = grpc.StatusCode.CANCELLED
_Metadata = grpc.aio.Metadata


class DeferredCall:
    """The grpc.aio call of a call that starts later or never (see the module doc): each
    method waits for the real call and answers with it, or with the refusal's status."""

    def __init__(self, start: Coroutine[Any, Any, Any]) -> None:
        self._task: asyncio.Future[Any] = asyncio.ensure_future(start)

    def __await__(self) -> Generator[Any, None, Any]:
        call = yield from self._task.__await__()
        return (yield from call.__await__())

    def __aiter__(self) -> Any:
        return self._responses()

    async def _responses(self) -> Any:
        call = await self._task
        async for response in call:
            yield response

    async def _status(self, name: str) -> Any:
        try:
            call = await self._task
        except grpc.aio.AioRpcError as error:
            return getattr(error, name)()
        except asyncio.CancelledError:
            return {"code": _CANCELLED, "details": "Locally cancelled by application!"}.get(
                name, _Metadata()
            )
        return await getattr(call, name)()

    async def code(self) -> grpc.StatusCode:
        code: grpc.StatusCode = await self._status("code")
        return code

    async def details(self) -> str:
        return str(await self._status("details"))

    async def initial_metadata(self) -> Any:
        return await self._status("initial_metadata")

    async def trailing_metadata(self) -> Any:
        return await self._status("trailing_metadata")

    async def read(self) -> Any:
        return await (await self._task).read()

    async def write(self, request: Any) -> None:
        await (await self._task).write(request)

    async def done_writing(self) -> None:
        await (await self._task).done_writing()

    async def wait_for_connection(self) -> None:
        await (await self._task).wait_for_connection()

    def _call(self) -> Any:
        task = self._task
        if task.done() and not task.cancelled() and task.exception() is None:
            return task.result()
        return None

    def cancel(self) -> bool:
        call = self._call()
        if call is not None:
            return bool(call.cancel())
        return self._task.cancel()

    def cancelled(self) -> bool:
        call = self._call()
        return self._task.cancelled() if call is None else bool(call.cancelled())

    def done(self) -> bool:
        call = self._call()
        return self._task.done() if call is None else bool(call.done())

    def time_remaining(self) -> float | None:
        call = self._call()
        return None if call is None else call.time_remaining()

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        def started(task: asyncio.Future[Any]) -> None:
            call = self._call()
            if call is None:
                callback(self)
            else:
                call.add_done_callback(lambda _: callback(self))

        self._task.add_done_callback(started)

    def debug_error_string(self) -> str:
        return ""
