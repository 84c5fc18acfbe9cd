"""What the cancellation and reload conformance tests share: a real echo server with the server
interceptor and a channel with the client interceptor, sync or aio, watched the ways an
operator watches them (observers, spans, the active-calls gauge, the overload guard), and a gate
that holds a call at one await point until the test lets it go.

The invariants every call must meet once it is over, however it ended (:meth:`Stack.check`):
the server and the client each reported it ended exactly once, each of its spans ended, the
overload guard holds no permit for it, and the ``active_calls`` gauges read 0 again.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import grpc
import grpc.aio
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider

from resilience.events import CallInfo, CallOutcome
from resilience.interceptors import (
    AioClientInterceptor,
    AioServerInterceptor,
    ClientInterceptor,
    ServerInterceptor,
)
from resilience.observability.metrics import MetricsObserver
from resilience.observability.tracing import CallTracer
from resilience.policy import Policy
from resilience.testing import ECHO_METHODS, AioEchoServer, EchoBehavior, EchoServer

from .conftest import LoopThread, wait_until

NEVER_SHED = {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0}
"""Overload thresholds no CPU reading exceeds: the guard admits every call (and holds a permit
for each), so a busy host never sheds a scenario's call."""

HOLD_LIMIT = 20.0
"""Seconds a held call waits at most for the test to let it go (a safety net, never reached)."""


STOP_LIMIT = 10.0
"""Seconds a sync server's stop may take before the test goes on without it."""


class Ends:
    """An observer counting each side's start and end reports, with the codes calls ended with."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = 0
        self.codes: list[grpc.StatusCode] = []

    def call_started(self, call: CallInfo) -> None:
        with self._lock:
            self.started += 1

    def call_ended(self, call: CallInfo, outcome: CallOutcome) -> None:
        with self._lock:
            self.codes.append(outcome.code)

    def event(self, name: str, attributes: Any) -> None:
        pass


class Spans(SpanProcessor):
    """Counts spans started and ended."""

    def __init__(self) -> None:
        self.started = 0
        self.ended = 0

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.started += 1

    def on_end(self, span: ReadableSpan) -> None:
        self.ended += 1


class Gate:
    """Holds a call at one point (a hook, a handler) until :meth:`open`: ``entered`` is set when
    a call reaches it. Sync callers block a thread; aio callers await, so cancelling the call
    cancels the wait."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.entered = threading.Event()
        self._opened = threading.Event()
        self._loop = loop
        self._event: asyncio.Event | None = None

    def wait(self) -> None:
        self.entered.set()
        self._opened.wait(HOLD_LIMIT)

    async def wait_aio(self) -> None:
        if self._event is None:
            self._event = asyncio.Event()
        if self._opened.is_set():
            return
        self.entered.set()
        await asyncio.wait_for(self._event.wait(), HOLD_LIMIT)

    def open(self) -> None:
        self._opened.set()
        if self._loop is not None and self._event is not None:
            self._loop.call_soon_threadsafe(self._event.set)


class Call:
    """One call in flight from the test thread: :meth:`cancel` it, or read its final status."""

    def __init__(self, stack: Stack, call: Any) -> None:
        self._stack = stack
        self._call = call

    def cancel(self) -> None:
        if self._stack.loop is None:
            self._call.cancel()
        else:
            self._stack.loop.loop.call_soon_threadsafe(self._call.cancel)

    def done(self) -> bool:
        """Whether the call has ended (does not wait)."""
        return bool(self._call.done())

    def code(self) -> grpc.StatusCode:
        """The status the caller got (waits for the call to end)."""
        if self._stack.loop is None:
            return _sync_code(self._call)
        return self._stack.loop.run(_aio_code(self._call))


def _sync_code(call: Any) -> grpc.StatusCode:
    code: grpc.StatusCode = call.code()  # a sync call (or future) waits for its status
    return code


async def _aio_code(call: Any) -> grpc.StatusCode:
    try:
        code: grpc.StatusCode = await call.code()
    except asyncio.CancelledError:
        return grpc.StatusCode.CANCELLED
    return code


class Stack:
    """A server with ``server_policy`` (and ``hooks``) and a client with ``client_policy``, both
    watched; sync when ``loop`` is None, else aio on that loop thread. Close it when done."""

    def __init__(
        self,
        loop: LoopThread | None,
        *,
        server_policy: Policy | None = None,
        client_policy: Policy | None = None,
        behavior: EchoBehavior | None = None,
        hooks: Sequence[Any] = (),
    ) -> None:
        self.loop = loop
        self.behavior = behavior or EchoBehavior()
        self.server_ends, self.client_ends = Ends(), Ends()
        self.spans = Spans()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(self.spans)
        self._reader = InMemoryMetricReader()
        self._meters = MeterProvider(metric_readers=[self._reader])
        metrics = MetricsObserver(meter_provider=self._meters)
        aio = loop is not None
        server_cls: Any = AioServerInterceptor if aio else ServerInterceptor
        client_cls: Any = AioClientInterceptor if aio else ClientInterceptor
        self.server: Any = server_cls(
            server_policy, observers=[self.server_ends, metrics], hooks=hooks
        )
        self.client: Any = client_cls(client_policy, observers=[self.client_ends, metrics])
        for interceptor in (self.server, self.client):
            interceptor._pipeline.tracer = CallTracer(tracer_provider=tracer_provider)
            interceptor._pipeline._tracer_checked = -1.0  # look at the tracer again now
        if loop is None:
            self._echo: Any = EchoServer(
                behavior=self.behavior, interceptors=[self.server], max_workers=32
            )
            self._echo.start()
            self.channel: Any = grpc.intercept_channel(
                grpc.insecure_channel(self._echo.address), self.client
            )
        else:
            self._echo, self.channel = loop.run(self._start_aio())

    async def _start_aio(self) -> tuple[AioEchoServer, grpc.aio.Channel]:
        echo = await AioEchoServer(behavior=self.behavior, interceptors=[self.server]).start()
        return echo, grpc.aio.insecure_channel(echo.address, interceptors=self.client)

    def start(self, shape: str, timeout: float | None) -> Call:
        """Start one call of ``shape`` (one request message) without waiting for it."""
        if self.loop is None:
            return Call(self, _issue(self.channel, shape, timeout, aio=False))

        async def issue() -> Any:
            return _issue(self.channel, shape, timeout, aio=True)

        return Call(self, self.loop.run(issue()))

    def active_calls(self, side: str) -> int:
        """The ``resilience.<side>.active_calls`` gauge as an exporter would read it now."""
        data = self._reader.get_metrics_data()
        total = 0
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == f"resilience.{side}.active_calls":
                        points: Any = metric.data.data_points
                        total += sum(int(point.value) for point in points)
        return total

    def permits_held(self) -> int:
        """Overload permits held on the server, over every method it has seen."""
        registry = self.server._pipeline.registry
        guards = {id(s.overload): s.overload for s in registry._states.values() if s.overload}
        return sum(guard.inflight for guard in guards.values())

    def wait_ended(self, calls: int) -> bool:
        """Whether both sides have reported ``calls`` ends (waits up to 10 s for them)."""
        return wait_until(
            lambda: len(self.server_ends.codes) >= calls and len(self.client_ends.codes) >= calls
        )

    def check(self, calls: int) -> list[str]:
        """The invariants broken once ``calls`` calls that reached the server are over (empty
        when all hold); waits for the end reports first."""
        self.wait_ended(calls)
        broken = []
        for side, ends in (("server", self.server_ends), ("client", self.client_ends)):
            if ends.started != calls or len(ends.codes) != calls:
                broken.append(f"{side}: {ends.started} started, {len(ends.codes)} ended")
            if self.active_calls(side) != 0:
                broken.append(f"{side}: active_calls reads {self.active_calls(side)}")
        if (self.spans.started, self.spans.ended) != (2 * calls, 2 * calls):
            broken.append(f"spans: {self.spans.started} started, {self.spans.ended} ended")
        if self.permits_held():
            broken.append(f"overload permits held: {self.permits_held()}")
        return broken

    def close(self) -> None:
        if self.loop is None:
            self.channel.close()
            # bounded: a sync server's stop waits for handler threads still running
            stopping = threading.Thread(target=self._echo.stop, args=(None,), daemon=True)
            stopping.start()
            stopping.join(STOP_LIMIT)
            self.server.close()
        else:
            self.loop.run(self._stop_aio())
        self._meters.shutdown()

    async def _stop_aio(self) -> None:
        await self.channel.close()
        await self._echo.stop(None)
        self.server.close()


def _issue(channel: Any, shape: str, timeout: float | None, *, aio: bool) -> Any:
    multicallable = getattr(channel, shape)(ECHO_METHODS[shape])
    request: Any = [b"x"] if shape.startswith("stream_") else b"x"
    if shape.startswith("stream_"):
        request = iter(request)
    if shape == "unary_unary" and not aio:
        return multicallable.future(request, timeout=timeout)
    return multicallable(request, timeout=timeout)
