"""What the metrics endpoint exposes: loopback only by default, and, whatever callers send, no
secret, no color outside the allow-list, no claimed tier of an untrusted peer and no method
beyond the bound in its label values (real gRPC servers, sync and aio, scraped over HTTP)."""

from __future__ import annotations

import socket
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from interceptors.harness import AioHarness, Harness
from resilience.events import GaugeRegistry
from resilience.observability import MetricsObserver, serve_metrics
from resilience.policy import Policy
from resilience.testing import ManualClock

pytestmark = pytest.mark.timeout(60)

SECRET = uuid.uuid4().hex
HOSTILE_METADATA = [
    ("authorization", f"Bearer {SECRET}"),
    ("cookie", f"session={SECRET}"),
    ("x-api-key", SECRET),
    ("x-resilience-admin-token", SECRET),
    ("x-resilience-tier", "1"),  # a tier claim from a peer the policy does not trust
    ("baggage", f"resilience.color=c{SECRET[:20]},user={SECRET}"),
]
ALLOWED_LABELS = {
    "rpc_system_name",
    "rpc_method",
    "rpc_response_status_code",
    "error_type",
    "resilience_color",
    "resilience_side",
    "resilience_reject_reason",
    "resilience_tier",
    "le",
    "otel_scope_name",
    "otel_scope_version",
    "otel_scope_schema_url",
    # target_info: the OpenTelemetry resource (SDK name and version, service name)
    "service_name",
    "service_instance_id",
    "telemetry_sdk_language",
    "telemetry_sdk_name",
    "telemetry_sdk_version",
}


@pytest.fixture(params=["sync", "aio"])
def grpc_kind(request: pytest.FixtureRequest) -> Iterator[Harness]:
    made = AioHarness() if request.param == "aio" else Harness()
    try:
        yield made
    finally:
        made.close()


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5.0) as response:
        return str(response.read().decode())


def test_the_endpoint_listens_on_loopback_only_by_default() -> None:
    with serve_metrics(0, set_global=False) as endpoint:
        assert endpoint.host == "127.0.0.1"
        scrape(endpoint.url)  # reachable on loopback
        # 127.0.0.2 is this machine too, but not the address the endpoint is bound to
        with (
            pytest.raises(ConnectionRefusedError),
            socket.create_connection(("127.0.0.2", endpoint.port), timeout=5.0),
        ):
            pass


def test_labels_hold_no_secret_no_unlisted_color_no_untrusted_tier(grpc_kind: Harness) -> None:
    policy = Policy.from_dict(
        {"methods": {"*": {"tier": 4, "rate_limit": {"limit": 2, "window": 1.0}}}}
    )
    with serve_metrics(0, set_global=False) as endpoint:
        observer = MetricsObserver(
            meter_provider=endpoint.meter_provider, gauges=GaugeRegistry(), max_methods=1
        )
        server = grpc_kind.server(policy=policy, observers=[observer], clock=ManualClock(10.0))
        hostile = grpc_kind.client(server.address, plain=True)
        for _ in range(4):  # 2 pass, 2 are refused by the rate limit
            hostile.call(metadata=HOSTILE_METADATA)
        for shape in ("unary_stream", "stream_unary"):  # methods beyond max_methods
            hostile.call(shape, metadata=HOSTILE_METADATA)
        own = grpc_kind.client(server.address, observers=[observer])  # breaker gauges
        observer.gauges.register(own.interceptor)
        for shape in ("unary_unary", "unary_stream", "stream_unary", "stream_stream"):
            own.call(shape)
        body = scrape(endpoint.url)

    assert SECRET not in body
    assert SECRET[:20] not in body
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            for name, value in sample.labels.items():
                labels.setdefault(name, set()).add(value)
    assert set(labels) <= ALLOWED_LABELS
    assert labels["resilience_color"] == {"other", "none"}  # the hostile color, our own calls
    assert labels["resilience_tier"] == {"4"}  # the policy's tier, not the claimed 1
    assert labels["resilience_reject_reason"] == {"rate_limit"}
    assert len(labels["rpc_method"]) == 2  # one method, then _OTHER, on every series
    assert "_OTHER" in labels["rpc_method"]
    assert not any(name.startswith(("python_", "process_")) for name in _names(body))


def _names(body: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(body)}
