"""A policy reload keeps a bulkhead whose settings are unchanged, and changes one whose numbers
changed in place (the calls holding its places count against the new limit); an in-process
rate limit whose limit alone changed keeps its window's count; each side builds only the
bulkheads of its side."""

from __future__ import annotations

from resilience.interceptors import ClientInterceptor, ServerInterceptor
from resilience.pipeline import Bulkhead, Permit, Rejection
from resilience.pipeline._core import NOT_RUN
from resilience.policy import Policy
from resilience.testing import ManualClock

GET, LIST = "/shop.Catalog/Get", "/shop.Catalog/List"


def policy(max_concurrent: int, side: str = "both") -> Policy:
    section = {"max_concurrent": max_concurrent, "side": side}
    return Policy.from_dict({"methods": {"/shop.Catalog/*": {"bulkhead": section}}})


def test_a_reload_keeps_an_unchanged_bulkhead_and_resizes_a_changed_one() -> None:
    interceptor = ServerInterceptor(policy(2), observers=())
    try:
        registry = interceptor._pipeline.registry
        first = registry.state(GET).bulkhead
        assert first is not None
        assert registry.state(LIST).bulkhead is first  # one bulkhead for the pattern
        held = [first.admit_within(0), first.admit_within(0)]
        assert isinstance(held[0], Permit)
        assert isinstance(held[1], Permit)
        interceptor.update_policy(policy(2))
        assert interceptor._pipeline.registry.state(GET).bulkhead is first
        interceptor.update_policy(policy(1))
        resized = interceptor._pipeline.registry.state(GET).bulkhead
        assert resized is first  # the calls holding places count against the new limit
        assert first.active == 2
        assert isinstance(first.admit_within(0), Rejection)
        held[0].end(NOT_RUN)
        assert isinstance(first.admit_within(0), Rejection)  # 1 still runs, the limit is 1
        held[1].end(NOT_RUN)
        assert first.active == 0
        again = first.admit_within(0)
        assert isinstance(again, Permit)
        again.end(NOT_RUN)
    finally:
        interceptor.close()


def test_a_raised_limit_lets_queued_calls_in_at_once() -> None:
    bulkhead = Bulkhead(1, max_queue=2)
    held = bulkhead.admit_within(0)
    assert isinstance(held, Permit)
    waiters = [bulkhead._enter(None) for _ in range(2)]
    assert bulkhead.queued == 2
    bulkhead.resize(2, max_queue=2)
    assert (bulkhead.active, bulkhead.queued) == (2, 1)
    assert [getattr(w, "granted", None) for w in waiters] == [True, False]


def test_a_bulkhead_with_another_key_starts_afresh() -> None:
    renamed = Policy.from_dict(
        {"methods": {"/shop.Catalog/*": {"bulkhead": {"max_concurrent": 2, "key": "db"}}}}
    )
    interceptor = ServerInterceptor(policy(2), observers=())
    try:
        first = interceptor._pipeline.registry.state(GET).bulkhead
        assert first is not None
        interceptor.update_policy(renamed)
        other = interceptor._pipeline.registry.state(GET).bulkhead
        assert other is not None
        assert other is not first
    finally:
        interceptor.close()


def limited(limit: int, window: float = 1.0) -> Policy:
    section = {"limit": limit, "window": window}
    return Policy.from_dict({"methods": {"/shop.Catalog/*": {"rate_limit": section}}})


def test_a_reload_that_changes_only_the_limit_keeps_the_window_count() -> None:
    interceptor = ServerInterceptor(limited(2), observers=(), clock=ManualClock(100.0))
    try:
        limiter = interceptor._pipeline.registry.state(GET).limiter
        assert limiter is not None
        assert limiter.try_acquire(2).allowed
        assert limiter.try_acquire(2).allowed
        interceptor.update_policy(limited(3))
        raised = interceptor._pipeline.registry.state(GET).limiter
        assert raised is limiter  # the two admissions of this window still count
        assert raised.try_acquire(2).allowed
        assert not raised.try_acquire(2).allowed
        interceptor.update_policy(limited(3, window=2.0))
        fresh = interceptor._pipeline.registry.state(GET).limiter
        assert fresh is not limiter  # another window: counted afresh
        assert fresh is not None
        assert fresh.try_acquire(2).allowed
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
