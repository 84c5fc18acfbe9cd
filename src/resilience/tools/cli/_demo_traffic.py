"""The demo's callers: paced client threads, one per traffic stream, counting every outcome.

Reads (``Browse``) come in the four tiers; a share of every tier is load-test traffic, sent
inside ``traffic_color("loadtest")`` and counted in a row of its own; writes (``Order``) come
from tier 1. A light stream calls the remote center's gateway, so both centers serve.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc

from resilience.context import tier as claim_tier
from resilience.context import traffic_color
from resilience.interceptors import ClientInterceptor
from resilience.policy import Policy
from resilience.tools.cli._demo_services import BROWSE, LOADTEST, OPTIONS, ORDER

LOADTEST_SHARE = 0.1
"""Share of each tier's reads sent as load-test traffic."""
REMOTE_ROW = "remote center"
CALLER_POLICY = Policy.from_dict(
    {
        "methods": {
            "*": {
                "breaker": {"k": 2.0, "window": 2.0, "buckets": 20, "min_requests": 10},
                # A gateway's refusal (RESOURCE_EXHAUSTED) is the gateway working, not failing:
                # it must not open the callers' breaker, which would drop tier 1 with tier 4.
                "failure_codes": ["UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL"],
            }
        }
    }
)


@dataclass
class Stream:
    """One paced stream of calls: ``rate`` per second, changed live by the script."""

    name: str
    method: str
    tier: int
    rate: float
    loadtest_share: float = 0.0


def local_streams(per_tier: float, writes: float) -> list[Stream]:
    """The local center's traffic: reads in tiers 1..4 (each with a load-test share), writes."""
    streams = [Stream(f"tier {t}", BROWSE, t, per_tier, LOADTEST_SHARE) for t in (1, 2, 3, 4)]
    return [*streams, Stream("writes", ORDER, 1, writes)]


class Callers:
    """Runs ``streams`` against the gateway on ``port``; :meth:`take` returns the outcomes since
    the last take, by (row, label): label ``ok``, a reject reason (``rate_limit``, ``shed``,
    ``breaker``, ...) or a status code name in lower case."""

    def __init__(
        self,
        port: int,
        streams: Sequence[Stream],
        *,
        seed: int,
        observers: Sequence[Any] | None = (),
        row: str | None = None,
    ) -> None:
        self.streams = {stream.name: stream for stream in streams}
        self._row = row
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.client = ClientInterceptor(CALLER_POLICY, observers=observers)
        self._channel = self.client.protect(
            grpc.insecure_channel(f"127.0.0.1:{port}", options=OPTIONS)
        )
        self._calls: dict[str, Any] = {
            method: self._channel.unary_unary(method) for method in (BROWSE, ORDER)
        }
        self._threads = [
            threading.Thread(target=self._run, args=(s, random.Random(f"{seed}/{s.name}")))
            for s in streams
        ]

    def start(self) -> Callers:
        for thread in self._threads:
            thread.daemon = True
            thread.start()
        return self

    def _run(self, stream: Stream, rng: random.Random) -> None:
        with ThreadPoolExecutor(max_workers=24) as pool:
            next_at = time.monotonic()
            while not self._stop.is_set():
                next_at = max(next_at + 1.0 / stream.rate, time.monotonic() - 0.5)
                colored = rng.random() < stream.loadtest_share
                pool.submit(self._call, stream, colored)
                self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _call(self, stream: Stream, colored: bool) -> None:
        row = self._row or (LOADTEST if colored else stream.name)
        with claim_tier(stream.tier), traffic_color(LOADTEST if colored else None):
            try:
                self._calls[stream.method](b"sku-42", timeout=2.0)
                label = "ok"
            except grpc.RpcError as error:
                failed: Any = error
                reason = dict(failed.trailing_metadata() or ()).get("x-resilience-reject")
                label = reason or failed.code().name.lower()
        with self._lock:
            self._counts[row, label] += 1

    def take(self) -> Counter[tuple[str, str]]:
        """The outcomes since the last take."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        return counts

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self._channel.close()
