"""One data center of the demo: a backend service and a gateway service in front of it.

- backend ``shop.Inventory``: ``Check`` (a read) and ``Reserve`` (a write); a server interceptor
  with a :class:`~resilience.chaos.FaultInjector` hook, which is how the script of events makes
  it fail or slow down; it counts the calls it served per traffic row and whether they came
  from the other center (failovers).
- gateway ``shop.Catalog``: ``Browse`` (calls ``Check``) and ``Order`` (calls ``Reserve``); its
  server interceptor applies the tiered rate limit (shared through Redis when available); its
  outgoing calls go through a client interceptor per center (breaker and dynamic timeout) and a
  :class:`~resilience.failover.DualCenterChannel` that sends failed reads, once, to the other
  center's backend when the :class:`~resilience.algorithms.AdaptiveRetryWindow` admits them.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from resilience.algorithms import AdaptiveRetryWindow
from resilience.chaos import FaultInjector, fault_hook
from resilience.context import current_color, current_method, current_tier, is_failover
from resilience.events import default_gauge_registry
from resilience.failover import DualCenterChannel
from resilience.interceptors import ClientInterceptor, ServerInterceptor
from resilience.policy import Policy

BROWSE, ORDER = "/shop.Catalog/Browse", "/shop.Catalog/Order"
CHECK, RESERVE = "/shop.Inventory/Check", "/shop.Inventory/Reserve"
GATEWAY_LIMIT = 60
"""Calls per second each gateway admits, shared by all tiers (tier 1 first)."""
LOADTEST = "loadtest"
OPTIONS = [("grpc.so_reuseport", 0)]
TRUSTED = ["127.0.0.1/32", "::1/128"]
BREAKER = {"k": 1.5, "window": 1.0, "buckets": 10, "min_requests": 10, "probe_interval": 0.5}
"""k = 1.5: closed while more than 2 calls in 3 succeed (so 5% errors pass, 40% do not); a
1-second window so that it opens and closes within the demo's phases."""
TIMEOUT = {"t_avg": 0.03, "t_hwm": 0.12, "t_max": 0.3, "n": 20}
"""The backend answers in about 5 ms: the timeout stays at 300 ms while the average is under
30 ms and is cut to 120 ms as the average reaches 120 ms."""


def limit_key(center: str) -> str:
    """The name of the ``center``'s gateway limit (the instances of one center share it)."""
    return f"demo.{center}.catalog"


def gateway_policy(center: str, store: str) -> Policy:
    """The gateway's policy: what it serves (one tiered limit, in ``store``) and what it calls
    (breaker and dynamic timeout, reacting within seconds; ``Check`` is a read that may fail
    over, ``Reserve`` a write that never does). The limit is named after the ``center``: the
    instances of one center's gateway share it; the other center has its own."""
    limit: dict[str, Any] = {"limit": GATEWAY_LIMIT, "tiered": True, "store": store}
    limit["key"] = limit_key(center)
    if store != "memory":
        limit.update({"mode": "periodic", "sync_interval": 0.1, "expected_instances": 1})
    return Policy.from_dict(
        {
            "trusted_peers": TRUSTED,
            "methods": {
                "/shop.Catalog/*": {"rate_limit": limit},
                CHECK: {"breaker": BREAKER, "timeout": TIMEOUT, "read": True},
                RESERVE: {"breaker": BREAKER, "timeout": TIMEOUT, "read": False},
            },
        }
    )


BACKEND_POLICY = Policy.from_dict({"trusted_peers": TRUSTED, "methods": {"*": {}}})
"""The backend trusts the gateways' claimed tier (loopback), so each call keeps its caller's."""


def row_of(method: str, tier: int | None, color: str | None) -> str:
    """The traffic row a call belongs to: ``loadtest``, ``writes`` or ``tier N``."""
    if color == LOADTEST:
        return LOADTEST
    if method.endswith(("/Reserve", "/Order")):
        return "writes"
    return f"tier {tier or 2}"


class Backend:
    """The inventory service of one center; ``injector`` holds the script's faults."""

    def __init__(self, name: str, rng: random.Random, observers: Sequence[Any] | None) -> None:
        self.name = name
        self.injector = FaultInjector(rng=rng, enabled=True)
        self.served: Counter[tuple[str, bool]] = Counter()
        """Calls served, by (row, arrived as a failover from the other center)."""
        self._lock = threading.Lock()
        interceptor = ServerInterceptor(
            BACKEND_POLICY, hooks=[fault_hook(self.injector)], observers=observers
        )
        self.server = interceptor.protect(
            grpc.server(ThreadPoolExecutor(max_workers=48), options=OPTIONS)
        )
        handlers: dict[str, Any] = {
            "Check": grpc.unary_unary_rpc_method_handler(self._serve),
            "Reserve": grpc.unary_unary_rpc_method_handler(self._serve),
        }
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("shop.Inventory", handlers),)
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    def _serve(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        done = threading.Event()
        context.add_callback(done.set)
        done.wait(0.005)  # the work itself: 5 ms
        row = row_of(current_method() or CHECK, current_tier(), current_color())
        with self._lock:
            self.served[row, is_failover()] += 1
        return request


class Gateway:
    """The catalog gateway of one center, calling ``local_port`` and failing reads over to
    ``remote_port``, serving on ``port`` (0: a free one). ``breaker_client`` is the
    interceptor toward the local backend (its gauges are the demo's breaker and timeout);
    ``channel`` is the dual-center channel."""

    def __init__(
        self,
        name: str,
        *,
        local_port: int,
        remote_port: int,
        store: str,
        observers: Sequence[Any] | None,
        port: int = 0,
    ) -> None:
        self.name = name
        policy = gateway_policy(name, store)
        self.breaker_client = ClientInterceptor(policy, observers=observers)
        remote_client = ClientInterceptor(policy, observers=observers)
        # growth_ratio 0.5: at the demo's ~40 reads/s the window doubles each healthy second up
        # to ~20, then grows by ~20 a second (the default 0.01 suits thousands of calls a second).
        self.window = AdaptiveRetryWindow(growth_ratio=0.5)
        self.channel = DualCenterChannel(
            self.breaker_client.protect(_channel(local_port)),
            remote_client.protect(_channel(remote_port)),
            policy=policy,
            window=self.window,
            target=f"{name}->other center",
            observers=observers or (),
        )
        self._check: Any = self.channel.unary_unary(CHECK)
        self._reserve: Any = self.channel.unary_unary(RESERVE)
        self.server_interceptor = ServerInterceptor(policy, observers=observers)
        self.server = self.server_interceptor.protect(
            grpc.server(ThreadPoolExecutor(max_workers=48), options=OPTIONS)
        )
        handlers: dict[str, Any] = {
            "Browse": grpc.unary_unary_rpc_method_handler(self._browse),
            "Order": grpc.unary_unary_rpc_method_handler(self._order),
        }
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("shop.Catalog", handlers),)
        )
        self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")

    def _browse(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        return self._forward(self._check, request, context)

    def _order(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        return self._forward(self._reserve, request, context)

    @staticmethod
    def _forward(call: Any, request: bytes, context: grpc.ServicerContext) -> bytes:
        """Call the backend with the caller's time left; pass its failure on, reason and all."""
        remaining = context.time_remaining()
        try:
            reply: bytes = call(request, timeout=min(remaining or 2.0, 2.0))
            return reply
        except grpc.RpcError as error:
            failed: Any = error
            context.set_trailing_metadata(tuple(failed.trailing_metadata() or ()))
            context.abort(failed.code(), failed.details() or "")
            raise  # abort raised already; keeps type checkers informed

    def gauges(self) -> dict[str, float]:
        """Gauges of the calls to the local backend's ``Check`` (``breaker.drop_probability``,
        ``timeout.seconds``) and of the gateway's limit (``limiter.fallback``: 1 while a
        Redis-backed limit decides locally because the store failed; absent in memory)."""
        gauges = {
            reading.name: reading.value
            for reading in self.breaker_client.gauge_readings()
            if reading.attributes.get("method") == CHECK
        }
        key = limit_key(self.name)
        for reading in default_gauge_registry().readings():
            if reading.name == "limiter.fallback" and reading.attributes.get("limit") == key:
                gauges["limiter.fallback"] = max(gauges.get("limiter.fallback", 0.0), reading.value)
        return gauges

    def close(self) -> None:
        """Close the channels and stop the shared limit's background sync."""
        self.channel.close()
        self.server_interceptor.close()


def _channel(port: int) -> grpc.Channel:
    return grpc.insecure_channel(f"127.0.0.1:{port}", options=OPTIONS)
