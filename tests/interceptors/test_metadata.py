"""What the client writes on the wire and what the server reads back, without a network."""

from __future__ import annotations

from opentelemetry import baggage, trace
from opentelemetry.context import attach, detach
from opentelemetry.sdk.trace import TracerProvider

from resilience._base.keys import COLOR_BAGGAGE, FAILOVER, TIER
from resilience.interceptors._metadata import extract_context, incoming, outgoing


def test_nothing_to_carry_adds_only_the_tier() -> None:
    assert outgoing(None, color=None, tier=3, failover=False) == [(TIER, "3")]


def test_existing_metadata_is_kept_first() -> None:
    result = outgoing([("a", "1")], color=None, tier=1, failover=True)
    assert result == [("a", "1"), (TIER, "1"), (FAILOVER, "1")]


def test_an_existing_failover_mark_is_not_repeated() -> None:
    result = outgoing([(FAILOVER, "1")], color=None, tier=2, failover=True)
    assert [key for key, _ in result].count(FAILOVER) == 1


def test_color_rides_baggage_next_to_other_entries() -> None:
    token = attach(baggage.set_baggage("tenant", "acme"))
    try:
        result = dict(outgoing(None, color="load.test-1", tier=2, failover=False))
    finally:
        detach(token)
    entries = set(result["baggage"].split(","))
    assert entries == {"tenant=acme", f"{COLOR_BAGGAGE}=load.test-1"}


def test_active_span_is_written_as_traceparent_and_read_back() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("call") as span:
        written = outgoing(None, color="red", tier=2, failover=False)

    found = incoming(written)
    ctx = extract_context(found)

    assert found.color == "red"
    assert found.tier == 2
    remote = trace.get_current_span(ctx).get_span_context()
    assert remote.trace_id == span.get_span_context().trace_id
    assert baggage.get_baggage(COLOR_BAGGAGE, ctx) == "red"


def test_an_invalid_color_is_dropped_from_the_forwarded_baggage() -> None:
    found = incoming([("baggage", f"keep=1,{COLOR_BAGGAGE}=a%20b")])

    ctx = extract_context(found)

    assert found.color is None
    assert found.bad_color
    assert baggage.get_all(ctx) == {"keep": "1"}
