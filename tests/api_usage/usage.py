"""Type-checked only (mypy --strict runs over tests/): the public API used as a user would.

A signature change that breaks ordinary use fails ``make test`` at the type-check step;
test_usage.py also runs the parts that need no server.
"""

from __future__ import annotations

import random
from concurrent import futures

import grpc

import resilience
from resilience import (
    AioClientInterceptor,
    AioDualCenterChannel,
    AioServerInterceptor,
    ClientInterceptor,
    DualCenterChannel,
    Policy,
    ServerInterceptor,
)
from resilience.algorithms import (
    AdaptiveRetryWindow,
    BreakerState,
    Decision,
    EmaTimeout,
    SlidingWindowLimiter,
    SreBreaker,
    Tier,
    TieredLimiter,
)
from resilience.context import current_color, traffic_color
from resilience.testing import ManualClock


def algorithms_on_a_manual_clock() -> list[Decision]:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(100, window=1.0, buckets=10, clock=clock)
    tiered = TieredLimiter(100, clock=clock)
    breaker = SreBreaker(k=2.0, clock=clock, rng=random.Random(7))
    timeout = EmaTimeout(t_avg=0.06, t_hwm=0.25, t_max=0.5)
    window = AdaptiveRetryWindow(period=1.0, clock=clock)
    decisions = [limiter.try_acquire(), tiered.try_acquire(Tier.CRITICAL), breaker.try_acquire()]
    breaker.record(True)
    timeout.observe(0.040, ok=True)
    window.record_request()
    decisions.append(window.try_acquire())
    clock.advance(0.1)
    state: BreakerState = breaker.state
    seconds: float = timeout.timeout()
    assert state is BreakerState.CLOSED
    assert seconds > 0
    return decisions


def sync_service(policy: Policy) -> tuple[grpc.Server, grpc.Channel]:
    server = grpc.server(futures.ThreadPoolExecutor(4), interceptors=[ServerInterceptor(policy)])
    channel = grpc.intercept_channel(grpc.insecure_channel("127.0.0.1:1"), ClientInterceptor())
    failover: grpc.Channel = DualCenterChannel(
        channel, grpc.insecure_channel("127.0.0.1:2"), policy=policy
    )
    return server, failover


def aio_service(policy: Policy) -> tuple[grpc.aio.Server, grpc.aio.Channel]:
    server = grpc.aio.server(interceptors=[AioServerInterceptor(policy)])
    local = grpc.aio.insecure_channel("127.0.0.1:1", interceptors=AioClientInterceptor(policy))
    remote = grpc.aio.insecure_channel("127.0.0.1:2")
    return server, AioDualCenterChannel(local, remote, policy=policy)


def colored_calls() -> str | None:
    policy = Policy.from_dict({"methods": {"/shop.Catalog/*": {"read": True}}})
    assert policy.settings_for("/shop.Catalog/Browse").read
    with traffic_color("loadtest"):
        return current_color()


VERSION: str = resilience.__version__
