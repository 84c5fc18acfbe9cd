"""Standard error details: every rejection carries a google.rpc.Status in
``grpc-status-details-bin`` that a real client reads with grpcio-status (``from_call``, sync and
aio): ErrorInfo with the reason and domain, RetryInfo for rate limits and shedding, QuotaFailure
where a quota applies; the ``x-resilience-reject`` and pushback trailers stay."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from resilience._base.keys import PUSHBACK, REJECT
from resilience.algorithms import ALLOWED, Decision, OverloadGuard
from resilience.context import tier
from resilience.interceptors import _method_state
from resilience.policy import OverloadSettings, Policy
from resilience.testing import ECHO_METHODS, EchoBehavior, ManualClock, echo_call

from .harness import AioHarness, Client, Harness

pytestmark = pytest.mark.e2e

UNARY = ECHO_METHODS["unary_unary"]
LOOPBACK = ["127.0.0.1/32", "::1/128"]
DETAIL_TYPES = (
    error_details_pb2.ErrorInfo,
    error_details_pb2.RetryInfo,
    error_details_pb2.QuotaFailure,
)


def rejected_status(
    harness: Harness,
    client: Client,
    metadata: Sequence[tuple[str, str]] | None = None,
    *,
    required: bool = True,
) -> tuple[Any, status_pb2.Status]:
    """Make one unary call that fails; its error and the Status grpcio-status reads from it
    (``rpc_status.from_call`` on the sync error, ``rpc_status.aio.from_call`` on the aio call)."""
    if not harness.aio:
        with pytest.raises(grpc.RpcError) as caught:
            echo_call(client.channel, "unary_unary", timeout=5, metadata=metadata)
        status = rpc_status.from_call(caught.value)
        assert status is not None or not required
        return caught.value, status

    async def read() -> tuple[Any, status_pb2.Status]:
        md = grpc.aio.Metadata(*metadata) if metadata else None
        call = client.channel.unary_unary(UNARY)(b"ping", timeout=5, metadata=md)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        status = await rpc_status.aio.from_call(call)
        assert status is not None or not required
        return caught.value, status

    assert isinstance(harness, AioHarness)
    return harness.run(read())


def details_of(status: status_pb2.Status) -> dict[str, Any]:
    """The status's details by type name (each type at most once)."""
    found: dict[str, Any] = {}
    for packed in status.details:
        for cls in DETAIL_TYPES:
            if packed.Is(cls.DESCRIPTOR):
                message: Message = cls()
                packed.Unpack(message)
                assert cls.__name__ not in found
                found[cls.__name__] = message
    assert len(found) == len(status.details), "an unknown detail type"
    return found


def trailers(error: Any) -> dict[str, Any]:
    return dict(error.trailing_metadata() or ())


def test_a_rate_limit_carries_error_info_retry_info_and_quota_failure(harness: Harness) -> None:
    policy = Policy.from_dict({"methods": {"*": {"rate_limit": {"limit": 2, "window": 1.0}}}})
    server = harness.server(policy=policy, clock=ManualClock(100.0))
    client = harness.client(server.address)
    for _ in range(2):
        client.call()

    error, status = rejected_status(harness, client)

    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert status.message == error.details()
    found = details_of(status)
    info = found["ErrorInfo"]
    assert (info.reason, info.domain) == ("RATE_LIMITED", "resilience.grpc")
    assert dict(info.metadata) == {
        "method": UNARY,
        "limitKey": "*",
        "tier": "2",
        "limitPerWindow": "2",
        "windowSeconds": "1",
    }
    delay = found["RetryInfo"].retry_delay.ToNanoseconds() / 1e9
    pushback = int(trailers(error)[PUSHBACK])
    assert 0 < delay <= 1.0
    assert pushback == pytest.approx(delay * 1000, abs=1)
    violation = found["QuotaFailure"].violations[0]
    assert violation.subject == "limit:*"
    assert violation.description == f"limit 2 per 1s on * (this call: {UNARY})"
    assert trailers(error)[REJECT] == "rate_limit"


def test_a_shed_tier_gets_a_retry_delay_of_one_window_and_no_pushback(harness: Harness) -> None:
    clock = ManualClock(100.0)
    limit = {"limit": 10, "window": 2.0, "tiered": True}
    policy = Policy.from_dict({"trusted_peers": LOOPBACK, "methods": {"*": {"rate_limit": limit}}})
    server = harness.server(policy=policy, clock=clock)
    client = harness.client(server.address)
    with tier(1):
        for _ in range(9):
            client.call()
    clock.advance(2.0)  # tier 1's demand of 9 is now the last complete window's

    with tier(3):
        client.call()
        error, status = rejected_status(harness, client)

    found = details_of(status)
    assert found["ErrorInfo"].reason == "SHED"
    assert found["ErrorInfo"].metadata["tier"] == "3"
    assert found["RetryInfo"].retry_delay.ToNanoseconds() == 2_000_000_000
    assert "QuotaFailure" in found
    assert trailers(error)[REJECT] == "shed"
    assert PUSHBACK not in trailers(error)


class SheddingGuard(OverloadGuard):
    """An OverloadGuard saturated above tier 2 (the CPU cannot be driven deterministically)."""

    def try_acquire(self, tier: int) -> Decision:
        return ALLOWED if tier <= 2 else Decision(False, None, "overload")

    def release(self, latency: float) -> None:
        pass


def test_an_overload_shed_carries_overloaded_and_the_guard_window(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def build(settings: OverloadSettings, clock: object) -> SheddingGuard:
        return SheddingGuard()

    monkeypatch.setattr(_method_state, "build_overload", build)
    overload = {"window": 5.0}
    policy = Policy.from_dict({"trusted_peers": LOOPBACK, "methods": {"*": {"overload": overload}}})
    server = harness.server(policy=policy)
    client = harness.client(server.address)

    with tier(4):
        error, status = rejected_status(harness, client)

    found = details_of(status)
    assert found["ErrorInfo"].reason == "OVERLOADED"
    assert dict(found["ErrorInfo"].metadata) == {"method": UNARY, "tier": "4"}
    assert found["RetryInfo"].retry_delay.ToNanoseconds() == 5_000_000_000
    assert "QuotaFailure" not in found
    assert trailers(error)[REJECT] == "overload"


def test_a_breaker_drop_is_a_local_error_with_breaker_open(harness: Harness) -> None:
    breaker = {"min_requests": 5, "window": 10.0}
    policy = Policy.from_dict({"methods": {"*": {"breaker": breaker}}})
    behavior = EchoBehavior(fail_rate=1.0)
    server = harness.server(behavior=behavior)
    client = harness.client(server.address, policy=policy, clock=ManualClock(100.0))
    for _ in range(40):
        client.call()  # the breaker now drops most calls

    for _ in range(20):
        error, status = rejected_status(harness, client, required=False)
        if trailers(error).get(REJECT) == "breaker":  # else the servicer's own failure
            break
    else:
        pytest.fail("the breaker dropped none of 20 calls")

    assert status is not None
    assert status.code == grpc.StatusCode.UNAVAILABLE.value[0]
    found = details_of(status)
    assert found["ErrorInfo"].reason == "BREAKER_OPEN"
    assert dict(found["ErrorInfo"].metadata) == {"method": UNARY, "side": "client"}
    assert set(found) == {"ErrorInfo"}


@pytest.mark.parametrize("side", ["server", "client"])
def test_an_injected_fault_carries_fault_injected_and_its_rule(harness: Harness, side: str) -> None:
    fault = {"name": "drill", "side": side, "abort": "UNAVAILABLE", "message": "chaos drill"}
    chaos = {"enabled": True, "seed": 7}
    policy = Policy.from_dict({"faults": [fault], "chaos": chaos})
    server = harness.server(policy=policy if side == "server" else None)
    client = harness.client(server.address, policy=policy if side == "client" else None)

    error, status = rejected_status(harness, client)

    assert (status.code, status.message) == (grpc.StatusCode.UNAVAILABLE.value[0], "chaos drill")
    found = details_of(status)
    assert found["ErrorInfo"].reason == "FAULT_INJECTED"
    assert dict(found["ErrorInfo"].metadata) == {"rule": "drill", "side": side}
    assert trailers(error)[REJECT] == "fault"
