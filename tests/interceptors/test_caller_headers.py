"""What the client does with the caller's own headers when it adds its own: a tier chosen with
``tier(n)`` replaces a tier header the caller wrote, and metadata that is not (key, value)
pairs is the caller's mistake, refused by gRPC, not a fault of the library."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from resilience._base import faults
from resilience._base.keys import TIER
from resilience.context import tier, traffic_color
from resilience.testing import EchoBehavior

from .harness import Harness, Recorder

pytestmark = pytest.mark.e2e

UNARY = "/resilience.testing.Echo/Unary"


def unary(harness: Harness, channel: grpc.Channel, metadata: Any) -> Any:
    """One unary call on ``channel`` with ``metadata`` passed as it is."""
    say: Any = channel.unary_unary(UNARY)
    if not harness.aio:
        return say(b"ping", timeout=10, metadata=metadata)

    async def call() -> Any:
        return await say(b"ping", timeout=10, metadata=metadata)

    return harness.run(call())  # type: ignore[attr-defined]


def test_a_chosen_tier_replaces_the_tier_header_the_caller_wrote(harness: Harness) -> None:
    # Before, both went on the wire: the caller's "1" and the library's "3".
    sent: list[list[str]] = []

    def on_call(request: bytes, context: Any) -> None:
        sent.append([value for key, value in context.invocation_metadata() if key == TIER])

    server = harness.server(behavior=EchoBehavior(on_call=on_call))
    client = harness.client(server.address)
    with tier(3):
        assert unary(harness, client.channel, [(TIER, "1"), ("x-user", "ada")]) == b"ping"
    assert unary(harness, client.channel, [(TIER, "1")]) == b"ping"  # no tier chosen: kept
    assert sent == [["3"], ["1"]]


def test_metadata_that_is_not_pairs_is_refused_by_grpc_not_counted_as_a_library_fault(
    harness: Harness,
) -> None:
    # A dict iterates over its keys: gRPC refuses it. Before, the library's header injection
    # failed on it first and counted and logged that as its own fault, and on grpc.aio the
    # call never ended for its observers (an in-flight gauge and a bulkhead place kept it).
    recorder = Recorder()
    server = harness.server()
    client = harness.client(server.address, observers=[recorder])
    before = faults.fault_counts().get("client metadata injection", 0)
    with traffic_color("loadtest"), pytest.raises(Exception) as raised:  # noqa: PT011
        unary(harness, client.channel, {"x-user": "ada"})
    assert not isinstance(raised.value, grpc.RpcError)  # gRPC's own refusal, never sent
    assert faults.fault_counts().get("client metadata injection", 0) == before
    assert len(recorder.started) == len(recorder.wait_ended(len(recorder.started)))
    assert server.behavior.calls == 0
