"""Run a failover scenario on a :class:`ManualClock`, deterministically, period by period.

The run drives the very decision path the channels use (:class:`FailoverCore` over an
:class:`~resilience.algorithms.AdaptiveRetryWindow`), with outcomes drawn instead of RPCs: each
local request fails with the scenario's local failure rate, each admitted failover succeeds
with the remote health. With the same scenario and seed, every run gives the same rows.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import grpc

from resilience._base.clock import ManualClock
from resilience.algorithms import AdaptiveRetryWindow
from resilience.failover._core import DEFAULT_FAILOVER_CODES, FailoverCore
from resilience.failover._switches import FailoverSwitches
from resilience.tools.simulate.scenario import Scenario

_METHOD = "/simulated.Service/Read"


@dataclass(frozen=True, slots=True)
class PeriodRow:
    """One period of a run: ``t`` its start (seconds), ``window`` f at its start, ``traffic``
    local requests, failovers ``wanted`` (local failures) / ``admitted`` / ``refused`` /
    ``succeeded``, and the remote health in force."""

    t: float
    window: int
    traffic: int
    wanted: int
    admitted: int
    refused: int
    succeeded: int
    remote_health: float

    @property
    def success(self) -> float:
        """End-to-end success: requests answered, locally or by a failover, per request."""
        if not self.traffic:
            return 1.0
        return (self.traffic - self.wanted + self.succeeded) / self.traffic

    @property
    def amplification(self) -> float:
        """Attempts sent to either center per request: 1 + admitted / traffic."""
        return 1.0 + self.admitted / self.traffic if self.traffic else 1.0


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """The scenario and its rows, one per period."""

    scenario: Scenario
    rows: tuple[PeriodRow, ...]


class _Status(Exception):
    """A drawn failure, carrying its status code like a gRPC error."""

    def __init__(self, code: grpc.StatusCode) -> None:
        super().__init__(code.name)
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code


class _EveryMethodIsARead:
    read = True
    failover = True

    def settings_for(self, method: str) -> _EveryMethodIsARead:
        return self


class _Draw:
    """Bernoulli draws: seeded random, or "even" (error diffusion: exactly rate * n over n)."""

    def __init__(self, spread: str, rng: random.Random) -> None:
        self._even = spread == "even"
        self._rng = rng
        self._debt = 0.0

    def __call__(self, rate: float) -> bool:
        if not self._even:
            return self._rng.random() < rate
        self._debt += rate
        if self._debt >= 1.0 - 1e-9:
            self._debt -= 1.0
            return True
        return False


def run_failover(scenario: Scenario, *, seed: int | None = None) -> SimulationResult:
    """Simulate ``scenario`` (``seed`` overrides its own) and return one row per period."""
    clock = ManualClock()
    window = AdaptiveRetryWindow(scenario.period, clock=clock, **scenario.window)
    core = FailoverCore(
        policy=_EveryMethodIsARead(),
        window=window,
        switches=FailoverSwitches(),
        failover_codes=DEFAULT_FAILOVER_CODES,
        target="simulated",
        observers=(),
        max_replay_messages=0,
        max_replay_bytes=0,
    )
    rng = random.Random(scenario.seed if seed is None else seed)
    local_fails, remote_fails = _Draw(scenario.spread, rng), _Draw(scenario.spread, rng)
    unavailable = _Status(grpc.StatusCode.UNAVAILABLE)
    rows = []
    for index in range(scenario.periods):
        t = index * scenario.period
        clock.set(t)
        traffic = int(scenario.traffic.at(t))
        failure_rate = scenario.local_failure.at(t)
        health = scenario.remote_health.at(t)
        before = core.stats()
        for _ in range(traffic):
            plan = core.start(_METHOD, None, None)
            if plan is None or not local_fails(failure_rate):
                continue
            if core.admit(plan, unavailable):
                core.finish(plan, unavailable if remote_fails(1.0 - health) else None)
        after = core.stats()
        rows.append(
            PeriodRow(
                t=t,
                window=before.window,
                traffic=traffic,
                wanted=after.attempted - before.attempted,
                admitted=after.admitted - before.admitted,
                refused=after.refused - before.refused,
                succeeded=after.succeeded - before.succeeded,
                remote_health=health,
            )
        )
    return SimulationResult(scenario, tuple(rows))


def window_recurrence(
    traffic: int,
    periods: int,
    *,
    wanted: int | None = None,
    success_threshold: float = 0.98,
    growth_ratio: float = 0.01,
    initial: int = 1,
    success: float = 1.0,
) -> list[int]:
    """f(0..periods-1) by the adaptive retry window's rule, computed directly (no window
    object): each period has ``traffic`` requests and ``wanted`` failovers (default: enough to
    use the window up), whose success rate is ``success``. Used to check runs and tests against
    the rule."""
    sizes = [initial]
    while len(sizes) < periods:
        f = sizes[-1]
        used = f if wanted is None else min(wanted, f)
        if success >= success_threshold:
            if used >= f:
                f += max(min(math.floor(growth_ratio * traffic), f), 1)
        else:
            f = max(1, f // 2)
        sizes.append(f)
    return sizes
