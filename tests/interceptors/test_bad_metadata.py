"""Malformed or oversized metadata from the network is ignored (debug log only): the call
succeeds and the handler sees no color, trace or tier from it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import baggage, trace

from resilience._base.keys import COLOR_BAGGAGE
from resilience.context import current_call_context
from resilience.policy import Policy
from resilience.testing import EchoBehavior

from .harness import Harness

TRUSTING = Policy.from_dict({"trusted_peers": ["127.0.0.1/32", "::1/128"]})
SPAN = "a" * 32 + "-" + "b" * 16

BAD = {
    "traceparent garbage": ("traceparent", "garbage"),
    "traceparent zero ids": ("traceparent", "00-" + "0" * 32 + "-" + "0" * 16 + "-01"),
    "traceparent oversized": ("traceparent", f"00-{SPAN}-01-" + "x" * 600),
    "tracestate oversized": ("tracestate", "k=" + "v" * 600),
    "tier 0": ("x-resilience-tier", "0"),
    "tier abc": ("x-resilience-tier", "abc"),
    "tier 5": ("x-resilience-tier", "5"),
    "tier empty": ("x-resilience-tier", ""),
    "color non-ascii": ("baggage", f"{COLOR_BAGGAGE}=%C3%A9t%C3%A9"),
    "color 10 KB": ("baggage", f"{COLOR_BAGGAGE}=" + "a" * 10240),
    "color too long": ("baggage", f"{COLOR_BAGGAGE}=" + "a" * 65),
    "color bad escape": ("baggage", f"{COLOR_BAGGAGE}=%ZZ"),
    "color with spaces": ("baggage", f"{COLOR_BAGGAGE}=a%20b"),
    "baggage garbage": ("baggage", ";;==,,garbage"),
    "failover mark yes": ("x-resilience-failover", "yes"),
}


@dataclass
class Seen:
    color: str | None
    tier: int | None
    failover: bool
    trace_id: int
    baggage_color: object


def look(seen: list[Seen]) -> Any:
    def on_call(request: bytes, context: Any) -> None:
        ctx = current_call_context()
        trace_id = trace.get_current_span().get_span_context().trace_id
        seen.append(
            Seen(ctx.color, ctx.tier, ctx.failover, trace_id, baggage.get_baggage(COLOR_BAGGAGE))
        )

    return on_call


@pytest.mark.parametrize("entry", list(BAD.values()), ids=list(BAD))
def test_bad_metadata_is_ignored_without_warnings(
    harness: Harness, entry: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Seen] = []
    server = harness.server(behavior=EchoBehavior(on_call=look(seen)), policy=TRUSTING)
    client = harness.client(server.address, plain=True)

    with caplog.at_level(logging.DEBUG):
        result = client.call(metadata=[entry])

    assert result == [b"ping"]
    assert seen == [Seen(None, 2, False, 0, None)]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_good_metadata_from_a_trusted_peer_is_honored(harness: Harness) -> None:
    seen: list[Seen] = []
    server = harness.server(behavior=EchoBehavior(on_call=look(seen)), policy=TRUSTING)
    client = harness.client(server.address, plain=True)

    client.call(
        metadata=[
            ("traceparent", f"00-{SPAN}-01"),
            ("baggage", f"other=1,{COLOR_BAGGAGE}=blue"),
            ("x-resilience-tier", "1"),
            ("x-resilience-failover", "1"),
        ]
    )

    assert seen == [Seen("blue", 1, True, int("a" * 32, 16), "blue")]
