"""Neighbours: the caller's own ``baggage`` and ``traceparent`` metadata, and the two gRPC
integrations services commonly run next to the library, opentelemetry-instrumentation-grpc and
sentry-sdk's GRPCIntegration, each in both orders (theirs outside ours, and inside ours), sync
and aio, on every client and server of the chain caller -> A -> B.

Each case asserts that A and B both see the caller's color (as shadow traffic), its tier claim
and its trace id, and that every baggage entry arrives exactly once: none dropped, none
duplicated (members of all ``baggage`` headers of a call, read together as W3C Baggage says).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry import baggage
from opentelemetry.context import attach, detach
from opentelemetry.sdk.trace import TracerProvider

from resilience import context as rcontext

from ._chain import EVERYTHING_ON, Outcome, Scenario, Seen, Wiring, run

COLOR = "loadtest"
TIER = 1
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
TRACEPARENT = f"00-{TRACE_ID:032x}-00f067aa0ba902b7-01"
APP_BAGGAGE = {"tenant": "acme", "region": "eu"}
ORDERS = ("theirs outside ours", "theirs inside ours")
OTEL: Any = importlib.import_module("opentelemetry.instrumentation.grpc")
"""opentelemetry-instrumentation-grpc (its functions are not typed)."""


def members(seen: Seen) -> list[str]:
    """The baggage members that reached a handler, in all its ``baggage`` headers read as one
    list, a member repeated verbatim read once (as the server interceptor reads them).

    Verbatim repeats do happen with sentry-sdk inside ours: A's outgoing call carries the
    ``sentry-*`` entries that arrived with A's own call (OpenTelemetry's baggage, which ours
    forwards) and sentry-sdk's interceptor adds the same entries again in a header of its own."""
    found: list[str] = []
    for header in seen.raw_baggage:
        for member in header.split(","):
            if member.strip() and member.strip() not in found:
                found.append(member.strip())
    return found


def assert_carried(
    outcome: Outcome, trace_id: int, extra: Callable[[str], bool] = lambda key: False
) -> None:
    """Color, tier and trace id reached A and B, and each baggage entry arrived once."""
    assert (outcome.code, outcome.response) == (grpc.StatusCode.OK, b"from B"), outcome.details
    hops = outcome.hops()
    assert set(hops) == {"A", "B"}
    expected = {**APP_BAGGAGE, "resilience.color": COLOR}
    for name, seen in hops.items():
        assert (seen.color, seen.shadow, seen.tier, seen.trace_id) == (
            COLOR,
            True,
            TIER,
            trace_id,
        ), name
        found = members(seen)
        keys = [m.partition("=")[0].strip() for m in found]
        assert sorted(set(keys)) == sorted(keys), (name, found)  # no key with two values
        assert {k: v for k, v in seen.baggage.items() if k in expected} == expected, name
        assert all(extra(key) for key in set(keys) - set(expected)), (name, found)
        assert set(expected) <= set(keys), (name, found)  # nothing dropped


@contextlib.contextmanager
def caller_context(app_baggage: bool) -> Iterator[None]:
    """The caller's color and tier (and its OpenTelemetry baggage when ``app_baggage``)."""
    token = None
    if app_baggage:
        ctx = None
        for key, value in APP_BAGGAGE.items():
            ctx = baggage.set_baggage(key, value, ctx)
        token = attach(ctx)  # type: ignore[arg-type]
    try:
        with rcontext.traffic_color(COLOR), rcontext.tier(TIER):
            yield
    finally:
        if token is not None:
            detach(token)


def test_the_callers_own_baggage_and_traceparent(flavour: str) -> None:
    own = [("traceparent", TRACEPARENT), ("baggage", "tenant=acme"), ("baggage", "region=eu")]
    scenario = Scenario(policy=EVERYTHING_ON, first_timeout=10.0, metadata=own)

    with caller_context(app_baggage=False):
        outcome = run(scenario, aio=flavour == "aio")

    assert_carried(outcome, TRACE_ID)


class OpenTelemetryWiring(Wiring):
    """opentelemetry-instrumentation-grpc's interceptors (built by its factory functions with a
    tracer provider of their own; nothing global is patched) outside or inside ours."""

    def __init__(self, outside: bool) -> None:
        self.outside = outside
        self.provider = TracerProvider()

    def _place(self, theirs: list[Any], ours: list[Any]) -> list[Any]:
        return [*theirs, *ours] if self.outside else [*ours, *theirs]

    def server_interceptors(self, ours: Any, aio: bool) -> list[Any]:
        make = OTEL.aio_server_interceptor if aio else OTEL.server_interceptor
        return self._place([make(tracer_provider=self.provider)], [ours])

    def channel(self, address: str, ours: Any | None, aio: bool) -> Any:
        if aio:
            mine = [] if ours is None else list(ours)
            theirs = OTEL.aio_client_interceptors(tracer_provider=self.provider)
            return grpc.aio.insecure_channel(address, interceptors=self._place(theirs, mine))
        # Its sync client interceptor is not a grpc.*ClientInterceptor: it wraps a channel with
        # its own OTEL.grpcext.intercept_channel. The outer wrapper sees the call first.
        theirs = OTEL.client_interceptor(tracer_provider=self.provider)
        channel = grpc.insecure_channel(address)
        if ours is None:
            return OTEL.grpcext.intercept_channel(channel, theirs)
        if self.outside:
            return OTEL.grpcext.intercept_channel(grpc.intercept_channel(channel, ours), theirs)
        return grpc.intercept_channel(OTEL.grpcext.intercept_channel(channel, theirs), ours)


@pytest.mark.parametrize("order", ORDERS)
def test_opentelemetry_instrumentation(flavour: str, order: str) -> None:
    wiring = OpenTelemetryWiring(outside=order == ORDERS[0])
    scenario = Scenario(policy=EVERYTHING_ON, first_timeout=10.0, wiring=wiring)

    with (
        caller_context(app_baggage=True),
        wiring.provider.get_tracer("caller").start_as_current_span("root") as root,
    ):
        outcome = run(scenario, aio=flavour == "aio")

    assert_carried(outcome, root.get_span_context().trace_id)


TESTS = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def sentry_results() -> dict[str, Any]:
    """Every sentry-sdk case, run once in a subprocess (its GRPCIntegration patches grpc for
    the whole process); see _sentry_neighbour.py for the DSN and the capturing transport."""
    done = subprocess.run(
        [sys.executable, "-m", "conformance._sentry_neighbour"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


@pytest.mark.parametrize("order", ORDERS)
def test_sentry_grpc_integration(flavour: str, order: str, sentry_results: dict[str, Any]) -> None:
    result = sentry_results[f"{flavour}|{order}"]
    outcome = Outcome(
        grpc.StatusCode[result["code"]],
        result["details"],
        None if result["response"] is None else result["response"].encode(),
        [Seen(**{**seen, "raw_baggage": tuple(seen["raw_baggage"])}) for seen in result["seen"]],
    )

    assert_carried(outcome, result["trace_id"], extra=lambda key: key.startswith("sentry-"))
