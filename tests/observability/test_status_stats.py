"""The status page's call statistics and document, without a server (ManualClock, no sleeps)."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re

import grpc

from resilience.events import CallInfo, CallOutcome, GaugeReading, GaugeRegistry
from resilience.observability._stats import WINDOW, CallStats
from resilience.observability._status import status_document
from resilience.observability._status_page import CONTENT_SECURITY_POLICY, PAGE, SCRIPT, STYLE
from resilience.testing import ManualClock

OK, UNAVAILABLE = grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


def record(stats: CallStats, call: CallInfo, outcome: CallOutcome) -> None:
    stats.call_started(call)
    stats.call_ended(call, outcome)


def test_nothing_is_recorded_until_activated() -> None:
    stats = CallStats(clock=ManualClock(10.0))
    record(stats, CallInfo("server", "/a.A/X"), CallOutcome(OK, 0.1))
    assert stats.snapshot() == {}
    stats.activate()
    record(stats, CallInfo("server", "/a.A/X"), CallOutcome(OK, 0.1))
    assert list(stats.snapshot()) == [("server", "a.A/X")]


def test_rates_ratios_and_percentiles_cover_the_last_complete_seconds() -> None:
    clock = ManualClock(100.0)
    stats = CallStats(clock=clock)
    stats.activate()
    call = CallInfo("server", "/a.A/X", tier=1)
    for i in range(100):  # 100 calls in one second: 10 fail, durations 1..100 ms
        record(stats, call, CallOutcome(UNAVAILABLE if i < 10 else OK, (i + 1) / 1000))
    record(stats, call, CallOutcome(EXHAUSTED, 0.0, reject_reason="rate_limit"))
    record(stats, call, CallOutcome(EXHAUSTED, 0.0, reject_reason="made up"))
    stats.call_started(call)  # still in flight
    assert stats.snapshot()[("server", "a.A/X")]["calls_per_s"] == 0  # the second is not over
    clock.advance(1.0)
    summary = stats.snapshot()[("server", "a.A/X")]
    assert summary["calls_per_s"] == 102 / WINDOW
    assert summary["error_ratio"] == 10 / 102  # a rejection is RESOURCE_EXHAUSTED, not an error
    assert (summary["p50_s"], summary["p99_s"]) == (0.05, 0.099)
    assert summary["in_flight"] == 1
    assert summary["rejected_per_s"] == {"rate_limit": 1 / WINDOW, "other": 1 / WINDOW}
    assert summary["tiers"] == {"1": {"admitted_per_s": 100 / WINDOW, "rejected_per_s": 0.4}}
    clock.advance(WINDOW)  # everything has left the window
    summary = stats.snapshot()[("server", "a.A/X")]
    assert (summary["calls_per_s"], summary["error_ratio"], summary["p50_s"]) == (0, None, None)


def test_client_errors_count_every_non_ok_code() -> None:
    clock = ManualClock(5.0)
    stats = CallStats(clock=clock)
    stats.activate()
    record(stats, CallInfo("client", "/a.A/X"), CallOutcome(grpc.StatusCode.NOT_FOUND, 0.01))
    record(stats, CallInfo("server", "/a.A/X"), CallOutcome(grpc.StatusCode.NOT_FOUND, 0.01))
    clock.advance(1.0)
    snapshot = stats.snapshot()
    assert snapshot[("client", "a.A/X")]["error_ratio"] == 1.0
    assert snapshot[("server", "a.A/X")]["error_ratio"] == 0.0


def test_method_names_are_bounded_as_on_the_metrics() -> None:
    clock = ManualClock(5.0)
    stats = CallStats(max_methods=2, clock=clock)
    stats.activate()
    for n in range(5):
        record(stats, CallInfo("server", f"/a.A/M{n}"), CallOutcome(OK, 0.01))
    assert sorted(method for _, method in stats.snapshot()) == ["_OTHER", "a.A/M0", "a.A/M1"]


class Source:
    def __init__(self, *readings: GaugeReading) -> None:
        self.readings = readings

    def gauge_readings(self) -> tuple[GaugeReading, ...]:
        return self.readings


def test_the_document_merges_gauges_into_each_method_and_lists_the_rest() -> None:
    stats = CallStats(clock=ManualClock(5.0))
    registry = GaugeRegistry()
    server = {"method": "/a.A/X", "side": "server"}
    client = {"method": "/a.A/X", "side": "client"}
    first = Source(
        GaugeReading("breaker.drop_probability", 0.25, client),
        GaugeReading("timeout.seconds", 0.3, client),
        GaugeReading("limiter.limit", 40, server),
        GaugeReading("limiter.used", 12, {**server, "tier": "2"}),
        GaugeReading("overload.shedding", 1.0, server),
        GaugeReading("overload.shedding_tier", 1.0, {**server, "tier": "4"}),
        GaugeReading("bulkhead.active", 2.0, server),
        GaugeReading("bulkhead.queued", 1.0, server),
        GaugeReading("fault.remaining_seconds", math.inf, {"rule": "r", "side": "server"}),
        GaugeReading("failover.window", 3, {"target": "dc-b"}),
        GaugeReading("failover.attempted", 7, {"target": "dc-b"}),
        GaugeReading("limiter.fallback", 1.0, {"limit": "/a.A/*"}),
        GaugeReading("internal_errors.method state", 2, {}),
    )
    second = Source(  # another interceptor in the same process
        GaugeReading("breaker.drop_probability", 0.5, client),
        GaugeReading("bulkhead.active", 3.0, server),  # its own bulkhead: the larger shows
        GaugeReading("bulkhead.queued", 0.0, server),
        GaugeReading("fault.remaining_seconds", math.inf, {"rule": "r", "side": "server"}),
    )
    registry.register(first)
    registry.register(second)
    document = status_document(stats, registry)
    json.dumps(document, allow_nan=False)  # no infinity or NaN reaches the page
    methods = {(m["side"], m["method"]): m for m in document["methods"]}
    assert methods[("client", "a.A/X")]["breaker_drop_probability"] == 0.5
    assert methods[("client", "a.A/X")]["timeout_s"] == 0.3
    assert methods[("server", "a.A/X")]["limit"] == 40
    assert methods[("server", "a.A/X")]["tiers"] == {"2": {"limit_used": 12}}
    assert methods[("server", "a.A/X")]["shedding"] is True
    assert methods[("server", "a.A/X")]["shedding_tiers"] == ["4"]
    assert (
        methods[("server", "a.A/X")]["bulkhead_active"],
        methods[("server", "a.A/X")]["bulkhead_queued"],
    ) == (3, 1)
    assert "bulkhead_active" not in methods[("client", "a.A/X")]
    assert document["faults"] == [{"rule": "r", "side": "server", "remaining_s": None}]
    assert document["failover"] == [{"target": "dc-b", "window": 3, "attempted": 7}]
    assert document["limiter_fallback"] == [{"limit": "/a.A/*", "fallback": True}]
    assert document["internal_errors"] == {"method state": 2}


def test_the_page_is_self_contained_and_never_parses_data_as_html() -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", PAGE)  # no external asset
    assert "innerHTML" not in SCRIPT
    assert "eval(" not in SCRIPT
    assert 'fetch("status.json"' in SCRIPT
    for source in (SCRIPT, STYLE):  # the CSP allows exactly the inline script and style
        digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in CONTENT_SECURITY_POLICY
        assert source in PAGE
    assert "connect-src 'self'" in CONTENT_SECURITY_POLICY


def test_recording_stops_and_forgets_when_the_last_reader_goes() -> None:
    clock = ManualClock(5.0)
    stats = CallStats(clock=clock)
    stats.activate()
    stats.activate()  # two status pages
    record(stats, CallInfo("server", "/a.A/X"), CallOutcome(OK, 0.01))
    stats.deactivate()
    one_left = (stats.active, list(stats.snapshot()))
    stats.deactivate()
    none_left = (stats.active, stats.snapshot())
    record(stats, CallInfo("server", "/a.A/X"), CallOutcome(OK, 0.01))
    assert one_left == (True, [("server", "a.A/X")])
    assert none_left == (False, {})
    assert stats.snapshot() == {}


def test_calls_in_flight_when_the_page_stops_are_still_in_flight_when_it_starts_again() -> None:
    stats = CallStats(clock=ManualClock(10.0))
    running, done = CallInfo("server", "/a.A/X"), CallInfo("server", "/a.A/X")
    stats.activate()
    stats.call_started(running)
    record(stats, done, CallOutcome(OK, 0.1))
    stats.deactivate()
    stats.activate()
    later = CallInfo("server", "/a.A/X")
    stats.call_started(later)
    assert stats.snapshot()[("server", "a.A/X")]["in_flight"] == 2
    stats.call_ended(running, CallOutcome(OK, 0.1))
    assert stats.snapshot()[("server", "a.A/X")]["in_flight"] == 1


def test_a_call_told_of_its_start_while_stopping_is_released_by_its_end() -> None:
    stats = CallStats(clock=ManualClock(10.0))
    stats.activate()
    stats.deactivate()
    call, other = CallInfo("server", "/a.A/X"), CallInfo("server", "/a.A/X")
    stats.call_started(call)  # a holder had not yet sorted its observers again
    stats.activate()
    stats.call_started(other)
    stats.call_ended(call, CallOutcome(OK, 0.1))
    assert stats.snapshot()[("server", "a.A/X")]["in_flight"] == 1
    stats.call_ended(other, CallOutcome(OK, 0.1))
    stats.deactivate()
    stats.call_started(call)
    stats.call_ended(call, CallOutcome(OK, 0.1))
    assert stats.snapshot() == {}
