"""One way to write each gRPC scenario for both sync and aio: a harness that starts echo servers
with the server interceptor and clients with the client interceptor, and makes calls.

The aio harness runs its servers, channels and calls on an event loop in a thread of its own;
a call made from the test thread runs in a copy of the test thread's context, so
``traffic_color(...)`` blocks and OpenTelemetry spans in the test reach the interceptor.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
import grpc.aio

from resilience.events import CallInfo, CallOutcome
from resilience.interceptors import (
    AioClientInterceptor,
    AioServerInterceptor,
    ClientInterceptor,
    ServerInterceptor,
)
from resilience.policy import Policy
from resilience.testing import (
    ECHO_METHODS,
    AioEchoServer,
    EchoBehavior,
    EchoServer,
    aio_echo_call,
    echo_call,
)

T = TypeVar("T")
SHAPES = tuple(ECHO_METHODS)
KINDS = ("sync", "aio", "sync-protected", "aio-protected")
"""The harnesses every scenario runs on (the ``harness`` fixture's parameters): the gRPC API,
then ``-protected`` for the stack installed with ``protect`` instead of as interceptors."""
OPTIONS = (("grpc.max_metadata_size", 64 * 1024), ("grpc.absolute_max_metadata_size", 128 * 1024))
"""Let oversized metadata reach the interceptor (gRPC refuses > 8 KiB by default)."""


@dataclass
class Recorder:
    """An observer that keeps every report (thread-safe enough for list appends)."""

    started: list[CallInfo] = field(default_factory=list)
    ended: list[tuple[CallInfo, CallOutcome]] = field(default_factory=list)
    events: list[tuple[str, Any]] = field(default_factory=list)

    def call_started(self, call: CallInfo) -> None:
        self.started.append(call)

    def call_ended(self, call: CallInfo, outcome: CallOutcome) -> None:
        self.ended.append((call, outcome))

    def wait_ended(self, count: int, seconds: float = 5.0) -> list[tuple[CallInfo, CallOutcome]]:
        """The ended reports once there are ``count`` of them (or after ``seconds``).

        The server may hear a call end after the client has its status: a handler's own
        ``context.abort`` in grpc.aio sends the status before the exception leaves the handler,
        and a sync response stream ends in gRPC's RPC-done callback, which runs once the status
        is sent.
        """
        deadline = time.monotonic() + seconds
        while len(self.ended) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.ended

    def event(self, name: str, attributes: Any) -> None:
        self.events.append((name, attributes))

    def codes(self) -> list[grpc.StatusCode]:
        return [outcome.code for _, outcome in self.ended]


GATE_SECONDS = 20.0
"""How long a held handler waits for its gate at most (a test opens it long before)."""


class Gate:
    """Holds every handler of an echo server until :meth:`open`; ``entered`` counts the
    handlers that reached it. Sync servers wait on an event, aio servers await."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = 0
        self._lock = threading.Lock()

    def behavior(self, aio: bool, **fields: Any) -> EchoBehavior:
        def on_call(request: bytes, context: Any) -> Any:
            with self._lock:
                self.entered += 1
            if aio:
                return self._await()
            self.opened.wait(GATE_SECONDS)
            return None

        return EchoBehavior(on_call=on_call, **fields)

    async def _await(self) -> None:
        for _ in range(int(GATE_SECONDS / 0.005)):
            if self.opened.is_set():
                return
            await asyncio.sleep(0.005)

    def open(self) -> None:
        self.opened.set()


@dataclass
class Server:
    address: str
    behavior: EchoBehavior
    interceptor: Any
    stop: Callable[[float | None], None] = lambda grace: None
    """Stop the server, letting calls in flight finish for ``grace`` seconds (None: none)."""


@dataclass
class Failure:
    """What a failed call reported: status code, details and trailing metadata as a dict."""

    code: grpc.StatusCode
    details: str
    trailing: dict[str, str]


def failure_of(error: BaseException) -> Failure:
    rpc: Any = error
    trailing = dict(rpc.trailing_metadata() or ())
    return Failure(rpc.code(), rpc.details() or "", trailing)


def masked_by_grpc_aio(harness: Harness, shape: str, result: object) -> bool:
    """Whether a grpc.aio client hid the status a server sent early: an aio client still
    writing a request stream when the server ends the call may report INTERNAL "Internal
    error from Core" instead (grpc/grpc#36066, fix proposed in grpc/grpc#43486)."""
    return (
        harness.aio
        and shape.startswith("stream_")
        and isinstance(result, Failure)
        and result.code is grpc.StatusCode.INTERNAL
        and result.details == "Internal error from Core"
    )


class Client:
    """A channel with the client interceptor; :meth:`call` returns responses or a Failure."""

    def __init__(self, harness: Harness, channel: Any, interceptor: Any) -> None:
        self.harness = harness
        self.channel = channel
        self.interceptor = interceptor

    def call(
        self,
        shape: str = "unary_unary",
        payload: bytes = b"ping",
        *,
        timeout: float | None = 5.0,
        metadata: Sequence[tuple[str, str]] | None = None,
    ) -> list[bytes] | Failure:
        return self.harness.call(self, shape, payload, timeout=timeout, metadata=metadata)


class Harness:
    """Servers and clients of one kind (sync or aio); everything stops at :meth:`close`."""

    aio = False

    def __init__(self, protected: bool = False) -> None:
        self._closers: list[Callable[[], None]] = []
        self.protected = protected
        """Install the default chain through ``protect`` (the protected channel and server)
        instead of as gRPC interceptors."""

    def server(
        self,
        *,
        behavior: EchoBehavior | None = None,
        policy: Policy | None = None,
        observers: Sequence[Any] = (),
        clock: Callable[[], float] | None = None,
        hooks: Sequence[Any] = (),
        interceptors: Sequence[Any] | None = None,
    ) -> Server:
        kwargs: dict[str, Any] = {"observers": observers, "hooks": hooks}
        if clock is not None:
            kwargs["clock"] = clock
        cls = AioServerInterceptor if self.aio else ServerInterceptor
        interceptor = cls(policy, **kwargs)
        self._closers.append(lambda: self._close(interceptor))  # after the server stops
        if interceptors is not None:
            return self._start_server(behavior or EchoBehavior(), list(interceptors), interceptor)
        if self.protected:
            return self._start_server(behavior or EchoBehavior(), [], interceptor, interceptor)
        return self._start_server(behavior or EchoBehavior(), [interceptor], interceptor)

    def client(
        self,
        address: str,
        *,
        policy: Policy | None = None,
        observers: Sequence[Any] = (),
        clock: Callable[[], float] | None = None,
        plain: bool = False,
    ) -> Client:
        """A client with the client interceptor (or none with ``plain``: raw metadata)."""
        kwargs: dict[str, Any] = {"observers": observers}
        if clock is not None:
            kwargs["clock"] = clock
        cls = AioClientInterceptor if self.aio else ClientInterceptor
        interceptor = None if plain else cls(policy, **kwargs)
        if interceptor is not None:
            self._closers.append(lambda: self._close(interceptor))  # after the channel closes
        return self._open_client(address, interceptor)

    def _start_server(
        self, behavior: EchoBehavior, chain: list[Any], interceptor: Any, protection: Any = None
    ) -> Server:
        server = EchoServer(
            behavior=behavior,
            interceptors=chain,
            max_workers=16,
            options=OPTIONS,
            protection=protection,
        ).start()
        self._closers.append(lambda: server.stop(None))
        return Server(server.address, behavior, interceptor, server.stop)

    def _open_client(self, address: str, interceptor: Any) -> Client:
        channel = grpc.insecure_channel(address)
        if interceptor is not None and self.protected:
            channel = interceptor.protect(channel)
        elif interceptor is not None:
            channel = grpc.intercept_channel(channel, interceptor)
        self._closers.append(channel.close)
        return Client(self, channel, interceptor)

    def call(
        self,
        client: Client,
        shape: str,
        payload: bytes,
        *,
        timeout: float | None,
        metadata: Sequence[tuple[str, str]] | None,
    ) -> list[bytes] | Failure:
        try:
            return echo_call(client.channel, shape, payload, timeout=timeout, metadata=metadata)
        except grpc.RpcError as error:
            return failure_of(error)

    def concurrently(self, client: Client, shapes: Sequence[str]) -> list[list[bytes] | Failure]:
        """One call per entry of ``shapes``, all at once: 16 threads (sync) or one asyncio task
        per call (aio)."""
        with ThreadPoolExecutor(max_workers=16) as pool:
            return list(pool.map(lambda shape: client.call(shape, timeout=20), shapes))

    def forward(
        self,
        client: Client,
        shape: str = "unary_unary",
        within: Callable[[], AbstractContextManager[Any]] = nullcontext,
    ) -> Callable[[bytes, Any], Any]:
        """An ``on_call`` hook that calls ``client`` (the next hop) from inside the handler,
        in the block ``within()`` opens (e.g. ``lambda: traffic_color(None)``)."""

        def hook(request: bytes, context: Any) -> bytes:
            with within():
                return echo_call(client.channel, shape, request)[0]

        return hook

    def cancel_after_first(self, client: Client, shape: str) -> None:
        """Start a response stream, read one response, then cancel the call."""
        multicallable: Any = getattr(client.channel, shape)(ECHO_METHODS[shape])
        request: Any = b"x" if shape == "unary_stream" else iter([b"x"] * 1000)
        call = multicallable(request, timeout=5)
        next(call)
        call.cancel()

    def _close(self, interceptor: Any) -> None:
        """Close an interceptor the harness made, so that no limit of this test keeps syncing
        (and logging) into the next one. Client interceptors hold no such limit (no close)."""
        getattr(interceptor, "close", lambda: None)()

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer()
        self._closers.clear()


class AioHarness(Harness):
    aio = True

    def __init__(self, protected: bool = False) -> None:
        super().__init__(protected)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coroutine`` on the harness loop, in a copy of the caller's context."""
        context = contextvars.copy_context()
        future: Any = context.run(asyncio.run_coroutine_threadsafe, coroutine, self.loop)
        result: T = future.result(timeout)
        return result

    def _start_server(
        self, behavior: EchoBehavior, chain: list[Any], interceptor: Any, protection: Any = None
    ) -> Server:
        async def start() -> AioEchoServer:
            echo = AioEchoServer(
                behavior=behavior, interceptors=chain, options=OPTIONS, protection=protection
            )
            return await echo.start()

        server = self.run(start())
        self._closers.append(lambda: self.run(server.stop(None)))
        return Server(
            server.address, behavior, interceptor, lambda grace: self.run(server.stop(grace))
        )

    def _close(self, interceptor: Any) -> None:
        async def close() -> None:
            getattr(interceptor, "close", lambda: None)()
            for _ in range(20):  # let the limiters' sync tasks see it and end
                await asyncio.sleep(0)

        self.run(close())

    def _open_client(self, address: str, interceptor: Any) -> Client:
        async def open_channel() -> grpc.aio.Channel:
            if interceptor is not None and self.protected:
                return interceptor.protect(grpc.aio.insecure_channel(address))  # type: ignore[no-any-return]
            return grpc.aio.insecure_channel(address, interceptors=interceptor)

        channel = self.run(open_channel())
        self._closers.append(lambda: self.run(channel.close()))
        return Client(self, channel, interceptor)

    def call(
        self,
        client: Client,
        shape: str,
        payload: bytes,
        *,
        timeout: float | None,
        metadata: Sequence[tuple[str, str]] | None,
    ) -> list[bytes] | Failure:
        async def call() -> list[bytes] | Failure:
            try:
                return await aio_echo_call(
                    client.channel, shape, payload, timeout=timeout, metadata=metadata
                )
            except grpc.aio.AioRpcError as error:
                return failure_of(error)

        return self.run(call())

    def concurrently(self, client: Client, shapes: Sequence[str]) -> list[list[bytes] | Failure]:
        async def call(shape: str) -> list[bytes] | Failure:
            try:
                return await aio_echo_call(client.channel, shape, timeout=20)
            except grpc.aio.AioRpcError as error:
                return failure_of(error)

        async def all_at_once() -> list[list[bytes] | Failure]:
            return list(await asyncio.gather(*(call(shape) for shape in shapes)))

        return self.run(all_at_once(), timeout=60)

    def forward(
        self,
        client: Client,
        shape: str = "unary_unary",
        within: Callable[[], AbstractContextManager[Any]] = nullcontext,
    ) -> Callable[[bytes, Any], Any]:
        async def hook(request: bytes, context: Any) -> bytes:
            with within():
                return (await aio_echo_call(client.channel, shape, request))[0]

        return hook

    def cancel_after_first(self, client: Client, shape: str) -> None:
        async def cancel() -> None:
            multicallable: Any = getattr(client.channel, shape)(ECHO_METHODS[shape])
            request: Any = b"x" if shape == "unary_stream" else iter([b"x"] * 1000)
            call = multicallable(request, timeout=5)
            await call.read()
            call.cancel()
            await asyncio.sleep(0.05)  # let the cancellation reach the done callbacks

        self.run(cancel())

    def close(self) -> None:
        super().close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()
