"""Per-method live call statistics for the status page: rates, error ratio and latency
percentiles over the last few seconds, kept in memory by an :class:`~resilience.events.Observer`.

No OpenTelemetry SDK is involved: each (side, method) keeps one small record per second of the
window and the durations of its most recent calls. Method names are bounded as on the metrics
(:class:`~resilience.observability.AttributeBounds`): past the bound, new names share the
``"_OTHER"`` record. Until :meth:`CallStats.activate` is called (serving a status page does
it, and stopping that server calls :meth:`CallStats.deactivate`) the observer declares that
it hears nothing, so the interceptors and pipelines that hold it by default never call it;
activating it makes them read its interest again
(:func:`resilience.events.interest_changed`), and every call that starts from then on is
counted. A call that started before is not (neither in flight nor when it ends). Every call
told of its start is told of its end, so calls in flight stay exact, also across a
deactivation: a call that started while an earlier page was served is in flight until it ends.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

from resilience._base.clock import Clock, default_clock
from resilience.errors import REASON_VALUES
from resilience.events import CallInfo, CallOutcome, Interest, interest_changed
from resilience.observability._bounds import DEFAULT_MAX_METHODS, AttributeBounds
from resilience.observability.metrics import is_error

WINDOW = 5
"""Seconds over which rates, ratios and percentiles are computed (one record per second)."""

MAX_DURATIONS = 2048
"""Most recent call durations kept per (side, method) for the percentiles."""


HEARING = Interest(events=False)
"""The statistics' interest while active: both sides' starts and ends; no decision events."""

SILENT = Interest((), starts=False, ends=False, events=False)
"""The statistics' interest while no status page is served: nothing."""


class _Second:
    """The counts of one second of one (side, method)."""

    __slots__ = ("calls", "errors", "rejected", "second", "tiers")

    def __init__(self, second: int) -> None:
        self.reset(second)

    def reset(self, second: int) -> None:
        """Empty the record and give it to ``second``."""
        self.second = second
        self.calls = 0
        self.errors = 0
        self.rejected: dict[str, int] = {}
        self.tiers: dict[str, list[int]] = {}  # tier -> [admitted, rejected]


class _Method:
    """The rolling record of one (side, method)."""

    __slots__ = ("durations", "in_flight", "seconds")

    def __init__(self, in_flight: int = 0) -> None:
        self.seconds: list[_Second] = [_Second(-1) for _ in range(WINDOW + 1)]
        self.durations: deque[tuple[float, float]] = deque(maxlen=MAX_DURATIONS)
        self.in_flight = in_flight

    def slot(self, second: int) -> _Second:
        record = self.seconds[second % len(self.seconds)]
        if record.second != second:
            record.reset(second)
        return record


class CallStats:
    """An :class:`~resilience.events.Observer` keeping live per-method statistics.

    ``max_methods`` bounds the distinct method names kept (as the metrics do); ``clock`` gives
    seconds (monotonic). Thread-safe; one lock taken once per start and end of a call it hears
    (one that starts while it is active). :meth:`snapshot` returns, per (side, method), the
    rates over the last :data:`WINDOW` complete seconds. While active it hears call starts and
    ends on both sides, never decision events; while not, nothing (:attr:`interest`).
    """

    def __init__(self, *, max_methods: int = DEFAULT_MAX_METHODS, clock: Clock = default_clock):
        self._bounds = AttributeBounds(max_methods=max_methods)
        self._clock = clock
        self._lock = threading.Lock()
        self._methods: dict[tuple[str, str], _Method] = {}
        self._active = False
        self._readers = 0

    @property
    def active(self) -> bool:
        """Whether calls are being recorded."""
        return self._active

    @property
    def interest(self) -> Interest:
        """:data:`HEARING` while active, else :data:`SILENT`: calls do not reach an inactive
        observer at all. Whoever holds it reads this again when it is (de)activated."""
        return HEARING if self._active else SILENT

    @property
    def bounds(self) -> AttributeBounds:
        """How method names are bounded (the same rule as the metrics')."""
        return self._bounds

    def activate(self) -> None:
        """Start recording calls: one more reader (a served status page) wants them. Every
        call that starts from now on is counted; those already running are not."""
        with self._lock:
            self._readers += 1
            starting = not self._active
            self._active = True
        if starting:
            interest_changed(self)

    def deactivate(self) -> None:
        """One reader is gone; with none left, stop recording and forget what was recorded,
        except the calls still in flight: each will be told of its end (it was of its start),
        so a later reader's in-flight counts stay exact."""
        with self._lock:
            self._readers = max(0, self._readers - 1)
            stopping = self._active and self._readers == 0
            if stopping:
                self._active = False
                self._methods = {
                    key: _Method(record.in_flight)
                    for key, record in self._methods.items()
                    if record.in_flight > 0
                }
        if stopping:
            interest_changed(self)

    def call_started(self, call: CallInfo) -> None:
        """Count the call as in flight (also while inactive: a holder that has not yet sorted
        its observers again tells its end too)."""
        key = (call.side, self._bounds.method(call.method))
        with self._lock:
            record = self._methods.get(key)
            if record is None:
                record = self._methods[key] = _Method()
            record.in_flight += 1

    def call_ended(self, call: CallInfo, outcome: CallOutcome) -> None:
        """Count the call, its error or rejection, its tier and its duration (while inactive,
        only that it is no longer in flight)."""
        key = (call.side, self._bounds.method(call.method))
        if not self._active:
            self._left(key)
            return
        now = self._clock()
        reason = outcome.reject_reason
        tier = self._bounds.tier(call.tier)
        with self._lock:
            record = self._methods.get(key)
            if record is None:
                record = self._methods[key] = _Method()
            if record.in_flight > 0:
                record.in_flight -= 1
            second = record.slot(int(now))
            second.calls += 1
            if is_error(call.side, outcome.code):
                second.errors += 1
            counts = second.tiers.get(tier)
            if counts is None:
                counts = second.tiers[tier] = [0, 0]
            if reason is None:
                counts[0] += 1
                record.durations.append((now, outcome.duration))
            else:
                reason = reason if reason in REASON_VALUES else "other"
                second.rejected[reason] = second.rejected.get(reason, 0) + 1
                counts[1] += 1

    def _left(self, key: tuple[str, str]) -> None:
        """While inactive: a call that started while active (or just before the holders sorted
        again) ended; its record is dropped once nothing of it is in flight."""
        with self._lock:
            record = self._methods.get(key)
            if record is not None:
                record.in_flight -= 1
                if record.in_flight <= 0:
                    del self._methods[key]

    def event(self, name: str, attributes: Mapping[str, str]) -> None:
        """Decision events are not shown per method (failovers come from the gauges)."""

    def snapshot(self) -> dict[tuple[str, str], dict[str, Any]]:
        """(side, bounded method) -> ``calls_per_s``, ``error_ratio`` (0..1, None without
        calls), ``p50_s`` and ``p99_s`` (seconds, over admitted calls; None without any),
        ``in_flight``, ``rejected_per_s`` by reason and ``tiers`` (tier -> ``admitted_per_s``
        and ``rejected_per_s``), each over the last :data:`WINDOW` complete seconds."""
        now = self._clock()
        last = int(now) - 1
        first = last - WINDOW + 1
        with self._lock:
            items = [
                (key, record, [s for s in record.seconds if first <= s.second <= last])
                for key, record in self._methods.items()
            ]
            latest = {
                key: sorted(d for t, d in record.durations if t >= first)
                for key, record, _ in items
            }
            return {key: _summary(record, seconds, latest[key]) for key, record, seconds in items}


def _summary(record: _Method, seconds: list[_Second], durations: list[float]) -> dict[str, Any]:
    calls = sum(s.calls for s in seconds)
    errors = sum(s.errors for s in seconds)
    rejected: dict[str, float] = {}
    tiers: dict[str, dict[str, float]] = {}
    for s in seconds:
        for reason, n in s.rejected.items():
            rejected[reason] = rejected.get(reason, 0) + n / WINDOW
        for tier, (admitted, refused) in s.tiers.items():
            entry = tiers.setdefault(tier, {"admitted_per_s": 0.0, "rejected_per_s": 0.0})
            entry["admitted_per_s"] += admitted / WINDOW
            entry["rejected_per_s"] += refused / WINDOW
    return {
        "calls_per_s": calls / WINDOW,
        "error_ratio": errors / calls if calls else None,
        "p50_s": _quantile(durations, 0.50),
        "p99_s": _quantile(durations, 0.99),
        "in_flight": record.in_flight,
        "rejected_per_s": rejected,
        "tiers": tiers,
    }


def _quantile(ordered: list[float], q: float) -> float | None:
    """The nearest-rank ``q`` quantile of ``ordered`` (sorted), None when empty."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


_default_stats: CallStats | None = None
_default_lock = threading.Lock()


def default_call_stats() -> CallStats:
    """The process-wide statistics the interceptors report to by default (inactive, so free,
    until a status page is served)."""
    global _default_stats
    if _default_stats is None:
        with _default_lock:
            if _default_stats is None:
                _default_stats = CallStats()
    return _default_stats
