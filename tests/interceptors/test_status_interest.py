"""The status page's statistics cost the calls nothing until a page is served: the interceptors
and the protected channel and server do not call them at all, then count every call that starts
from the moment the page starts (exactly: a call that started before is counted neither in
flight nor when it ends)."""

from __future__ import annotations

import threading
import time
from typing import Any

from resilience.events import CallInfo, CallOutcome
from resilience.observability._stats import CallStats
from resilience.testing import ECHO_METHODS, ManualClock

from .harness import Client, Gate, Harness, Recorder

UNARY = ECHO_METHODS["unary_unary"].lstrip("/")


class HeardStats(CallStats):
    """The status statistics, keeping which reports reached them."""

    def __init__(self) -> None:
        self.clock = ManualClock(100.0)
        super().__init__(clock=self.clock)
        self.heard: list[tuple[str, str]] = []

    def call_started(self, call: CallInfo) -> None:
        self.heard.append(("start", call.side))
        super().call_started(call)

    def call_ended(self, call: CallInfo, outcome: CallOutcome) -> None:
        self.heard.append(("end", call.side))
        super().call_ended(call, outcome)

    def summary(self, side: str) -> Any:
        return self.snapshot()[(side, UNARY)]


def _wait(condition: Any, what: str) -> None:
    """Wait for the gRPC threads to get somewhere (a bound on a hang, not a timing check)."""
    deadline = time.monotonic() + 10.0
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.005)


def test_no_page_no_report_then_every_call_is_counted(harness: Harness) -> None:
    stats, done = HeardStats(), Recorder()
    server = harness.server(observers=[stats, done])
    client = harness.client(server.address, observers=[stats, done])

    client.call()
    done.wait_ended(2)
    assert stats.heard == []

    stats.activate()
    try:
        client.call()
        done.wait_ended(4)
        assert sorted(stats.heard) == [
            ("end", "client"),
            ("end", "server"),
            ("start", "client"),
            ("start", "server"),
        ]
    finally:
        stats.deactivate()
    client.call()
    done.wait_ended(6)
    assert len(stats.heard) == 4


def test_a_call_started_before_the_page_is_not_counted(harness: Harness) -> None:
    stats, done, gate = HeardStats(), Recorder(), Gate()
    server = harness.server(behavior=gate.behavior(harness.aio), observers=[stats, done])
    client = harness.client(server.address, observers=[stats, done])

    def held(client: Client) -> threading.Thread:
        thread = threading.Thread(target=client.call)
        thread.start()
        return thread

    before = held(client)
    _wait(lambda: gate.entered == 1, "the first call to reach the handler")
    stats.activate()
    try:
        after = held(client)
        _wait(lambda: gate.entered == 2, "the second call to reach the handler")
        assert stats.summary("client")["in_flight"] == 1
        assert stats.summary("server")["in_flight"] == 1

        gate.open()
        before.join(10.0)
        after.join(10.0)
        done.wait_ended(4)
        stats.clock.advance(1.0)  # the second they ended in is over
        for side in ("client", "server"):
            summary = stats.summary(side)
            assert (summary["in_flight"], summary["calls_per_s"]) == (0, 0.2), side
    finally:
        stats.deactivate()


def test_calls_in_flight_stay_exact_across_a_page_stopped_and_started_again(
    harness: Harness,
) -> None:
    stats, done, gate = HeardStats(), Recorder(), Gate()
    server = harness.server(behavior=gate.behavior(harness.aio), observers=[stats, done])
    client = harness.client(server.address, observers=[stats, done])
    threads: list[threading.Thread] = []

    def held() -> None:
        thread = threading.Thread(target=client.call)
        thread.start()
        threads.append(thread)
        _wait(lambda: gate.entered == len(threads), f"call {len(threads)} to reach the handler")

    stats.activate()
    held()  # started while the first page was served
    stats.deactivate()
    stats.activate()
    try:
        held()  # started while the second page is served
        for side in ("client", "server"):
            assert stats.summary(side)["in_flight"] == 2, side
        gate.open()
        for thread in threads:
            thread.join(10.0)
        done.wait_ended(4)
        for side in ("client", "server"):
            assert stats.summary(side)["in_flight"] == 0, side
    finally:
        stats.deactivate()
