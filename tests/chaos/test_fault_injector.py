"""FaultInjector decisions: off by default, percentages, delays, aborts, colors, atomic swaps."""

from __future__ import annotations

import asyncio
import math
import random
import threading
from typing import Any

import grpc
import pytest
from google.rpc import status_pb2

from resilience._base.keys import REJECT
from resilience.chaos import Fault, FaultInjector, FaultRule, aio_apply_fault, apply_fault
from resilience.chaos._apply import aio_delay_within, delay_within
from resilience.chaos._injector import InjectorRegistry
from resilience.errors import ConfigError
from resilience.testing import ManualClock

ABORT = FaultRule(abort=grpc.StatusCode.UNAVAILABLE, message="chaos")


def test_off_until_the_server_enables_it() -> None:
    injector = FaultInjector([ABORT])
    assert injector.pick("server", "/a.B/C", "loadtest") is None
    injector.enable()
    assert injector.pick("server", "/a.B/C", None) == Fault(
        0.0, grpc.StatusCode.UNAVAILABLE, "chaos", "*"
    )
    injector.disable()
    assert injector.pick("server", "/a.B/C", None) is None


@pytest.mark.parametrize("percentage", [1.0, 30.0, 75.0])
def test_percentage_within_four_sigma_of_the_binomial(percentage: float) -> None:
    rule = FaultRule(percentage=percentage, abort=grpc.StatusCode.INTERNAL)
    injector = FaultInjector([rule], rng=random.Random(7), enabled=True)
    n, p = 20_000, percentage / 100
    hits = sum(injector.pick("server", "/a.B/C", None) is not None for _ in range(n))
    sigma = math.sqrt(n * p * (1 - p))
    assert abs(hits - n * p) <= 4 * sigma


def test_the_same_seed_gives_the_same_faults() -> None:
    rule = FaultRule(percentage=50, delay=(0.0, 1.0))

    def run() -> list[Fault | None]:
        injector = FaultInjector([rule], rng=random.Random(42), enabled=True)
        return [injector.pick("server", "/a.B/C", None) for _ in range(200)]

    assert run() == run()


def test_random_delays_stay_in_range_and_fixed_delays_add_up() -> None:
    ranged = FaultInjector([FaultRule(delay=(0.1, 0.3))], rng=random.Random(1), enabled=True)
    delays = [ranged.pick("server", "/a.B/C", None).delay for _ in range(500)]  # type: ignore[union-attr]
    assert all(0.1 <= d <= 0.3 for d in delays)
    assert max(delays) - min(delays) > 0.1
    stacked = FaultInjector(
        [FaultRule(delay=0.2, name="slow"), FaultRule(delay=0.05, abort=grpc.StatusCode.INTERNAL)],
        enabled=True,
    )
    fault = stacked.pick("server", "/a.B/C", None)
    assert fault is not None
    assert fault.delay == pytest.approx(0.25)
    assert fault.code is grpc.StatusCode.INTERNAL
    assert fault.rule == "*"


def test_color_scoped_rules_only_touch_that_color() -> None:
    rule = FaultRule(color="loadtest", abort=grpc.StatusCode.UNAVAILABLE)
    injector = FaultInjector([rule], enabled=True, allowed_colors=["loadtest"])
    assert injector.pick("server", "/a.B/C", "loadtest") is not None
    assert injector.pick("server", "/a.B/C", None) is None
    assert injector.pick("server", "/a.B/C", "prod") is None


def test_a_color_the_server_did_not_allow_cannot_receive_faults() -> None:
    rule = FaultRule(color="chaos", abort=grpc.StatusCode.UNAVAILABLE)
    with pytest.raises(ConfigError, match=r"rules\[0\].color: 'chaos' is not in allowed_colors"):
        FaultInjector([rule], enabled=True)
    injector = FaultInjector(enabled=True, allowed_colors=["loadtest"])
    with pytest.raises(ConfigError, match="allowed_colors"):
        injector.replace_rules([rule])
    assert injector.rules == ()


def test_enable_for_a_bounded_time_lapses_by_itself() -> None:
    clock = ManualClock()
    injector = FaultInjector([ABORT], clock=clock)
    injector.enable(for_seconds=5.0)
    assert injector.pick("server", "/a.B/C", None) is not None
    clock.advance(5.0)
    assert not injector.enabled
    assert injector.pick("server", "/a.B/C", None) is None


def test_replace_rules_returns_the_previous_rules_and_keeps_the_switch() -> None:
    injector = FaultInjector([ABORT], enabled=True)
    slow = FaultRule(delay=0.1)
    assert injector.replace_rules([slow]) == (ABORT,)
    assert injector.enabled
    assert injector.pick("server", "/a.B/C", None) == Fault(delay=0.1, rule="*")


def test_a_swap_is_seen_whole_by_concurrent_callers() -> None:
    set_a = [FaultRule(delay=1.0), FaultRule(abort=grpc.StatusCode.INTERNAL, message="a")]
    set_b = [FaultRule(delay=2.0), FaultRule(abort=grpc.StatusCode.UNKNOWN, message="b")]
    injector = FaultInjector(set_a, enabled=True)
    consistent = {(1.0, "a"), (2.0, "b")}
    seen: set[tuple[float, str]] = set()
    done = threading.Event()

    def swap() -> None:
        for i in range(2000):
            injector.replace_rules(set_b if i % 2 else set_a)
        done.set()

    swapper = threading.Thread(target=swap)
    swapper.start()
    while not done.is_set():
        fault = injector.pick("server", "/a.B/C", None)
        assert fault is not None
        seen.add((fault.delay, fault.message))
    swapper.join()
    assert seen <= consistent


class FakeContext:
    def __init__(self) -> None:
        self.trailers: Any = None
        self.aborted: tuple[grpc.StatusCode, str] | None = None

    def set_trailing_metadata(self, trailers: Any) -> None:
        self.trailers = trailers

    def abort(self, code: grpc.StatusCode, details: str, trailing_metadata: Any = None) -> None:
        self.aborted = (code, details)
        if trailing_metadata is not None:
            self.trailers = trailing_metadata
        raise RuntimeError("aborted")


def test_apply_sync_sleeps_then_aborts_with_the_fault_trailer() -> None:
    slept: list[float] = []
    context = FakeContext()
    fault = Fault(0.25, grpc.StatusCode.UNAVAILABLE, "chaos")
    with pytest.raises(RuntimeError, match="aborted"):
        apply_fault(fault, context, sleep=slept.append)  # type: ignore[arg-type]
    assert slept == [0.25]
    assert context.aborted == (grpc.StatusCode.UNAVAILABLE, "chaos")
    trailers = dict(context.trailers)
    assert trailers[REJECT] == "fault"
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    assert (status.code, status.message) == (grpc.StatusCode.UNAVAILABLE.value[0], "chaos")


def test_apply_aio_awaits_the_delay_and_a_delay_only_fault_does_not_abort() -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    async def scenario() -> FakeContext:
        context = FakeContext()
        await aio_apply_fault(Fault(delay=0.5), context, sleep=fake_sleep)  # type: ignore[arg-type]
        return context

    context = asyncio.run(scenario())
    assert slept == [0.5]
    assert context.aborted is None


def test_registry_finds_injectors_by_name() -> None:
    registry = InjectorRegistry()
    injector = registry.register("orders", FaultInjector())
    assert registry.get("orders") is injector
    with pytest.raises(LookupError, match=r"known: \['orders'\]"):
        registry.get("nope")
    registry.unregister("orders")
    assert registry.names() == []


def test_gauge_readings_give_each_active_rule_its_seconds_left() -> None:
    clock = ManualClock(100.0)
    rules = [
        FaultRule(method="/a.A/*", name="slow-a", delay=0.1),
        FaultRule(method="/b.B/X", side="client", delay=0.1),
        FaultRule(method="/c.C/*", side="both", delay=0.1),
    ]
    injector = FaultInjector(rules, clock=clock)
    assert list(injector.gauge_readings("server")) == []  # switched off: nothing is active
    assert injector.remaining() == 0.0
    injector.enable(for_seconds=30)
    clock.advance(10)
    server = [(r.name, r.value, dict(r.attributes)) for r in injector.gauge_readings("server")]
    assert server == [
        ("fault.remaining_seconds", 20.0, {"rule": "slow-a", "side": "server"}),
        ("fault.remaining_seconds", 20.0, {"rule": "/c.C/*", "side": "server"}),
    ]
    assert [r.attributes["rule"] for r in injector.gauge_readings("client")] == [
        "/b.B/X",
        "/c.C/*",
    ]
    clock.advance(20)  # lapsed
    assert list(injector.gauge_readings("server")) == []
    injector.enable()  # no lapse
    assert injector.remaining() is None
    assert {r.value for r in injector.gauge_readings("server")} == {math.inf}


class _Sleeper:
    """A sleep that only moves a fake clock: the delay is measured, never waited."""

    def __init__(self, oversleep: float = 0.0) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self.oversleep = oversleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds + self.oversleep

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "aio"])
@pytest.mark.parametrize(
    ("delay", "timeout", "slept", "left"),
    [
        (0.3, 5.0, [0.3], 4.7),  # the call goes out with what the delay left
        (3.0, 0.2, [0.2], 0.0),  # cut at the timeout: nothing left
        (0.3, None, [0.3], None),  # no timeout: the whole delay
        (0.0, 5.0, [], 5.0),  # no delay: nothing waited, nothing used up
    ],
)
def test_a_client_delay_uses_up_the_timeout(
    aio: bool, delay: float, timeout: float | None, slept: list[float], left: float | None
) -> None:
    fault = Fault(rule="r", delay=delay)
    sleeper = _Sleeper()
    if aio:
        got = asyncio.run(
            aio_delay_within(fault, timeout, sleep=sleeper.asleep, clock=sleeper.clock)
        )
    else:
        got = delay_within(fault, timeout, sleep=sleeper.sleep, clock=sleeper.clock)
    assert sleeper.slept == slept
    assert got == pytest.approx(left) if left is not None else got is None


def test_a_late_wake_up_counts_against_the_timeout_too() -> None:
    sleeper = _Sleeper(oversleep=0.5)  # the host kept the thread from running
    got = delay_within(Fault(rule="r", delay=0.3), 0.6, sleep=sleeper.sleep, clock=sleeper.clock)
    assert got == 0.0
