"""What the interceptors cost per gRPC call, as ratios to bare gRPC measured in the same round.

Each measurement runs in fresh processes: a server subprocess and a client subprocess, on
127.0.0.1 and a free port. Variants run interleaved in rounds; the table reports medians over
rounds of each round's ratio to the bare run of the same mode in that round.

Variants (each sync and aio, one unary echo method):
- ``bare``: no interceptor;
- ``full``: the client and server stacks installed with ``protect`` (the protected channel and
  server, as documented: no gRPC interception machinery) with every policy on (breaker, dynamic
  timeout, tiered rate limit, overload guard, propagation, trusted-peer tiers) and the default
  observers (golden-signal metrics and crash reports), OpenTelemetry API without SDK;
- ``full_sdk``: ``full`` with an OpenTelemetry SDK TracerProvider (SimpleSpanProcessor and a
  no-op exporter) in both processes, so every call records a client and a server span;
- ``full_metrics_sentry``: ``full`` with an OpenTelemetry SDK MeterProvider (an
  InMemoryMetricReader) and ``sentry_sdk.init`` (a DSN on a closed loopback port) in both
  processes, so every call records its metrics and the crash reporter is armed;
- ``bare_metrics_sentry`` (reference, only with ``--variants``): ``bare`` in processes set up
  as for ``full_metrics_sentry``, to tell those SDKs' own cost from the interceptors'.

Figures: p50 and p99 latency of sequential calls; client + server CPU per call (process time);
calls per second from 16 client threads (sync only, 8 server workers).

Usage: ``python benchmarks/grpc_overhead.py [--quick] [--rounds N] [--calls N] [--variants a,b]
[--pin] [--baseline SRC] [--output PATH]``. Writes benchmarks/results/grpc_overhead.json (or
PATH); ``--pin`` puts the server on CPU 0 and the client on CPU 1 (steadier A/B comparisons).
``--baseline SRC`` (a ``src`` directory of another version of the library, e.g. from
``git archive``) lets ``--variants`` name ``VARIANT@base``: that variant with the library
imported from SRC, measured in the same rounds (a before/after A/B in one run).
``python benchmarks/grpc_overhead.py profile [VARIANT] [--cold] [--aio]`` prints the in-process
cost of the sync shells (``--aio``: the aio shells) and where it goes; ``--cold`` adds each
side's cost with cold CPU caches. ``python benchmarks/grpc_overhead.py instructions [VARIANT]
[--aio] [--protected]`` counts the machine instructions of one such in-process call pair with
valgrind (a figure the machine's load does not move). In both, ``bare`` is the no-network
continuation and handler alone and ``otel_grpc`` opentelemetry-instrumentation-grpc's
interceptors around them (sync: always over the done channel, so compare with ``bare
--protected``); a variant with a tracer SDK first checks and prints the spans of one call pair.
``python benchmarks/grpc_overhead.py working-set`` times the floor (``spans_sdk``) and our
stack apart and together (:func:`working_set`).
"""

from __future__ import annotations

import argparse
import contextvars
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "grpc_overhead.json"
VARIANTS = ("bare", "full", "full_sdk", "full_metrics_sentry")
REFERENCE_VARIANTS = (
    "intercepted",
    "intercepted_sdk",
    "otel_grpc",
    "bare_metrics_sentry",
    "bare_metadata",
    "passthrough",
    "full_no_observers",
    "full_no_timeout",
    "full_no_limits",
    "full_no_propagate",
    "full_no_breaker",
)
"""Run only when named with --variants, to attribute the cost of ``full``:
``intercepted`` (``intercepted_sdk``), ``full`` (``full_sdk``) installed as gRPC interceptors
(``grpc.intercept_channel`` and ``grpc.server(interceptors=...)``) instead of the protected
channel and server; ``otel_grpc``, no resilience but opentelemetry-instrumentation-grpc's client
and server interceptors with the same SDK set-up as ``full_sdk`` (the reference for tracing);
``bare_metrics_sentry``, bare gRPC in processes with the metrics SDK and sentry-sdk set up
(what those SDKs cost a process without any interceptor); ``bare_metadata``, bare gRPC sending
the metadata ``full`` sends (the tier header); ``passthrough``, an empty client + server
interceptor pair (gRPC's interception machinery alone); ``full_no_<part>``, ``full`` without
one part (observers, dynamic timeout, rate limit and overload guard, propagation, breaker)."""
TIER_METADATA = (("x-resilience-tier", "2"),)
"""What ``full`` sends in this benchmark (no color, no trace): the policy's tier, 2."""
MODES = ("sync", "aio")
BASELINE = [""]
"""The ``--baseline`` src directory that ``VARIANT@base`` variants import the library from."""
METHOD = "/bench.Echo/Say"
CPU_METHOD = "/bench.Echo/Cpu"
PAYLOAD = b"x" * 64


def full_policy(variant: str = "full") -> Any:
    """Every policy on; a ``full_no_<part>`` variant turns that part off."""
    from resilience.policy import Policy

    settings: dict[str, Any] = {
        "breaker": {"min_requests": 1_000_000},
        "timeout": {"t_avg": 0.5, "t_hwm": 1.0, "t_max": 2.0},
        "rate_limit": {"limit": 10_000_000, "window": 1.0, "tiered": True},
        # thresholds of 1.0: the guard does all its work but never sheds here
        "overload": {"cpu_thresholds": {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0}},
    }
    off = {
        "full_no_timeout": ("timeout",),
        "full_no_limits": ("rate_limit", "overload"),
        "full_no_breaker": ("breaker",),
    }.get(variant, ())
    for section in off:
        settings[section] = False
    if variant == "full_no_propagate":
        settings["propagate"] = False
    return Policy.from_dict({"trusted_peers": ["127.0.0.1/32"], "methods": {"*": settings}})


def kind(variant: str) -> str:
    """What a variant installs: ``bare`` (nothing), ``passthrough``, ``otel_grpc`` (the
    OpenTelemetry gRPC instrumentation's interceptors), ``spans_sdk`` (in-process only: the
    spans alone, :func:`_spans_sides`), ``intercepted`` (our stack as gRPC interceptors) or
    ``full`` (our stack through the protected channel and server)."""
    if variant.startswith("bare"):
        return "bare"
    if variant.startswith("intercepted"):
        return "intercepted"
    return variant if variant in ("passthrough", "otel_grpc", "spans_sdk") else "full"


def call_metadata(variant: str) -> Any:
    """The metadata each timed call is made with."""
    return TIER_METADATA if variant == "bare_metadata" else None


def _passthrough_client(aio: bool) -> Any:
    import grpc
    import grpc.aio

    if aio:

        class AioPass(grpc.aio.UnaryUnaryClientInterceptor):
            async def intercept_unary_unary(
                self, continuation: Any, client_call_details: Any, request: Any
            ) -> Any:
                return await continuation(client_call_details, request)

        return [AioPass()]

    class Pass(grpc.UnaryUnaryClientInterceptor):
        def intercept_unary_unary(
            self, continuation: Any, client_call_details: Any, request: Any
        ) -> Any:
            return continuation(client_call_details, request)

    return Pass()


def _passthrough_server(aio: bool) -> Any:
    import grpc
    import grpc.aio

    if aio:

        class AioPass(grpc.aio.ServerInterceptor):
            async def intercept_service(self, continuation: Any, details: Any) -> Any:
                return await continuation(details)

        return AioPass()

    class Pass(grpc.ServerInterceptor):
        def intercept_service(self, continuation: Any, details: Any) -> Any:
            return continuation(details)

    return Pass()


CAPTURED: list[list[Any]] = []
"""While it holds a list, the SDK set-up's exporter appends every exported span to it
(:func:`check_spans`)."""


def configure(variant: str) -> tuple[Any, ...]:
    """Set up this process for ``variant``; return the observers to give the interceptors."""
    if variant.endswith("_sdk") or variant == "otel_grpc":
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            SimpleSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )

        class NoopExporter(SpanExporter):
            """Drops every span, or keeps them while :data:`CAPTURED` holds a list."""

            def export(self, spans: Any) -> SpanExportResult:
                if CAPTURED:
                    CAPTURED[0].extend(spans)
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(NoopExporter()))
        trace.set_tracer_provider(provider)
    if variant.endswith("metrics_sentry"):
        import sentry_sdk
        from opentelemetry import metrics
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
        sentry_sdk.init(dsn="http://public@127.0.0.1:9/1")  # port 9: nothing is ever sent
    if kind(variant) not in ("full", "intercepted") or variant == "full_no_observers":
        return ()
    from resilience.observability import default_observers

    return default_observers()


# ---- server process -------------------------------------------------------------------


def _handlers() -> Any:
    import grpc

    def say(request: bytes, context: Any) -> bytes:
        return request

    def cpu(request: bytes, context: Any) -> bytes:
        return repr(time.process_time()).encode()

    return grpc.method_handlers_generic_handler(
        "bench.Echo",
        {
            "Say": grpc.unary_unary_rpc_method_handler(say),
            "Cpu": grpc.unary_unary_rpc_method_handler(cpu),
        },
    )


def _aio_handlers() -> Any:
    import grpc

    async def say(request: bytes, context: Any) -> bytes:
        return request

    async def cpu(request: bytes, context: Any) -> bytes:
        return repr(time.process_time()).encode()

    return grpc.method_handlers_generic_handler(
        "bench.Echo",
        {
            "Say": grpc.unary_unary_rpc_method_handler(say),
            "Cpu": grpc.unary_unary_rpc_method_handler(cpu),
        },
    )


def serve(mode: str, variant: str) -> None:
    """Run a server until stdin closes; print its port first."""
    observers = configure(variant)
    if mode == "sync":
        from concurrent.futures import ThreadPoolExecutor

        import grpc

        from resilience.interceptors import ServerInterceptor

        chain: list[grpc.ServerInterceptor] = []
        if kind(variant) == "passthrough":
            chain.append(_passthrough_server(aio=False))
        elif kind(variant) == "otel_grpc":
            from opentelemetry.instrumentation.grpc import server_interceptor

            chain.append(server_interceptor())  # type: ignore[no-untyped-call]
        elif kind(variant) == "intercepted":
            chain.append(ServerInterceptor(full_policy(variant), observers=observers))
        server = grpc.server(ThreadPoolExecutor(max_workers=8), interceptors=chain)
        if kind(variant) == "full":
            server = ServerInterceptor(full_policy(variant), observers=observers).protect(server)
        server.add_generic_rpc_handlers((_handlers(),))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        print(port, flush=True)
        sys.stdin.read()
        server.stop(None)
        return
    import asyncio

    import grpc.aio

    from resilience.interceptors import AioServerInterceptor

    async def run() -> None:
        interceptors: list[Any] = []
        if kind(variant) == "passthrough":
            interceptors.append(_passthrough_server(aio=True))
        elif kind(variant) == "otel_grpc":
            from opentelemetry.instrumentation.grpc import aio_server_interceptor

            interceptors.append(aio_server_interceptor())  # type: ignore[no-untyped-call]
        elif kind(variant) == "intercepted":
            interceptors.append(AioServerInterceptor(full_policy(variant), observers=observers))
        aio_server: Any = grpc.aio.server(interceptors=interceptors)
        if kind(variant) == "full":
            protection = AioServerInterceptor(full_policy(variant), observers=observers)
            aio_server = protection.protect(aio_server)
        aio_server.add_generic_rpc_handlers((_aio_handlers(),))
        port = aio_server.add_insecure_port("127.0.0.1:0")
        await aio_server.start()
        print(port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await aio_server.stop(None)

    asyncio.run(run())


# ---- client process -------------------------------------------------------------------


def _percentiles(samples: list[int]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2] / 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000
    return p50, p99


def client(mode: str, variant: str, target: str, calls: int, seconds: float) -> None:
    """Measure and print one JSON line: p50/p99 us, CPU us per call, 16-thread calls/s."""
    observers = configure(variant)
    if mode == "sync":
        print(json.dumps(_sync_client(variant, observers, target, calls, seconds)), flush=True)
        return
    import asyncio

    print(json.dumps(asyncio.run(_aio_client(variant, observers, target, calls))), flush=True)


def _sync_client(
    variant: str, observers: Any, target: str, calls: int, seconds: float
) -> dict[str, float]:
    import threading

    import grpc

    from resilience.interceptors import ClientInterceptor

    channel = grpc.insecure_channel(target)
    if kind(variant) == "passthrough":
        channel = grpc.intercept_channel(channel, _passthrough_client(aio=False))
    elif kind(variant) == "otel_grpc":
        from opentelemetry.instrumentation.grpc import client_interceptor, grpcext

        # its sync client interceptor is of its own kind, installed by its own helper
        channel = grpcext.intercept_channel(channel, client_interceptor())  # type: ignore[no-untyped-call]
    elif kind(variant) == "intercepted":
        channel = grpc.intercept_channel(
            channel, ClientInterceptor(full_policy(variant), observers=observers)
        )
    elif kind(variant) == "full":
        channel = ClientInterceptor(full_policy(variant), observers=observers).protect(channel)
    say: Any = channel.unary_unary(METHOD)
    cpu: Any = channel.unary_unary(CPU_METHOD)
    metadata = call_metadata(variant)
    for _ in range(max(200, calls // 10)):
        say(PAYLOAD, timeout=10, metadata=metadata)
    samples: list[int] = []
    server_cpu = float(cpu(b""))
    client_cpu = time.process_time()
    for _ in range(calls):
        started = time.perf_counter_ns()
        say(PAYLOAD, timeout=10, metadata=metadata)
        samples.append(time.perf_counter_ns() - started)
    cpu_us = (time.process_time() - client_cpu + float(cpu(b"")) - server_cpu) * 1e6 / calls
    p50, p99 = _percentiles(samples)
    done = [0] * 16
    failed = [0] * 16
    stop = time.perf_counter() + seconds

    def worker(index: int) -> None:
        while time.perf_counter() < stop:
            try:
                say(PAYLOAD, timeout=10, metadata=metadata)
            except grpc.RpcError:
                failed[index] += 1  # counted apart: only answered calls make throughput
            else:
                done[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    throughput = sum(done) / (time.perf_counter() - began)
    channel.close()
    return {"p50": p50, "p99": p99, "cpu": cpu_us, "throughput": throughput, "failed": sum(failed)}


async def _aio_client(variant: str, observers: Any, target: str, calls: int) -> dict[str, float]:
    import grpc.aio

    from resilience.interceptors import AioClientInterceptor

    interceptors: Any = None
    if kind(variant) == "passthrough":
        interceptors = _passthrough_client(aio=True)
    elif kind(variant) == "otel_grpc":
        from opentelemetry.instrumentation.grpc import aio_client_interceptors

        interceptors = aio_client_interceptors()  # type: ignore[no-untyped-call]
    elif kind(variant) == "intercepted":
        interceptors = AioClientInterceptor(full_policy(variant), observers=observers)
    metadata = call_metadata(variant)
    channel: Any = grpc.aio.insecure_channel(target, interceptors=interceptors)
    if kind(variant) == "full":
        protection = AioClientInterceptor(full_policy(variant), observers=observers)
        channel = protection.protect(channel)
    async with channel:
        say: Any = channel.unary_unary(METHOD)
        cpu: Any = channel.unary_unary(CPU_METHOD)
        for _ in range(max(200, calls // 10)):
            await say(PAYLOAD, timeout=10, metadata=metadata)
        samples: list[int] = []
        server_cpu = float(await cpu(b""))
        client_cpu = time.process_time()
        for _ in range(calls):
            started = time.perf_counter_ns()
            await say(PAYLOAD, timeout=10, metadata=metadata)
            samples.append(time.perf_counter_ns() - started)
        server_used = float(await cpu(b"")) - server_cpu
        cpu_us = (time.process_time() - client_cpu + server_used) * 1e6 / calls
    p50, p99 = _percentiles(samples)
    return {"p50": p50, "p99": p99, "cpu": cpu_us}


# ---- in-process profile ---------------------------------------------------------------


class _Future:
    """What a sync channel's continuation returns, already done with OK."""

    def code(self) -> Any:
        import grpc

        return grpc.StatusCode.OK

    def add_done_callback(self, callback: Any) -> None:
        callback(self)


class _ServicerContext:
    """The parts of a sync servicer context the server interceptor reads."""

    def __init__(self, metadata: Any) -> None:
        self._metadata = metadata

    def invocation_metadata(self) -> Any:
        return self._metadata

    def peer(self) -> str:
        return "ipv4:127.0.0.1:50000"

    def time_remaining(self) -> float:
        return 10.0

    def is_active(self) -> bool:
        return True

    def code(self) -> None:
        return None


class _AioCall:
    """What an aio channel's continuation returns: not done when handed back (as live), its
    done callbacks run at once with status OK."""

    def done(self) -> bool:
        return False

    def cancelled(self) -> bool:
        return False

    async def code(self) -> Any:
        import grpc

        return grpc.StatusCode.OK

    async def details(self) -> str:
        return ""

    def add_done_callback(self, callback: Any) -> None:
        callback(self)


class _AioServicerContext(_ServicerContext):
    """The parts of an aio servicer context the aio server interceptor reads."""


def _drive(coroutine: Any) -> Any:
    """Run a coroutine that never suspends (every await here is already done) to its result,
    without an event loop: what our aio shells cost, not asyncio's scheduling."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("the profiled aio shell suspended")


COLD_BYTES = 64 * 1024 * 1024
"""What ``profile --cold`` walks between two calls: twice this machine's 32 MB L3 cache."""


def cold_cost(call: Any, calls: int = 2000) -> float:
    """Median us of one ``call()`` made after walking COLD_BYTES (one write per 64-byte line),
    so it runs with cold CPU caches, as a call does live between two network waits."""
    buffer = bytearray(COLD_BYTES)
    line = b"\x01" * (COLD_BYTES // 64)
    samples = []
    for _ in range(calls):
        buffer[::64] = line
        started = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - started)
    return statistics.median(samples) / 1000


def profile(
    variant: str,
    calls: int = 20_000,
    top: int = 25,
    cold: bool = False,
    aio: bool = False,
    protected: bool = False,
    loop: int = 0,
    call_path: bool = False,
) -> None:
    """Per-call cost of the sync shells without the network: the client interceptor around a
    continuation that returns a done future, the wrapped server handler around a no-op
    behaviour and a fake servicer context. Prints the unprofiled us per call of each side,
    then cProfile's top functions by own time, scaled to us per call pair (the profiler's
    per-function overhead inflates small functions: read them as shares, not exact costs).
    ``cold``: also the median cost of each side with cold CPU caches (:func:`cold_cost`).
    ``aio``: the aio shells instead (``Aio*`` interceptors, ``async def`` handler), each call's
    coroutine driven to its end without an event loop (:func:`_drive`). ``protected`` (sync):
    the client side through the protected channel (``protect``) instead of the interceptor;
    the server side is the same handler either way. ``loop``: instead of timing, make 200
    warm-up call pairs then ``loop`` more, unmeasured (what :func:`instructions` counts), then
    record the call durations still queued for the metrics SDK, so that the count holds all the
    recording work wherever it ran; with ``call_path``, hold them all queued instead and
    record none, so that it holds the call path's work alone (:func:`_queue_durations`).

    ``bare`` and ``otel_grpc`` are references around the same continuation and handler:
    ``bare`` calls them directly (the continuation, or with ``protected`` the done channel);
    ``otel_grpc`` puts opentelemetry-instrumentation-grpc's interceptors around them (see
    :func:`_sync_reference`). With a tracer SDK set up, one call pair's exported spans are
    checked and described first (:func:`check_spans`)."""
    drain = _queue_durations(hold=call_path)
    observers = configure(variant)
    if kind(variant) == "spans_sdk":
        sides = _spans_sides(aio)
    elif aio:
        sides = _aio_sides(variant, observers)
    elif kind(variant) in ("bare", "otel_grpc"):
        sides = _sync_reference(variant, protected)
    else:
        sides = _sync_sides(variant, observers, protected)
    check_spans(variant, *sides)
    if loop:
        _pairs(*sides, loop)
        if not call_path:
            drain()
    else:
        _report(*sides, calls, top, cold)


def _queue_durations(hold: bool) -> Callable[[], object]:
    """The function that records the durations the metrics observers queued (a no-op for a
    library that records them on the call path). ``hold``: first replace the process-wide queue
    with one that never records (no flusher wakes, no call records its own), for counting the
    call path alone; the observers ``configure`` builds next take it."""
    try:
        from resilience.observability import _durations
    except ImportError:  # a library from before the queue: durations are recorded per call
        return lambda: None
    if hold:
        _durations._default_queue = _durations.DurationQueue(flush_at=10**9, max_waiting=10**9)
    return _durations.default_duration_queue().drain


def _sync_sides(
    variant: str, observers: Any, protected: bool, tracer_provider: Any = None
) -> tuple[Any, Any]:
    """Our sync client side (interceptor, or protected channel) and server side;
    ``tracer_provider``: the stack's own, instead of the global one."""
    import grpc

    from resilience.interceptors import ClientInterceptor, ServerInterceptor
    from resilience.observability import CallTracer

    sent: list[Any] = []
    continuation = _sync_continuation(sent)
    client = ClientInterceptor(full_policy(variant), observers=observers)
    handler: Any = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
    server = ServerInterceptor(full_policy(variant), observers=observers)
    if tracer_provider is not None:
        for pipeline in (client._pipeline, server._pipeline):
            pipeline.tracer = CallTracer(tracer_provider=tracer_provider)
    wrapped: Any = server.intercept_service(lambda details: handler, _HandlerDetails())  # type: ignore[arg-type]
    behavior = wrapped.unary_unary
    client.intercept_unary_unary(continuation, _Details(), PAYLOAD)
    context: Any = _ServicerContext(_metadata(sent[0]))
    details = _Details()

    def client_side() -> None:
        client.intercept_unary_unary(continuation, details, PAYLOAD)

    if protected:  # the protected channel over a channel whose calls return at once
        say: Any = client.protect(_done_channel()).unary_unary(METHOD)

        def client_side() -> None:
            say(PAYLOAD, timeout=10.0)

    def server_side() -> None:
        behavior(PAYLOAD, context)

    return client_side, server_side


def _spans_sides(aio: bool) -> tuple[Any, Any]:
    """``spans_sdk``: ``bare`` (``--protected`` on sync) plus only what a client span and a
    server span of the conventions need from the OpenTelemetry API and SDK, with our span
    names and start attributes: the client starts its span, injects it with the global
    propagator, calls, sets the status code and ends the span; the server extracts the
    caller's context, starts its span under it, runs the handler with it current, sets the
    status code and ends it. No policy, no observer, no error handling: a floor for what any
    instrumentation recording these spans with this SDK pays."""
    import grpc
    import grpc.aio
    from opentelemetry import context as otel_context
    from opentelemetry import propagate, trace

    tracer = trace.get_tracer("floor")
    name = METHOD.lstrip("/")
    start: dict[str, str | int] = {"rpc.system.name": "grpc", "rpc.method": name}
    start.update({"resilience.color": "none", "resilience.tier": 2})  # as full_sdk's spans
    attributes = MappingProxyType(start)
    client_kind, server_kind = trace.SpanKind.CLIENT, trace.SpanKind.SERVER
    status = "rpc.response.status_code"
    answering = _DoneMultiCallable()
    say: Any = _done_channel(answering).unary_unary(METHOD)
    sent: list[Any] = []

    async def continuation(details: Any, request: Any) -> _AioCall:
        sent[:] = [details.metadata]
        return _AioCall()

    method: Any = METHOD.encode()

    def sync_client() -> None:
        span = tracer.start_span(name, None, client_kind, attributes)
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        say(PAYLOAD, timeout=10.0, metadata=tuple(carrier.items()))
        span.set_attribute(status, "OK")
        span.end()

    def aio_client() -> None:
        span = tracer.start_span(name, None, client_kind, attributes)
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        metadata = grpc.aio.Metadata(*carrier.items())
        details = grpc.aio.ClientCallDetails(method, 10.0, metadata, None, None)
        _drive(continuation(details, PAYLOAD))
        span.set_attribute(status, "OK")
        span.end()

    client_side = aio_client if aio else sync_client
    client_side()
    context: Any = (_AioServicerContext if aio else _ServicerContext)(
        _metadata(sent[0] if aio else answering.sent)
    )

    def started() -> Any:
        parent = propagate.extract(dict(context.invocation_metadata()))
        span = tracer.start_span(name, parent, server_kind, attributes)
        return span, otel_context.attach(trace.set_span_in_context(span, parent))

    if aio:

        async def echo(request: bytes, context: Any) -> bytes:
            return request

        async def traced(request: bytes, context: Any) -> bytes:
            span, _ = started()  # no detach: the call's Context is its own
            response = await echo(request, context)
            span.set_attribute(status, "OK")
            span.end()
            return response

        def server_side() -> None:
            contextvars.copy_context().run(_drive, traced(PAYLOAD, context))

        return client_side, server_side
    behavior: Any = grpc.unary_unary_rpc_method_handler(
        lambda request, context: request
    ).unary_unary

    def sync_server() -> None:
        span, token = started()
        try:
            behavior(PAYLOAD, context)
        finally:
            otel_context.detach(token)
        span.set_attribute(status, "OK")
        span.end()

    return client_side, sync_server


def _sync_continuation(sent: list[Any]) -> Any:
    """A sync client interceptor's continuation that keeps the metadata it was given in
    ``sent`` and returns a done future."""

    def continuation(details: Any, request: Any) -> _Future:
        sent[:] = [details.metadata]
        return _Future()

    return continuation


class _Details:
    """The client call details the sync harness passes."""

    method, timeout, metadata, credentials = METHOD, 10.0, None, None
    wait_for_ready, compression = None, None


class _HandlerDetails:
    """The handler call details the harness's server side passes."""

    method, invocation_metadata = METHOD, ()


def _sync_reference(variant: str, protected: bool) -> tuple[Any, Any]:
    """The sync ``bare`` or ``otel_grpc`` sides. ``bare``: the continuation of
    :func:`_sync_sides` (``protected``: the done channel's multi-callable) and the handler,
    called directly. ``otel_grpc``: its client interceptor wraps the done channel (the only
    way it installs on a sync channel, so with ``protected`` or without), and on each server
    call its ``intercept_service`` wraps the handler, as gRPC asks it per call; gRPC's own
    per-call interception machinery, which it pays live, is left out (in its favour)."""
    import grpc

    handler: Any = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
    answering = _DoneMultiCallable()
    channel = _done_channel(answering)
    if kind(variant) == "otel_grpc":
        from opentelemetry.instrumentation.grpc import (
            client_interceptor,
            grpcext,
            server_interceptor,
        )

        channel = grpcext.intercept_channel(channel, client_interceptor())  # type: ignore[no-untyped-call]
    say: Any = channel.unary_unary(METHOD)
    say(PAYLOAD, timeout=10.0)
    context: Any = _ServicerContext(_metadata(answering.sent))
    if kind(variant) == "otel_grpc":
        interceptor = server_interceptor()  # type: ignore[no-untyped-call]
        call_details = _HandlerDetails()

        def continuation(details: Any) -> Any:
            return handler

        def server_side() -> None:
            interceptor.intercept_service(continuation, call_details).unary_unary(PAYLOAD, context)

    else:
        behavior = handler.unary_unary

        def server_side() -> None:
            behavior(PAYLOAD, context)

    def client_side() -> None:
        say(PAYLOAD, timeout=10.0)

    if protected or kind(variant) == "otel_grpc":
        return client_side, server_side
    direct = _sync_continuation([])
    details = _Details()

    def continuation_client() -> None:
        direct(details, PAYLOAD)

    return continuation_client, server_side


class _DoneMultiCallable:
    """A sync multi-callable whose calls end OK at once (no network); ``sent`` keeps the
    metadata of the last call (positional, as the wrappers pass it, or by keyword)."""

    def __init__(self) -> None:
        self.sent: Any = None

    def __call__(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        self.sent = args[1] if len(args) > 1 else kwargs.get("metadata")
        return request

    def with_call(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return self(request, *args, **kwargs), _Future()

    def future(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        self(request, *args, **kwargs)
        return _Future()


def _done_channel(answering: _DoneMultiCallable | None = None) -> Any:
    """A ``grpc.Channel`` for ``profile --protected`` whose every method answers at once with
    ``answering`` (default: a new :class:`_DoneMultiCallable` per method; the protected server
    needs no stand-in: it runs the same wrapped handler as the interceptor)."""
    import grpc

    def make(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        return answering if answering is not None else _DoneMultiCallable()

    def nothing(self: Any, *args: Any) -> None:
        return None

    members: dict[str, Any] = {"unary_unary": make, "unary_stream": make, "stream_unary": make}
    members.update(stream_stream=make, subscribe=nothing, unsubscribe=nothing, close=nothing)
    return type("DoneChannel", (grpc.Channel,), members)()


class Metadatum(NamedTuple):
    """One metadata entry as a servicer context hands it over (gRPC's own is a namedtuple
    with these fields: some interceptors read ``.key`` and ``.value``)."""

    key: str
    value: str | bytes


def _metadata(sent: Any) -> tuple[Metadatum, ...]:
    """What a server receives when a client sent ``sent`` (a sequence of pairs, or None)."""
    return tuple(Metadatum(key, value) for key, value in sent or ())


def check_spans(variant: str, client_side: Any, server_side: Any) -> None:
    """With a tracer SDK set up (``*_sdk``, ``otel_grpc``): make one call pair, check that it
    exported exactly one CLIENT and one SERVER span of the method, the server span's parent
    read from the metadata the client sent (the harness's server context replays the first
    call's metadata, so it is that call's client span), and print them; raise
    RuntimeError otherwise (a harness that starts no span, or ends none, would be cheap for the
    wrong reason). Nothing for other variants."""
    if not (variant.endswith("_sdk") or variant == "otel_grpc"):
        return
    CAPTURED[:] = [[]]
    try:
        client_side()
        server_side()
        spans = CAPTURED[0]
    finally:
        CAPTURED.clear()
    kinds = sorted(span.kind.name for span in spans)
    method = METHOD.lstrip("/")
    server = [span for span in spans if span.kind.name == "SERVER"]
    if (
        kinds != ["CLIENT", "SERVER"]
        or any(span.name.lstrip("/") != method for span in spans)
        or server[0].parent is None
        or not server[0].parent.is_remote
    ):
        found = ", ".join(f"{span.kind.name} {span.name!r}" for span in spans) or "none"
        raise RuntimeError(
            f"{variant}: one call pair exported {found}, not a client span and a server span "
            "whose parent came with the call"
        )
    described = "; ".join(
        f"{span.kind.name} {span.name!r} {len(span.attributes or {})} attributes, "
        f"status {span.status.status_code.name}, {len(span.events)} events"
        for span in sorted(spans, key=lambda span: span.kind.name)
    )
    print(
        f"{variant}: one call pair exported 2 spans, the server's parent from the client's "
        f"metadata: {described}",
        flush=True,
    )


def _aio_sides(variant: str, observers: Any) -> tuple[Any, Any]:
    """The aio client and server sides of :func:`profile`: our ``Aio*`` interceptors, or for
    ``bare`` the continuation and handler alone, or for ``otel_grpc``
    opentelemetry-instrumentation-grpc's aio interceptors (its ``intercept_service`` driven
    on each server call, as gRPC asks it per call; gRPC's own aio interception machinery, its
    intercepted call object and task, left out in its favour)."""
    import grpc
    import grpc.aio

    from resilience.interceptors import AioClientInterceptor, AioServerInterceptor

    sent: list[Any] = []

    async def continuation(details: Any, request: Any) -> _AioCall:
        sent[:] = [details.metadata]
        return _AioCall()

    method: Any = METHOD.encode()  # as a grpc.aio channel passes it
    details = grpc.aio.ClientCallDetails(method, 10.0, grpc.aio.Metadata(), None, None)

    async def echo(request: bytes, context: Any) -> bytes:
        return request

    handler: Any = grpc.unary_unary_rpc_method_handler(echo)
    what = kind(variant)
    if what == "bare":
        intercept: Any = None
        behavior = handler.unary_unary
    elif what == "otel_grpc":
        from opentelemetry.instrumentation.grpc import (
            aio_client_interceptors,
            aio_server_interceptor,
        )

        intercept = aio_client_interceptors()[0].intercept_unary_unary  # type: ignore[no-untyped-call]
        theirs = aio_server_interceptor()  # type: ignore[no-untyped-call]
        ready, call_details = _ready(handler), _HandlerDetails()

        def behavior(request: Any, context: Any) -> Any:
            return _drive(theirs.intercept_service(ready, call_details)).unary_unary(
                request, context
            )

    else:
        ours = AioClientInterceptor(full_policy(variant), observers=observers)[0]
        intercept = ours.intercept_unary_unary  # type: ignore[attr-defined]
        server = AioServerInterceptor(full_policy(variant), observers=observers)
        wrapped: Any = _drive(server.intercept_service(_ready(handler), _HandlerDetails()))  # type: ignore[arg-type]
        behavior = wrapped.unary_unary

    def client_side() -> None:
        if intercept is None:
            _drive(continuation(details, PAYLOAD))
        else:
            _drive(intercept(continuation, details, PAYLOAD))

    client_side()
    context: Any = _AioServicerContext(_metadata(sent[0]))

    def server_side() -> None:
        # In a Context of its own, as each RPC runs in a task of its own (what the call sets
        # must not reach the next client call here).
        contextvars.copy_context().run(_drive, behavior(PAYLOAD, context))

    return client_side, server_side


def _ready(handler: Any) -> Any:
    """An aio server continuation that hands back ``handler``."""

    async def continuation(details: Any) -> Any:
        return handler

    return continuation


def _pairs(client_side: Any, server_side: Any, count: int) -> None:
    """200 warm-up call pairs (caches filled, first-call paths taken), then ``count`` more.
    Between the two, the objects of start-up are collected and frozen out of the garbage
    collector's view: a full collection walks all of them (tens of milliseconds), and one
    falling in one of :func:`instructions`' two runs and not the other would add its whole cost
    to the per-pair difference."""
    import gc

    for _ in range(200):
        client_side()
        server_side()
    gc.collect()
    gc.freeze()
    for _ in range(count):
        client_side()
        server_side()


def working_set(rounds: int = 9, pairs: int = 2000) -> None:
    """Whether our stack and the SDK's spans cost together what they cost apart (sync,
    ``--protected``, hot, in one process with the ``full_sdk`` set-up): us per call pair of the
    floor (``spans_sdk``), our stack with tracing off (``full``), the two run one after the
    other in one loop (they share nothing), two copies of our stack, the floor twice, the floor
    and an arithmetic loop, and ``full_sdk`` and ``otel_grpc``; each case timed ``pairs`` times
    per round, ``rounds`` rounds interleaved, the best round of each. Then the Python calls per
    pair of the floor, our stack, and the two together (cProfile: the same work or not)."""
    import cProfile
    import gc
    import pstats
    import timeit

    from opentelemetry.trace import NoOpTracerProvider

    observers = configure("full_sdk")
    floor = _spans_sides(False)
    off = _sync_sides("full", observers, True, tracer_provider=NoOpTracerProvider())
    other = _sync_sides("full", observers, True, tracer_provider=NoOpTracerProvider())

    def spin() -> None:
        total = 0
        for number in range(700):
            total += number

    def run(*sides: Any) -> Any:
        def pair() -> None:
            for side in sides:
                side()

        return pair

    together = run(floor[0], off[0], floor[1], off[1])
    cases = {
        "floor (spans_sdk)": run(*floor),
        "our stack, tracing off (full)": run(*off),
        "an arithmetic loop": spin,
        "floor then our stack, one loop": together,
        "our stack then a second copy of it": run(off[0], other[0], off[1], other[1]),
        "floor twice": run(*floor, *floor),
        "floor then the arithmetic loop": run(floor[0], spin, floor[1]),
        "full_sdk": run(*_sync_sides("full_sdk", observers, True)),
        "otel_grpc": run(*_sync_reference("otel_grpc", True)),
    }
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(rounds):
        for name, case in cases.items():
            used = min(timeit.repeat(case, number=pairs, repeat=3)) / pairs * 1e6
            best[name] = min(best[name], used)
    for name, used in best.items():
        print(f"{name}: {used:.2f} us per call pair (best of {rounds} interleaved rounds)")

    def calls(case: Any) -> float:
        def thousand() -> None:
            for _ in range(1000):
                case()

        thousand()
        profiler = cProfile.Profile()
        gc.disable()
        try:
            profiler.runcall(thousand)
        finally:
            gc.enable()
        stats: Any = pstats.Stats(profiler)
        return float(sum(row[1] for row in stats.stats.values())) / 1000

    floor_calls, ours, both = calls(run(*floor)), calls(run(*off)), calls(together)
    print(
        f"Python calls per call pair: floor {floor_calls:.0f}, our stack {ours:.0f}, "
        f"the two in one loop {both:.0f}"
    )


INSTRUCTION_PAIRS = (1000, 3000)
"""Call pairs of the two runs whose difference :func:`instructions` divides."""


def instructions(argv: list[str]) -> float:
    """Machine instructions per call pair of ``profile`` ARGV (a variant and flags), counted by
    valgrind's callgrind in two runs of ``profile ARGV --loop N`` (N from
    :data:`INSTRUCTION_PAIRS`, ``PYTHONHASHSEED=0``): their difference over the difference of
    N, so start-up and imports cancel out. Unlike time, the count does not depend on what else
    the machine runs; it weighs every instruction alike (cache misses are not in it)."""
    counts = []
    for pairs in INSTRUCTION_PAIRS:
        command = [
            "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
            sys.executable, str(Path(__file__).resolve()), "profile", *argv, "--loop", str(pairs),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        found = [line for line in out.stderr.splitlines() if "Collected :" in line]
        if out.returncode != 0 or not found:
            raise RuntimeError(f"callgrind failed: {out.stderr[-2000:]}")
        counts.append(int(found[-1].rsplit(":", 1)[1]))
        if len(counts) == 1:  # the span check (check_spans), when the variant has one
            print(*[line for line in out.stdout.splitlines() if "exported" in line], sep="\n")
    per_pair = (counts[1] - counts[0]) / (INSTRUCTION_PAIRS[1] - INSTRUCTION_PAIRS[0])
    print(f"{' '.join(argv) or 'full'}: {per_pair:,.0f} instructions per call pair")
    return per_pair


def _report(client_side: Any, server_side: Any, calls: int, top: int, cold: bool) -> None:
    """Time each side unprofiled (and cold), then print cProfile's top functions."""
    import cProfile
    import pstats
    import timeit

    pair = 0.0
    for name, side in (("client", client_side), ("server", server_side)):
        best = min(timeit.repeat(side, number=calls, repeat=5)) / calls * 1e6
        pair += best
        print(f"{name} side: {best:.2f} us per call (unprofiled, best of 5)")
        if cold:
            print(f"{name} side, cold caches: {cold_cost(side):.2f} us per call (median)")

    def both() -> None:
        for _ in range(calls):
            client_side()
            server_side()

    profiler = cProfile.Profile()
    profiler.runcall(both)
    stats: Any = pstats.Stats(profiler)
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)
    profiled = sum(row[1][2] for row in rows)
    print(f"top {top} by own time; us per call pair scaled to the unprofiled {pair:.2f} us:")
    for (path, line, function), (_, ncalls, own, _, _) in rows[:top]:
        where = f"{Path(path).name}:{line}({function})" if line else function
        print(f"  {own / profiled * pair:5.2f} us  {ncalls / calls:4.1f}x  {where}")


# ---- orchestration --------------------------------------------------------------------


def _on_cpu(cpu: int | None) -> Any:
    """A ``preexec_fn`` pinning the child to ``cpu`` (None: no pinning)."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def measure(
    mode: str, variant: str, calls: int, seconds: float, pin: bool = False
) -> dict[str, float]:
    """One measurement in a fresh server process and a fresh client process; ``pin``: the
    server on CPU 0 and the client on CPU 1 (steadier: the scheduler no longer decides per run
    whether the two share a core)."""
    me = [sys.executable, str(Path(__file__).resolve())]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    variant, _, where = variant.partition("@")
    if where:  # VARIANT@base: the baseline library (--baseline) first on the path
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (BASELINE[0], env.get("PYTHONPATH"))))
    server = subprocess.Popen(
        [*me, "serve", mode, variant],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        preexec_fn=_on_cpu(0 if pin else None),
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        args = [*me, "client", mode, variant, f"127.0.0.1:{port}", str(calls), str(seconds)]
        out = subprocess.run(
            args,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            preexec_fn=_on_cpu(1 if pin else None),
        )
        if out.returncode != 0:
            raise RuntimeError(f"client failed: {out.stderr[-2000:]}")
        result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
        if result.get("failed"):
            print(
                f"  {mode} {variant}: {result['failed']:.0f} calls of the 16-thread load failed",
                file=sys.stderr,
            )
        return result
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(30)


def run(
    rounds: int,
    calls: int,
    seconds: float,
    variants: tuple[str, ...] = VARIANTS,
    pin: bool = False,
) -> dict[str, Any]:
    ratios: dict[str, dict[str, list[float]]] = {}
    absolute: dict[str, dict[str, list[float]]] = {}
    for index in range(rounds):
        for mode in MODES:
            turn = index % len(variants)
            order = variants[turn:] + variants[:turn]  # rotate: interleaved
            measured = {variant: measure(mode, variant, calls, seconds, pin) for variant in order}
            bare = measured["bare"]
            for variant, figures in measured.items():
                key = f"{mode} {variant}"
                for name, value in figures.items():
                    absolute.setdefault(key, {}).setdefault(name, []).append(value)
                    if name != "failed":  # a count, not a cost: kept as it is
                        ratios.setdefault(key, {}).setdefault(name, []).append(value / bare[name])
            print(
                f"round {index + 1}/{rounds} {mode}: "
                + ", ".join(f"{v} p50 {measured[v]['p50']:.0f}us" for v in variants),
                file=sys.stderr,
                flush=True,
            )
    return {
        "rounds": rounds,
        "pinned": pin,
        "calls": calls,
        "throughput_seconds": seconds,
        "median": {k: {n: statistics.median(v) for n, v in f.items()} for k, f in absolute.items()},
        "ratio": {k: {n: statistics.median(v) for n, v in f.items()} for k, f in ratios.items()},
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        "| mode | variant | p50 us | p50 x bare | p99 x bare | CPU us/call | CPU x bare "
        "| 16-thread calls/s x bare |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, figures in result["median"].items():
        mode, variant = key.split()
        ratio = result["ratio"][key]
        throughput = f"{ratio['throughput']:.2f}" if "throughput" in ratio else "n/a"
        lines.append(
            f"| {mode} | {variant} | {figures['p50']:.0f} | {ratio['p50']:.2f} | "
            f"{ratio['p99']:.2f} | {figures['cpu']:.0f} | {ratio['cpu']:.2f} | {throughput} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "serve":
        serve(argv[1], argv[2])
        return 0
    if argv and argv[0] == "client":
        client(argv[1], argv[2], argv[3], int(argv[4]), float(argv[5]))
        return 0
    if argv and argv[0] == "working-set":
        working_set()
        return 0
    if argv and argv[0] == "instructions":
        instructions(argv[1:])
        return 0
    if argv and argv[0] == "profile":
        flags = ("--cold", "--aio", "--protected", "--call-path")
        loop = int(argv[argv.index("--loop") + 1]) if "--loop" in argv else 0
        names = [arg for arg in argv[1:] if arg not in flags and arg not in ("--loop", str(loop))]
        profile(
            names[0] if names else "full",
            cold="--cold" in argv,
            aio="--aio" in argv,
            protected="--protected" in argv,
            loop=loop,
            call_path="--call-path" in argv,
        )
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds, 500 calls, 1 s of load")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every variant")
    parser.add_argument("--calls", type=int, default=3000, help="timed sequential calls")
    parser.add_argument("--seconds", type=float, default=3.0, help="16-thread load duration")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated, bare included"
    )
    parser.add_argument(
        "--pin", action="store_true", help="server on CPU 0, client on CPU 1 (steadier A/B)"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a src directory of another library version, for VARIANT@base variants",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.calls, args.seconds = 2, 500, 1.0
    variants = tuple(args.variants.split(","))
    based = [v for v in variants if v.endswith("@base")]
    unknown = {v.removesuffix("@base") for v in variants} - {*VARIANTS, *REFERENCE_VARIANTS}
    if "bare" not in variants or unknown:
        parser.error(f"--variants: include bare; known: {', '.join(VARIANTS + REFERENCE_VARIANTS)}")
    if based and (args.baseline is None or not (args.baseline / "resilience").is_dir()):
        parser.error(f"--variants {based[0]} needs --baseline SRC, a directory holding resilience/")
    if args.baseline is not None:
        BASELINE[0] = str(args.baseline.resolve())
    result = run(args.rounds, args.calls, args.seconds, variants, args.pin)
    if args.baseline is not None:
        result["baseline"] = BASELINE[0]
    args.output.parent.mkdir(exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
