"""Server hooks (where fault injection and traffic recording plug in) run before admission in
the call's contexts; a hook may end the call with a status, and a buggy hook is only logged."""

from __future__ import annotations

import logging
from typing import Any

import grpc
import pytest

from resilience.context import current_color, current_tier, tier, traffic_color
from resilience.policy import Policy
from resilience.testing import ECHO_METHODS, EchoBehavior, ManualClock

from .harness import Failure, Harness


def aborting(harness: Harness, code: grpc.StatusCode) -> Any:
    if harness.aio:

        async def abort_aio(method: str, metadata: Any, request: Any, context: Any) -> None:
            await context.abort(code, "injected")

        return abort_aio

    def abort(method: str, metadata: Any, request: Any, context: Any) -> None:
        context.abort(code, "injected")

    return abort


def test_hook_sees_method_metadata_and_color(harness: Harness) -> None:
    seen: list[tuple[str, str | None, str | None]] = []

    def look(method: str, metadata: dict[str, Any], request: Any, context: Any) -> None:
        seen.append((method, metadata.get("x-resilience-tier"), current_color()))

    server = harness.server(hooks=[look])
    client = harness.client(server.address)
    with traffic_color("red"), tier(3):
        client.call()

    assert seen == [(ECHO_METHODS["unary_unary"], "3", "red")]


def test_hook_can_replace_the_request(harness: Harness) -> None:
    server = harness.server(hooks=[lambda method, metadata, request, context: b"replaced"])
    client = harness.client(server.address)

    assert client.call() == [b"replaced"]


def test_aborting_hook_ends_the_call_before_admission(harness: Harness) -> None:
    policy = Policy.from_dict({"methods": {"*": {"rate_limit": {"limit": 1}}}})
    behavior = EchoBehavior()
    hooks = [aborting(harness, grpc.StatusCode.UNAVAILABLE)]
    server = harness.server(behavior=behavior, policy=policy, hooks=hooks, clock=ManualClock(1.0))
    client = harness.client(server.address)

    results = [client.call() for _ in range(3)]

    assert all(isinstance(r, Failure) and r.details == "injected" for r in results)
    assert behavior.calls == 0


def test_buggy_hook_is_logged_and_the_call_proceeds(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    def buggy(method: str, metadata: Any, request: Any, context: Any) -> None:
        raise KeyError("bug")

    server = harness.server(hooks=[buggy])
    client = harness.client(server.address)

    with caplog.at_level(logging.WARNING, logger="resilience"):
        assert client.call() == [b"ping"]
        assert client.call() == [b"ping"]

    assert len([r for r in caplog.records if r.name == "resilience"]) == 1


def test_a_plain_call_sends_no_tier_and_the_server_applies_its_own(harness: Harness) -> None:
    seen: list[tuple[str | None, int | None]] = []

    def look(method: str, metadata: dict[str, Any], request: Any, context: Any) -> None:
        seen.append((metadata.get("x-resilience-tier"), current_tier()))

    policy = Policy.from_dict({"methods": {"*": {"tier": 3}}})
    server = harness.server(policy=policy, hooks=[look])
    client = harness.client(server.address)  # its own policy says tier 2: not sent
    client.call()

    assert seen == [(None, 3)]
