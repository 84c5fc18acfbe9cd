"""Per-caller quotas: a ``rate_limit`` with ``per`` gives each caller (a metadata key, the
peer, the color) a limit of its own, keeps at most ``max_callers`` (least recently used
dropped), and never shows a caller's value: only its hash names anything."""

from __future__ import annotations

import logging
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from resilience._base.details import DETAILS_KEY
from resilience.context import traffic_color
from resilience.errors import ConfigError
from resilience.events import default_gauge_registry
from resilience.interceptors._callers import caller_digest, peer_address
from resilience.policy import Policy, RateLimitSettings
from resilience.testing import ManualClock

from .harness import Failure, Harness

pytestmark = pytest.mark.e2e

SECRET = "sk-live-0123456789abcdef"


def per_caller(per: str, limit: int = 2, **more: Any) -> Policy:
    rate_limit = {"limit": limit, "window": 1.0, "per": per, **more}
    return Policy.from_dict({"methods": {"*": {"rate_limit": rate_limit}}})


def passed(results: list[Any]) -> list[bool]:
    return [not isinstance(result, Failure) for result in results]


def test_each_api_key_gets_its_own_quota(harness: Harness) -> None:
    server = harness.server(policy=per_caller("metadata:x-api-key"), clock=ManualClock(100.0))
    client = harness.client(server.address)

    def calls(key: str | None, count: int) -> list[bool]:
        metadata = None if key is None else [("x-api-key", key)]
        return passed([client.call(metadata=metadata) for _ in range(count)])

    assert calls(SECRET, 3) == [True, True, False]
    assert calls("another-key", 2) == [True, True]  # not charged for SECRET's calls
    assert calls(None, 3) == [True, True, False]  # calls without the key share one quota
    assert calls(SECRET, 1) == [False]


def test_a_rejection_names_the_source_never_the_value(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = harness.server(policy=per_caller("metadata:x-api-key", 1), clock=ManualClock(100.0))
    client = harness.client(server.address)
    metadata = [("x-api-key", SECRET)]
    client.call(metadata=metadata)

    rejected = client.call(metadata=metadata)

    assert isinstance(rejected, Failure)
    assert rejected.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rpc_status.from_call(_as_call(rejected))
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.reason == "RATE_LIMITED"
    assert info.metadata["caller"] == "metadata:x-api-key"
    everything = repr(rejected) + repr(status) + caplog.text
    assert SECRET not in everything
    assert caller_digest(SECRET) not in everything
    gauges = repr(default_gauge_registry().readings())
    assert caller_digest(SECRET) not in gauges


def test_the_peer_is_one_caller_over_many_connections(harness: Harness) -> None:
    server = harness.server(policy=per_caller("peer", 3), clock=ManualClock(100.0))
    first = harness.client(server.address)
    second = harness.client(server.address)  # another channel: another connection and port

    results = [first.call(), second.call(), first.call(), second.call()]

    assert passed(results) == [True, True, True, False]


def test_each_color_gets_its_own_quota(harness: Harness) -> None:
    server = harness.server(policy=per_caller("color", 1), clock=ManualClock(100.0))
    client = harness.client(server.address)

    with traffic_color("loadtest"):
        load = [client.call(), client.call()]
    real = [client.call(), client.call()]

    assert passed(load) == [True, False]
    assert passed(real) == [True, False]


def test_the_least_recently_seen_caller_is_dropped_past_max_callers(harness: Harness) -> None:
    policy = per_caller("metadata:x-tenant", 1, max_callers=2)
    server = harness.server(policy=policy, clock=ManualClock(100.0))
    client = harness.client(server.address)

    def call(tenant: str) -> bool:
        return passed([client.call(metadata=[("x-tenant", tenant)])])[0]

    assert [call("a"), call("a"), call("b"), call("b")] == [True, False, True, False]
    assert call("c")  # a third tenant: "a", the least recently seen, is dropped
    assert call("a")  # dropped, so it starts afresh
    assert not call("c")  # still kept


def test_a_tiered_per_caller_limit_sheds_within_each_caller(harness: Harness) -> None:
    clock = ManualClock(100.0)
    rate_limit = {"limit": 4, "window": 1.0, "per": "metadata:x-tenant", "tiered": True}
    policy = Policy.from_dict(
        {"trusted_peers": ["127.0.0.1/32", "::1/128"], "methods": {"*": {"rate_limit": rate_limit}}}
    )
    server = harness.server(policy=policy, clock=clock)
    client = harness.client(server.address)
    a, b = [("x-tenant", "a")], [("x-tenant", "b")]
    from resilience.context import tier

    with tier(1):
        assert passed([client.call(metadata=a) for _ in range(3)]) == [True] * 3
    clock.advance(1.0)  # tenant a's tier 1 demand of 3 is now the last complete window's
    with tier(3):
        assert passed([client.call(metadata=a) for _ in range(2)]) == [True, False]
        assert passed([client.call(metadata=b) for _ in range(4)]) == [True] * 4


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"per": "tenant"}, r"rate_limit\.per: must be \"peer\", \"color\" or \"metadata:"),
        ({"per": "metadata:X-Api-Key"}, r"rate_limit\.per: must be"),
        ({"per": "metadata:trace-bin"}, r"rate_limit\.per: must be"),
        ({"per": "peer", "max_callers": 0}, r"rate_limit\.max_callers: must be >= 1"),
        ({"per": "peer", "store": "redis://127.0.0.1:6379"}, r'needs mode = "exact"'),
    ],
)
def test_bad_per_caller_settings_say_what_to_change(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Policy.from_dict({"methods": {"*": {"rate_limit": {"limit": 5, **section}}}})


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("ipv4:10.0.0.7:51234", "ipv4:10.0.0.7"),
        ("ipv6:[::1]:5000", "ipv6:[::1]"),
        ("unix:/run/app.sock", "unix:/run/app.sock"),
        ("ipv4:weird", "ipv4:weird"),
    ],
)
def test_the_peer_address_leaves_the_port_out(peer: str, address: str) -> None:
    assert peer_address(peer) == address


def test_settings_default_to_ten_thousand_callers() -> None:
    assert RateLimitSettings(limit=1, per="peer").max_callers == 10_000


def _as_call(failure: Failure) -> Any:
    """A grpc.Call-like view of a harness Failure, for rpc_status.from_call."""

    class _Call:
        def code(self) -> grpc.StatusCode:
            return failure.code

        def details(self) -> str:
            return failure.details

        def trailing_metadata(self) -> Any:
            return tuple(failure.trailing.items())

    assert DETAILS_KEY in failure.trailing
    return _Call()


def test_a_long_limit_key_still_names_every_caller() -> None:
    """A limit key of 200 characters plus the caller's suffix would exceed the 200 characters
    a limit name may have: that part is hashed instead (a caller's limiter failed to build
    before, and its calls went unlimited)."""
    from resilience.interceptors._server_limits import build_limiter

    settings = RateLimitSettings(limit=1, per="metadata:x-tenant", key="k" * 200)
    limiter: Any = build_limiter(settings, ManualClock(100.0))
    assert limiter.try_acquire(2, "a").allowed
    assert not limiter.try_acquire(2, "a").allowed
    assert limiter.try_acquire(2, "b").allowed


def test_the_gauges_count_the_callers_kept(harness: Harness) -> None:
    policy = per_caller("metadata:x-tenant", 5, max_callers=2)
    server = harness.server(policy=policy, clock=ManualClock(100.0))
    client = harness.client(server.address)
    for tenant in ("a", "b", "c"):
        client.call(metadata=[("x-tenant", tenant)])

    readings = {r.name: r.value for r in server.interceptor.gauge_readings()}

    assert readings["limiter.callers"] == 2.0  # "a" was dropped
    assert readings["limiter.limit"] == 5.0
