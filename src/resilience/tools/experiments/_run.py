"""Running a chaos experiment and reporting what the load saw in each phase.

The load runs for baseline + duration + recovery seconds. After ``baseline`` the faults are
switched on (with a time-to-live of ``duration`` plus a small grace, enforced by the injector
itself), after ``duration`` more the previous rules and switch are restored. Calls are then
split into phases by start time: the faults phase runs from the moment the faults were asked
for to the moment their removal was acknowledged, so a baseline or recovery call sees a fault
only if it was already in flight when the faults came on (at most the load's concurrency), and
every call of the recovery phase started after the old rules were back. The report compares
the phases: status codes, reject reasons
(``x-resilience-reject``), p50/p99 latency and its shift from the baseline, and, when the
experiment names a Prometheus endpoint, how the ``resilience_*`` series changed.
"""

from __future__ import annotations

import random
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

from resilience.chaos._admin import call_admin, state_of
from resilience.chaos._injector import FaultInjector
from resilience.chaos._rules import FaultRule, rules_from_dicts
from resilience.tools.experiments._experiment import Experiment
from resilience.tools.loadtest.engine import Tick
from resilience.tools.loadtest.flow import CallSource, Flow, ReplaySource, WeightedPicker
from resilience.tools.loadtest.report import Report, Results
from resilience.tools.loadtest.run import run_load

TTL_GRACE = 5.0
MAX_METRICS_BYTES = 4 << 20


class FaultSwitch(Protocol):
    """Turns an injector's faults on and restores its previous state."""

    def switch_on(self, rules: tuple[FaultRule, ...], ttl: float) -> dict[str, Any]:
        """Apply ``rules``, enabled for ``ttl`` seconds; return the previous state."""

    def restore(self, previous: dict[str, Any]) -> None:
        """Put back the state :meth:`switch_on` returned."""


class InProcessSwitch:
    """Switches an injector of this process (tests, or a runner embedded in the service)."""

    def __init__(self, injector: FaultInjector) -> None:
        self._injector = injector

    def switch_on(self, rules: tuple[FaultRule, ...], ttl: float) -> dict[str, Any]:
        previous = state_of(self._injector)
        self._injector.switch(rules, enabled=True, for_seconds=ttl)
        return previous

    def restore(self, previous: dict[str, Any]) -> None:
        rules = rules_from_dicts(previous["rules"], where="rules")
        self._injector.switch(rules, enabled=previous["enabled"])


class AdminSwitch:
    """Switches an injector of a running service through its admin service."""

    def __init__(self, admin: str, injector: str, token: str) -> None:
        self._admin, self._injector, self._token = admin, injector, token

    def switch_on(self, rules: tuple[FaultRule, ...], ttl: float) -> dict[str, Any]:
        request = {
            "injector": self._injector,
            "rules": [rule.to_dict() for rule in rules],
            "enabled": True,
            "ttl": ttl,
        }
        previous: dict[str, Any] = call_admin(self._admin, request, token=self._token)["previous"]
        return previous

    def restore(self, previous: dict[str, Any]) -> None:
        call_admin(self._admin, {"injector": self._injector, **previous}, token=self._token)


@dataclass(frozen=True, slots=True)
class ExperimentReport:
    """Per-phase reports (``baseline``, ``faults``, ``recovery``; empty phases left out) and
    the changed ``resilience_*`` metric series (after minus before)."""

    name: str
    phases: dict[str, Report]
    metrics: dict[str, float]

    def latency_shift(self) -> tuple[float, float] | None:
        """(p50, p99) of the fault phase minus the baseline's, in seconds; None without both."""
        base, hit = self.phases.get("baseline"), self.phases.get("faults")
        if base is None or hit is None or not base.calls or not hit.calls:
            return None
        return hit.p50 - base.p50, hit.p99 - base.p99

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        shift = self.latency_shift()
        return {
            "name": self.name,
            "phases": {name: report.to_dict() for name, report in self.phases.items()},
            "latency_shift": None if shift is None else {"p50": shift[0], "p99": shift[1]},
            "metrics": self.metrics,
        }

    def to_text(self) -> str:
        """A table of the phases, the latency shift and the metric changes."""
        lines = [f"experiment  {self.name}", f"{'phase':<9} {'calls':>6} {'not OK':>7} "
                 f"{'p50 ms':>8} {'p99 ms':>8}  status / rejects"]  # fmt: skip
        for name, r in self.phases.items():
            codes = " ".join(f"{k} {v}" for k, v in r.codes.items())
            rejects = " ".join(f"{k} {v}" for k, v in r.reject_reasons.items()) or "-"
            lines.append(
                f"{name:<9} {r.calls:>6} {r.errors:>7} {r.p50 * 1e3:>8.2f} {r.p99 * 1e3:>8.2f}"
                f"  {codes} / {rejects}"
            )
        shift = self.latency_shift()
        if shift is not None:
            lines.append(
                f"latency shift under faults: p50 {shift[0] * 1e3:+.2f} ms, "
                f"p99 {shift[1] * 1e3:+.2f} ms"
            )
        for series, delta in self.metrics.items():
            lines.append(f"metric  {series}  {delta:+g}")
        return "\n".join(lines)


def load_source(experiment: Experiment) -> CallSource:
    """The call source an experiment's ``[load]`` table names."""
    if experiment.flow is not None:
        return WeightedPicker(Flow.load(experiment.flow), rng=random.Random(experiment.seed))
    return ReplaySource.load(experiment.replay)


def run_experiment(
    experiment: Experiment,
    switch: FaultSwitch,
    *,
    source: CallSource | None = None,
    on_tick: Tick | None = None,
) -> ExperimentReport:
    """Run the load, switch the faults on and back, and report each phase."""
    source = source if source is not None else load_source(experiment)
    before = scrape(experiment.metrics) if experiment.metrics else {}
    results = Results()
    load = threading.Thread(
        target=run_load,
        args=(experiment.target, source, experiment.load),
        kwargs={"engine": experiment.engine, "results": results, "on_tick": on_tick},
        daemon=True,
    )
    load.start()
    time.sleep(experiment.baseline)
    switched_on = time.monotonic()  # asked for: no call that starts later is a baseline call
    previous = switch.switch_on(experiment.rules, experiment.duration + TTL_GRACE)
    try:
        time.sleep(experiment.duration)
    finally:
        switch.restore(previous)
        switched_off = time.monotonic()  # acknowledged: later calls meet the old rules
    load.join()
    after = scrape(experiment.metrics) if experiment.metrics else {}
    started = results.started if results.started is not None else switched_on
    bounds = (switched_on - started, switched_off - started)
    return ExperimentReport(experiment.name, split(results, bounds), changed(before, after))


def split(results: Results, bounds: tuple[float, float]) -> dict[str, Report]:
    """Per-phase reports of calls that started before, between and after ``bounds`` (seconds
    since the load started)."""
    phases: dict[str, Results] = {"baseline": Results(), "faults": Results(), "recovery": Results()}
    ends = {"baseline": bounds[0], "faults": bounds[1], "recovery": max(bounds[1], results.elapsed)}
    for offset, latency, code, reject in zip(
        results.offsets, results.latencies, results.codes, results.rejects, strict=True
    ):
        name = "baseline" if offset < bounds[0] else "faults" if offset < bounds[1] else "recovery"
        phases[name].add(offset, latency, code, reject, 0.0)
    starts = {"baseline": 0.0, "faults": bounds[0], "recovery": bounds[1]}
    out = {}
    for name, part in phases.items():
        part.elapsed = ends[name] - starts[name]
        if len(part):
            out[name] = part.report()
    return out


def scrape(url: str) -> dict[str, float]:
    """The ``resilience_*`` samples of a Prometheus text endpoint (series -> value)."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read(MAX_METRICS_BYTES).decode("utf-8", "replace")
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("resilience_"):
            continue
        series, _, value = line.rpartition(" ")
        if "}" not in value:
            try:
                samples[series] = float(value)
            except ValueError:
                continue
    return samples


def changed(before: dict[str, float], after: dict[str, float], limit: int = 50) -> dict[str, float]:
    """Series whose value moved (after minus before; new series count from 0), at most
    ``limit``, largest moves first."""
    deltas = {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}
    ranked = sorted(deltas.items(), key=lambda item: -abs(item[1]))[:limit]
    return dict(ranked)
