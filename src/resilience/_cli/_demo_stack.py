"""The live demo's services on loopback: a backend, a gateway in front of it, and paced callers.

- backend ``/shop.Inventory/Check``: answers after ``latency`` seconds, fails a ``fail_rate``
  share of calls with UNAVAILABLE (both turned by the story);
- gateway ``/shop.Catalog/Browse``: a tiered rate limit (trusted loopback callers claim their
  tier) and, for its own call to the backend, the breaker and the dynamic timeout;
- callers: one thread per tier (1..4), each at a set rate, counting outcomes by reason.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from resilience.context import tier as claim_tier
from resilience.interceptors import ClientInterceptor, ServerInterceptor
from resilience.policy import Policy

CHECK = "/shop.Inventory/Check"
BROWSE = "/shop.Catalog/Browse"
GATEWAY_LIMIT = 150
"""Calls per second the gateway admits, shared by all tiers (tier 1 first)."""

GATEWAY_POLICY = Policy.from_dict(
    {
        "trusted_peers": ["127.0.0.1/32", "::1/128"],
        "methods": {
            # what the gateway serves: one tiered budget
            BROWSE: {"rate_limit": {"limit": GATEWAY_LIMIT, "window": 1.0, "tiered": True}},
            # what the gateway calls: breaker and dynamic timeout tuned to react in seconds
            CHECK: {
                "breaker": {"k": 2.0, "window": 2.0, "buckets": 20, "min_requests": 10},
                "timeout": {"t_avg": 0.03, "t_hwm": 0.15, "t_max": 0.3, "n": 20},
            },
        },
    }
)
CALLER_POLICY = Policy.from_dict(
    {"methods": {"*": {"breaker": {"k": 2.0, "window": 2.0, "buckets": 20, "min_requests": 10}}}}
)
"""The callers' own breaker toward the gateway: it opens too while the gateway passes the
backend's failures on, and closes again on the same scale as the gateway's."""
OPTIONS = [("grpc.so_reuseport", 0)]


class Backend:
    """The inventory service: its latency and failure rate are turned while it runs."""

    def __init__(self, rng: random.Random) -> None:
        self.latency = 0.005
        self.fail_rate = 0.0
        self._rng = rng
        self._lock = threading.Lock()
        handler: Any = grpc.unary_unary_rpc_method_handler(self._check)
        self.server = grpc.server(ThreadPoolExecutor(max_workers=32), options=OPTIONS)
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("shop.Inventory", {"Check": handler}),)
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    def _check(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        with self._lock:
            failing = self._rng.random() < self.fail_rate
        if failing:
            context.abort(grpc.StatusCode.UNAVAILABLE, "inventory: database down")
        done = threading.Event()
        context.add_callback(done.set)
        done.wait(self.latency)
        return request


class Gateway:
    """The catalog gateway: protected by a ServerInterceptor, calling the backend through a
    ClientInterceptor."""

    def __init__(self, backend_port: int, *, observers: Sequence[Any] | None = ()) -> None:
        self.client = ClientInterceptor(GATEWAY_POLICY, observers=observers)
        channel = grpc.insecure_channel(f"127.0.0.1:{backend_port}")
        self._channel = grpc.intercept_channel(channel, self.client)
        self._check: Any = self._channel.unary_unary(CHECK)
        handler: Any = grpc.unary_unary_rpc_method_handler(self._browse)
        self.server = grpc.server(
            ThreadPoolExecutor(max_workers=32),
            interceptors=[ServerInterceptor(GATEWAY_POLICY, observers=observers)],
            options=OPTIONS,
        )
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("shop.Catalog", {"Browse": handler}),)
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    def _browse(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            reply: bytes = self._check(request)
            return reply
        except grpc.RpcError as error:
            failed: Any = error
            context.set_trailing_metadata(tuple(failed.trailing_metadata() or ()))
            context.abort(failed.code(), failed.details() or "")
            raise  # abort raised already; keeps type checkers informed

    def gauges(self) -> dict[str, float]:
        return {reading.name: reading.value for reading in self.client.gauge_readings()}

    def close(self) -> None:
        self._channel.close()


class Callers:
    """One paced caller thread per tier; ``rates[tier]`` calls per second, changed live."""

    def __init__(
        self, gateway_port: int, rates: dict[int, float], *, observers: Sequence[Any] | None = ()
    ) -> None:
        self.rates = dict(rates)
        self.counts: Counter[tuple[int, str]] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.client = ClientInterceptor(CALLER_POLICY, observers=observers)
        self._channel = grpc.intercept_channel(
            grpc.insecure_channel(f"127.0.0.1:{gateway_port}"), self.client
        )
        self._browse: Any = self._channel.unary_unary(BROWSE)
        self._threads = [
            threading.Thread(target=self._run, args=(tier,), daemon=True) for tier in range(1, 5)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def _run(self, tier: int) -> None:
        pool = ThreadPoolExecutor(max_workers=8)
        next_at = time.monotonic()
        while not self._stop.is_set():
            next_at = max(next_at + 1.0 / self.rates[tier], time.monotonic() - 0.5)
            pool.submit(self._call_as, tier)
            self._stop.wait(max(0.0, next_at - time.monotonic()))
        pool.shutdown(wait=True)

    def _call_as(self, tier: int) -> None:
        with claim_tier(tier):
            try:
                self._browse(b"sku-42", timeout=2.0)
                label = "ok"
            except grpc.RpcError as error:
                failed: Any = error
                reason = dict(failed.trailing_metadata() or ()).get("x-resilience-reject")
                label = reason or failed.code().name.lower()
        with self._lock:
            self.counts[tier, label] += 1

    def drop_probability(self) -> float:
        readings = self.client.gauge_readings()
        return next((r.value for r in readings if r.name == "breaker.drop_probability"), 0.0)

    def take(self) -> Counter[tuple[int, str]]:
        """The counts since the last take."""
        with self._lock:
            counts, self.counts = self.counts, Counter()
        return counts

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self._channel.close()
