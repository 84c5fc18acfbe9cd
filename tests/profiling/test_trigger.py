"""Triggers with hysteresis on a manual clock: a profiler starts sampling once a signal has
stayed above its enter threshold for enter_after seconds and stops once it has stayed at or
below its exit threshold for exit_after seconds; nothing in between changes the state."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from resilience.policy import ProfilingSettings
from resilience.profiling import Profiler
from resilience.profiling._trigger import Hysteresis, LatencyWindow
from resilience.testing import ManualClock


def test_enters_after_the_signal_stays_high_and_leaves_after_it_stays_low() -> None:
    trigger = Hysteresis("cpu", enter=0.8, exit=0.5, enter_after=2.0, exit_after=5.0)
    assert trigger.update(0.0, 0.9) is False
    assert trigger.update(1.9, 0.9) is False
    assert trigger.update(2.0, 0.9) is True
    assert trigger.update(3.0, 0.6) is True  # between the thresholds: stays on
    assert trigger.update(4.0, 0.5) is True  # low, timer starts
    assert trigger.update(8.9, 0.4) is True
    assert trigger.update(9.0, 0.4) is False


def test_a_dip_restarts_the_timer() -> None:
    trigger = Hysteresis("cpu", enter=0.8, exit=0.5, enter_after=2.0, exit_after=5.0)
    trigger.update(0.0, 0.9)
    trigger.update(1.5, 0.7)  # below enter: the wait starts over
    assert trigger.update(3.0, 0.9) is False
    assert trigger.update(5.0, 0.9) is True


def test_no_reading_counts_as_calm() -> None:
    trigger = Hysteresis("latency", enter=0.2, exit=0.1, enter_after=0.0, exit_after=1.0)
    assert trigger.update(0.0, math.nan) is False
    assert trigger.update(1.0, 0.3) is True
    trigger.update(2.0, math.nan)
    assert trigger.update(3.0, math.nan) is False


def test_exit_above_enter_is_refused() -> None:
    with pytest.raises(ValueError, match="must not exceed"):
        Hysteresis("cpu", enter=0.5, exit=0.6, enter_after=0, exit_after=0)


def test_latency_window_p99_and_reset() -> None:
    window = LatencyWindow()
    for ms in range(1, 101):
        window.add(ms / 1000)
    assert window.quantile(0.99) == pytest.approx(0.099)
    assert math.isnan(window.quantile(0.99))  # emptied by the read


def handler_holding_the_line(lock: threading.Lock) -> None:
    lock.acquire()  # the innermost Python frame while blocked: a busy thread to the sampler


@pytest.fixture
def busy_thread() -> Iterator[None]:
    lock = threading.Lock()
    lock.acquire()
    thread = threading.Thread(target=handler_holding_the_line, args=(lock,), daemon=True)
    thread.start()
    yield
    lock.release()
    thread.join()


@pytest.mark.usefixtures("busy_thread")
def test_the_profiler_samples_only_while_triggered(tmp_path: Path) -> None:
    clock = ManualClock(100.0)
    cpu = [0.1]
    settings = ProfilingSettings(
        directory=str(tmp_path / "profiles"),
        cpu_enter=0.9,
        cpu_exit=0.5,
        enter_after=3.0,
        exit_after=5.0,
        profile_seconds=60.0,
    )
    profiler = Profiler(settings, cpu=lambda: cpu[0], clock=clock, wall=lambda: 1.7e9)
    states = []
    for second, usage in enumerate(
        [0.1, 0.95, 0.95, 0.95, 0.95, 0.7, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4]
    ):
        cpu[0] = usage
        clock.set(100.0 + second)
        profiler.step()
        states.append(profiler.state)
    assert states == ["idle"] + ["idle"] * 3 + ["triggered"] * 7 + ["idle"]
    assert profiler.profiles["cpu"] == 1  # written when sampling stopped
    [path] = profiler.store.files()
    from resilience.profiling import read_profile

    profile = read_profile(Path(path).read_bytes())
    held = [s for s in profile.samples if s.stack[0][0] == "handler_holding_the_line"]
    assert sum(s.values[0] for s in held) == 7  # one sample per step while triggered


def test_baseline_and_on_demand(tmp_path: Path) -> None:
    clock = ManualClock(0.0)
    settings = ProfilingSettings(directory=str(tmp_path), baseline_rate=1.0, rate=50)
    profiler = Profiler(settings, clock=clock)
    assert profiler.step() == pytest.approx(1.0)  # baseline: 1 Hz
    assert profiler.state == "baseline"
    profiler.profile_for(5)
    assert profiler.step() == pytest.approx(0.02)  # on demand: 50 Hz
    assert profiler.state == "on_demand"
    clock.advance(6)
    profiler.step()
    assert profiler.state == "baseline"
    with pytest.raises(ValueError, match="seconds"):
        profiler.profile_for(0)


def test_the_inflight_trigger_counts_registered_calls(tmp_path: Path) -> None:
    from resilience.context import CallContext
    from resilience.profiling import _calls

    class Call:
        def __init__(self) -> None:
            self.call_context = CallContext(method="/a.B/C")
            self.otel_context = None

    clock = ManualClock(0.0)
    settings = ProfilingSettings(
        directory=str(tmp_path), inflight_enter=2, inflight_exit=0, enter_after=0, exit_after=0
    )
    profiler = Profiler(settings, clock=clock)
    _calls.arm()
    calls = [Call(), Call()]
    keys = [_calls.begin(calls[0], False), ("other-thread",)]
    _calls._calls[keys[1]] = calls[1]
    profiler.step()
    assert profiler.state == "triggered"
    for key, call in zip(keys, calls, strict=True):
        assert key is not None
        _calls.end(key, call, 0.01)
    clock.advance(1)
    profiler.step()
    assert profiler.state == "idle"
