"""A policy reload keeps a bulkhead whose settings are unchanged (the calls holding its places
count on), and a changed one starts afresh; each side builds only the bulkheads of its side."""

from __future__ import annotations

from resilience.interceptors import ClientInterceptor, ServerInterceptor
from resilience.pipeline import Permit
from resilience.pipeline._core import NOT_RUN
from resilience.policy import Policy

GET, LIST = "/shop.Catalog/Get", "/shop.Catalog/List"


def policy(max_concurrent: int, side: str = "both") -> Policy:
    section = {"max_concurrent": max_concurrent, "side": side}
    return Policy.from_dict({"methods": {"/shop.Catalog/*": {"bulkhead": section}}})


def test_a_reload_keeps_an_unchanged_bulkhead_and_replaces_a_changed_one() -> None:
    interceptor = ServerInterceptor(policy(2), observers=())
    try:
        registry = interceptor._pipeline.registry
        first = registry.state(GET).bulkhead
        assert first is not None
        assert registry.state(LIST).bulkhead is first  # one bulkhead for the pattern
        held = first.admit_within(0)
        assert isinstance(held, Permit)
        interceptor.update_policy(policy(2))
        assert interceptor._pipeline.registry.state(GET).bulkhead is first
        assert first.active == 1  # the call holding a place still counts
        interceptor.update_policy(policy(3))
        replaced = interceptor._pipeline.registry.state(GET).bulkhead
        assert replaced is not None
        assert replaced is not first
        assert replaced.active == 0
        held.end(NOT_RUN)
        assert first.active == 0
    finally:
        interceptor.close()


def test_each_side_builds_only_its_own_bulkheads() -> None:
    server = ServerInterceptor(policy(1, side="client"), observers=())
    client = ClientInterceptor(policy(1, side="client"), observers=())
    try:
        assert server._pipeline.registry.state(GET).bulkhead is None
        assert client._pipeline.registry.state(GET).bulkhead is not None
    finally:
        server.close()
