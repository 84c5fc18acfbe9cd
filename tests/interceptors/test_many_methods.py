"""More methods than a registry keeps (2,048: one not called lately is evicted): a call in flight on
an evicted method ends cleanly, its bulkhead place freed once, and the shared bulkhead's limit
still holds. Client side (the refused calls never leave the client, so 2,100 distinct methods
cost little), sync and aio, interceptor and ``protect()`` forms."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from resilience._base.keys import REJECT
from resilience.interceptors._registry import DEFAULT_MAX_METHODS
from resilience.policy import Policy

from .harness import AioHarness, Client, Failure, Gate, Harness, Recorder, failure_of
from .test_bulkhead import UNARY, gauge, in_background, wait_until

pytestmark = pytest.mark.e2e

OTHERS = [f"/other.Service/Method{i}" for i in range(DEFAULT_MAX_METHODS + 52)]


def call_each(harness: Harness, client: Client, methods: list[str]) -> list[Failure | bytes]:
    """One unary call per method, one after the other."""
    if isinstance(harness, AioHarness):

        async def each() -> list[Failure | bytes]:
            results: list[Failure | bytes] = []
            for method in methods:
                try:
                    results.append(await client.channel.unary_unary(method)(b"x", timeout=5))
                except grpc.aio.AioRpcError as error:
                    results.append(failure_of(error))
            return results

        return harness.run(each(), timeout=120)
    results: list[Failure | bytes] = []
    for method in methods:
        try:
            results.append(client.channel.unary_unary(method)(b"x", timeout=5))
        except grpc.RpcError as error:
            results.append(failure_of(error))
    return results


def test_a_call_on_an_evicted_method_ends_once_and_the_limit_holds(harness: Harness) -> None:
    gate, recorder = Gate(), Recorder()
    server = harness.server(behavior=gate.behavior(harness.aio))
    section = {"side": "client", "max_concurrent": 1}
    policy = Policy.from_dict({"methods": {"*": {"breaker": False, "bulkhead": section}}})
    client = harness.client(server.address, policy=policy, observers=[recorder])
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = in_background(pool, client)
        assert wait_until(lambda: gate.entered == 1)
        assert gauge(client.interceptor, "active") == 1

        refused = call_each(harness, client, OTHERS)  # the one place is held: all refused

        assert all(isinstance(r, Failure) and r.trailing[REJECT] == "bulkhead" for r in refused)
        assert gauge(client.interceptor, "active") == 0  # UNARY's state was evicted
        gate.open()
        assert first.result(30) == [b"ping"]
        assert wait_until(lambda: gauge(client.interceptor, "active") == 0)

        gate.opened.clear()  # the place was freed, once: one call at a time still
        second = in_background(pool, client)
        assert wait_until(lambda: gate.entered == 2)
        third = client.call()
        assert isinstance(third, Failure)
        assert third.trailing[REJECT] == "bulkhead"
        gate.open()
        assert second.result(30) == [b"ping"]
    assert wait_until(lambda: gauge(client.interceptor, "active") == 0)

    def unary_ends() -> list[grpc.StatusCode]:
        return [o.code for info, o in recorder.ended if info.method == UNARY]

    assert wait_until(lambda: len(unary_ends()) == 3)
    ok, full = grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED
    assert sorted(unary_ends(), key=str) == sorted([ok, ok, full], key=str)
    assert server.behavior.calls == 2
