"""Size bounds outside the policy tree: the algorithms' constructors, the recorder, the
dual-center channels and the observers refuse a size above its bound with a ConfigError that
names the parameter and the bound (before, each was accepted and cost memory per method)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from resilience._base.limits import (
    MAX_BUCKETS,
    MAX_CACHE_SIZE,
    MAX_COUNT,
    MAX_EMA_CALLS,
    MAX_INSTANCES,
    MAX_RECORD_BYTES,
    MAX_REPLAY_BYTES,
    MAX_STREAM_MESSAGES,
)
from resilience.algorithms import (
    AdaptiveRetryWindow,
    EmaTimeout,
    OverloadGuard,
    SlidingWindowLimiter,
    SreBreaker,
    TieredLimiter,
)
from resilience.backends import LimitSpec, MemoryStore, SharedSlidingWindowLimiter
from resilience.errors import ConfigError
from resilience.failover import DualCenterChannel
from resilience.observability import MetricsObserver
from resilience.recording import TrafficRecorder

CASES: list[tuple[str, Callable[[], object], str]] = [
    (
        "breaker buckets",
        lambda: SreBreaker(buckets=MAX_BUCKETS + 1),
        f"buckets must be <= {MAX_BUCKETS}",
    ),
    (
        "breaker min_requests",
        lambda: SreBreaker(min_requests=MAX_COUNT + 1),
        f"min_requests must be <= {MAX_COUNT}",
    ),
    (
        "limiter buckets",
        lambda: SlidingWindowLimiter(10, 1.0, 10**9),
        f"buckets must be <= {MAX_BUCKETS}",
    ),
    ("limiter limit", lambda: TieredLimiter(10**12, 1.0), f"limit must be <= {MAX_COUNT}"),
    ("overload buckets", lambda: OverloadGuard(buckets=10**6), f"buckets must be <= {MAX_BUCKETS}"),
    ("ema n", lambda: EmaTimeout(n=MAX_EMA_CALLS + 1), f"n must be <= {MAX_EMA_CALLS}"),
    (
        "retry window",
        lambda: AdaptiveRetryWindow(initial=10**12),
        f"initial must be <= {MAX_COUNT}",
    ),
    ("limit spec", lambda: LimitSpec("x", 10, 1.0, 10**6), f"buckets must be <= {MAX_BUCKETS}"),
    (
        "shared instances",
        lambda: SharedSlidingWindowLimiter(
            MemoryStore(), name="x", limit=10, expected_instances=MAX_INSTANCES + 1
        ),
        f"expected_instances must be <= {MAX_INSTANCES}",
    ),
    (
        "observer methods",
        lambda: MetricsObserver(max_methods=MAX_CACHE_SIZE + 1),
        f"max_methods must be an integer >= 1 and <= {MAX_CACHE_SIZE}",
    ),
]


@pytest.mark.parametrize(("what", "build", "message"), CASES, ids=[case[0] for case in CASES])
def test_an_oversized_parameter_is_a_config_error(
    what: str, build: Callable[[], object], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        build()


def test_the_defaults_are_within_the_bounds() -> None:
    SreBreaker(buckets=MAX_BUCKETS)
    SlidingWindowLimiter(MAX_COUNT, 1.0, MAX_BUCKETS)


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        (
            {"max_bytes": MAX_RECORD_BYTES + 1},
            f"max_bytes: must be an int in [256, {MAX_RECORD_BYTES}]",
        ),
        (
            {"max_stream_messages": MAX_STREAM_MESSAGES + 1},
            f"max_stream_messages: must be in [1, {MAX_STREAM_MESSAGES}]",
        ),
    ],
)
def test_recorder_sizes_are_bounded(tmp_path: Path, keywords: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        TrafficRecorder(tmp_path / "traffic.jsonl", **keywords)


@pytest.mark.parametrize(
    "keywords",
    [{"max_replay_messages": MAX_STREAM_MESSAGES + 1}, {"max_replay_bytes": MAX_REPLAY_BYTES + 1}],
)
def test_replay_sizes_are_bounded(keywords: dict[str, Any]) -> None:
    local = grpc.insecure_channel("127.0.0.1:1")
    remote = grpc.insecure_channel("127.0.0.1:2")
    try:
        with pytest.raises(ConfigError, match=f"max_replay_bytes <= {MAX_REPLAY_BYTES}"):
            DualCenterChannel(local, remote, **keywords)
    finally:
        local.close()
        remote.close()
