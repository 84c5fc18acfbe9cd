"""Retries and hedges in the metrics, every form (sync and aio, interceptor and protect):
each attempt is a client call in ``rpc.client.call.duration``, each retry or hedge a decision
in ``resilience.decisions``."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from resilience import AioClientInterceptor, ClientInterceptor, Policy

from .harness import Harness
from .test_client_retry import failing

pytestmark = pytest.mark.e2e

PATTERN = "/resilience.testing.Echo/*"


def counted(harness: Harness, section: dict[str, Any]) -> Counter[str]:
    """One unary call whose first attempt fails UNAVAILABLE, with ``section`` on its method:
    the decisions and the attempts' status codes the metrics counted."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from resilience.observability import MetricsObserver

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metrics = MetricsObserver(meter_provider=provider)
    policy = Policy.from_dict({"methods": {PATTERN: {"read": True, **section}}})
    server = harness.server(behavior=failing(1))
    cls = AioClientInterceptor if harness.aio else ClientInterceptor
    made = harness._open_client(server.address, cls(policy, observers=[metrics]))
    counts: Counter[str] = Counter()
    try:
        assert made.call(timeout=30) == [b"ping"]
        data = reader.get_metrics_data()
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points: list[Any] = list(metric.data.data_points)
                    for point in points:
                        attributes = point.attributes or {}
                        if metric.name == "resilience.decisions":
                            counts[str(attributes["resilience.decision"])] += point.value
                        elif metric.name == "rpc.client.call.duration":
                            counts[str(attributes["rpc.response.status_code"])] += point.count
    finally:
        provider.shutdown()
    return counts


def test_a_retry_is_a_decision_and_each_attempt_a_call(harness: Harness) -> None:
    retry = {"retry": {"base_delay": 0.001, "max_delay": 0.002}}
    assert counted(harness, retry) == {"retry.attempted": 1, "UNAVAILABLE": 1, "OK": 1}


def test_a_hedge_is_a_decision_and_each_attempt_a_call(harness: Harness) -> None:
    # The first attempt's UNAVAILABLE (non-fatal) sends the hedge at once, which wins.
    hedging = {"hedging": {"delay": "10m"}}
    expected = {"hedge.attempted": 1, "hedge.won": 1, "UNAVAILABLE": 1, "OK": 1}
    assert counted(harness, hedging) == expected
