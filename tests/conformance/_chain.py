"""A chain of real servers for the deadline and neighbour cases: caller -> A -> B.

A's handler calls B through the library's client interceptor; each handler records what it
sees of the call (``time_remaining()``, color, tier, trace id, baggage). One scenario starts
its two servers on 127.0.0.1 port 0, makes one call and stops everything; sync scenarios run
in the test thread, aio ones in a fresh event loop (:func:`asyncio.run`, whose task copies the
caller's context, so ``traffic_color(...)`` around :func:`run` reaches the interceptor).

How the library's interceptors sit next to others is a :class:`Wiring`; the default one uses
the library's alone. The sentry-sdk cases import this module in a subprocess
of their own (``python -m conformance._sentry_neighbour``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio
from opentelemetry import baggage, trace

from resilience import context as rcontext
from resilience.interceptors import (
    AioClientInterceptor,
    AioServerInterceptor,
    ClientInterceptor,
    ServerInterceptor,
)
from resilience.policy import Policy

SERVICE = "conformance.Chain"
METHOD = f"/{SERVICE}/Call"

EVERYTHING_ON: dict[str, Any] = {
    "trusted_peers": ["127.0.0.1/32", "::1/128"],
    "methods": {
        "*": {
            "breaker": {"k": 2.0},
            "timeout": {"t_max": 3.0},
            "rate_limit": {"limit": 10_000, "tiered": True},
            "overload": True,
            "read": True,
            "tier": 2,
        }
    },
}
"""A policy with every per-method part on (limits far above what one call needs)."""

POLICIES: dict[str, dict[str, Any] | None] = {"default": None, "everything": EVERYTHING_ON}


@dataclass(frozen=True)
class Seen:
    """What one handler saw: ``remaining`` is ``resilience.context.time_remaining()``;
    ``baggage`` the OpenTelemetry baggage current in the handler; ``raw_baggage`` each
    ``baggage`` header as it arrived; ``trace_id`` of the current span (0 for none)."""

    hop: str
    remaining: float | None
    color: str | None
    tier: int | None
    shadow: bool
    trace_id: int
    baggage: dict[str, object]
    raw_baggage: tuple[str, ...]


@dataclass
class Outcome:
    """The first caller's result (``code`` OK with ``response``, or the failure) and what each
    handler saw, A first."""

    code: grpc.StatusCode
    details: str = ""
    response: bytes | None = None
    seen: list[Seen] = field(default_factory=list)

    def hops(self) -> dict[str, Seen]:
        return {seen.hop: seen for seen in self.seen}


class Wiring:
    """Where the library's interceptors sit among others: override to add neighbours."""

    def server_interceptors(self, ours: Any, aio: bool) -> list[Any]:
        return [ours]

    def server(self, interceptors: list[Any], aio: bool) -> Any:
        """A server with these interceptors (aio ones are made inside the running loop)."""
        if aio:
            return grpc.aio.server(interceptors=interceptors)
        return grpc.server(ThreadPoolExecutor(4), interceptors=interceptors)

    def channel(self, address: str, ours: Any | None, aio: bool) -> Any:
        """A channel to ``address`` with the library's client interceptor ``ours`` (None: the
        caller's own channel, without it). Aio channels are made inside the running loop."""
        if aio:
            return grpc.aio.insecure_channel(address, interceptors=ours)
        raw = grpc.insecure_channel(address)
        return raw if ours is None else grpc.intercept_channel(raw, ours)


@dataclass
class Scenario:
    """One call through the chain. ``first_timeout``: the caller's timeout (None: none);
    ``hop_timeout``: the one A's handler sets on its call to B; ``metadata``: the caller's own;
    ``intercepted_caller``: the caller's channel has the library's client interceptor too."""

    policy: dict[str, Any] | None = None
    first_timeout: float | None = None
    hop_timeout: float | None = None
    metadata: Sequence[tuple[str, str]] = ()
    intercepted_caller: bool = True
    wiring: Wiring = field(default_factory=Wiring)


def _seen(hop: str, context: Any) -> Seen:
    raw = tuple(str(v) for k, v in (context.invocation_metadata() or ()) if k == "baggage")
    return Seen(
        hop,
        rcontext.time_remaining(),
        rcontext.current_color(),
        rcontext.current_tier(),
        rcontext.is_shadow(),
        trace.get_current_span().get_span_context().trace_id,
        dict(baggage.get_all()),
        raw,
    )


def _handler(function: Any) -> grpc.GenericRpcHandler:
    method: Any = grpc.unary_unary_rpc_method_handler(function)
    return grpc.method_handlers_generic_handler(SERVICE, {"Call": method})


def run(scenario: Scenario, aio: bool) -> Outcome:
    """Run ``scenario`` once, sync or aio, and return what happened."""
    return asyncio.run(_run_aio(scenario)) if aio else _run_sync(scenario)


def _policy(scenario: Scenario) -> Policy | None:
    return None if scenario.policy is None else Policy.from_dict(scenario.policy)


def _run_sync(scenario: Scenario) -> Outcome:
    seen: list[Seen] = []
    wiring = scenario.wiring
    stoppers: list[Any] = []

    def serve(function: Any) -> str:
        ours = ServerInterceptor(_policy(scenario), observers=())
        server = wiring.server(wiring.server_interceptors(ours, aio=False), aio=False)
        server.add_generic_rpc_handlers((_handler(function),))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        stoppers.append(lambda: server.stop(None))
        return f"127.0.0.1:{port}"

    def b(request: bytes, context: Any) -> bytes:
        seen.append(_seen("B", context))
        return b"from B"

    to_b = wiring.channel(serve(b), ClientInterceptor(_policy(scenario), observers=()), False)
    stoppers.append(to_b.close)

    def a(request: bytes, context: Any) -> bytes:
        seen.append(_seen("A", context))
        response: bytes = to_b.unary_unary(METHOD)(request, timeout=scenario.hop_timeout)
        return response

    ours = (
        ClientInterceptor(_policy(scenario), observers=()) if scenario.intercepted_caller else None
    )
    caller = wiring.channel(serve(a), ours, False)
    stoppers.append(caller.close)
    try:
        call = caller.unary_unary(METHOD)
        response = call(b"x", timeout=scenario.first_timeout, metadata=scenario.metadata or None)
        return Outcome(grpc.StatusCode.OK, response=response, seen=seen)
    except grpc.RpcError as error:
        failed: Any = error
        return Outcome(failed.code(), failed.details() or "", seen=seen)
    finally:
        for stop in reversed(stoppers):
            stop()


async def _run_aio(scenario: Scenario) -> Outcome:
    seen: list[Seen] = []
    wiring = scenario.wiring
    stoppers: list[Any] = []

    async def serve(function: Any) -> str:
        ours = AioServerInterceptor(_policy(scenario), observers=())
        server = wiring.server(wiring.server_interceptors(ours, aio=True), aio=True)
        server.add_generic_rpc_handlers((_handler(function),))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        stoppers.append(lambda: server.stop(None))
        return f"127.0.0.1:{port}"

    async def b(request: bytes, context: Any) -> bytes:
        seen.append(_seen("B", context))
        return b"from B"

    to_b = wiring.channel(
        await serve(b), AioClientInterceptor(_policy(scenario), observers=()), True
    )
    stoppers.append(to_b.close)

    async def a(request: bytes, context: Any) -> bytes:
        seen.append(_seen("A", context))
        response: bytes = await to_b.unary_unary(METHOD)(request, timeout=scenario.hop_timeout)
        return response

    ours = (
        AioClientInterceptor(_policy(scenario), observers=())
        if scenario.intercepted_caller
        else None
    )
    caller = wiring.channel(await serve(a), ours, True)
    stoppers.append(caller.close)
    try:
        call = caller.unary_unary(METHOD)
        response = await call(
            b"x", timeout=scenario.first_timeout, metadata=scenario.metadata or None
        )
        return Outcome(grpc.StatusCode.OK, response=response, seen=seen)
    except grpc.aio.AioRpcError as error:
        return Outcome(error.code(), error.details() or "", seen=seen)
    finally:
        for stop in reversed(stoppers):
            await stop()
