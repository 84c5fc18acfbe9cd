"""The failover decisions shared by the sync and aio channels; only the waiting differs there.

One :class:`FailoverCore` per dual-center channel. Per call the shells run one straight line::

    plan = core.start(method, timeout, metadata)   # records the local request; None = no failover
    ... local attempt fails with `error` ...
    if plan and core.admit(plan, error):           # worthy? time left? window admits?
        ... one remote attempt with plan.remote_timeout / plan.remote_metadata ...
        core.finish(plan, remote_error_or_None)    # feeds the window

No lock is held across a call; the counters take a lock only around integer increments.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import grpc

from resilience._base import keys as _keys
from resilience._base.clock import remaining_until
from resilience._base.interest_watch import watch as watch_interest
from resilience.algorithms._decision import Decision
from resilience.context import current_call_context
from resilience.errors import RejectReason
from resilience.events import GaugeReading, Observer, hearing
from resilience.failover._switches import FailoverSwitches

_log = logging.getLogger("resilience.failover")

DEFAULT_FAILOVER_CODES: frozenset[grpc.StatusCode] = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)
"""Outcomes of the local attempt that send a read to the remote center (breaker drops too).
UNKNOWN is a crashed handler: often a local dependency failing, which the remote center may not
share; the retry window bounds the extra load when the crash is the same everywhere."""

COUNTERS = ("attempted", "admitted", "refused", "expired", "unreplayable", "succeeded", "failed")
"""Counter names: ``attempted`` = a read failed locally with a failover-worthy outcome; then
exactly one of ``admitted`` (sent to the remote center), ``refused`` (by the retry window or a
switch), ``expired`` (no time left before the caller's deadline) or ``unreplayable`` (the
request stream outgrew the replay buffer); each admitted failover ends ``succeeded`` or
``failed``."""


class RetryWindow(Protocol):
    """What a channel needs of a retry window (``algorithms.AdaptiveRetryWindow`` has it)."""

    @property
    def enabled(self) -> bool: ...
    @property
    def window(self) -> int: ...
    def record_request(self) -> None: ...
    def try_acquire(self) -> Decision: ...
    def record_retry(self, success: bool) -> None: ...


class ReadSettings(Protocol):
    """The two policy fields failover reads (:class:`resilience.policy.MethodSettings`)."""

    @property
    def read(self) -> bool: ...
    @property
    def failover(self) -> bool: ...


class SettingsSource(Protocol):
    """Anything that maps a method name to its settings (:class:`resilience.policy.Policy`)."""

    def settings_for(self, method: str) -> ReadSettings: ...


@dataclass(frozen=True, slots=True)
class FailoverStats:
    """A snapshot of one channel's failover counters (see ``COUNTERS``) and its window size."""

    target: str
    window: int
    attempted: int
    admitted: int
    refused: int
    expired: int
    unreplayable: int
    succeeded: int
    failed: int


class Plan:
    """Per-call failover state, created by :meth:`FailoverCore.start` for eligible calls only."""

    __slots__ = ("deadline", "metadata", "method", "remote_metadata", "remote_timeout")

    def __init__(self, method: str, deadline: float | None, metadata: Any) -> None:
        self.method = method
        self.deadline = deadline
        self.metadata = metadata
        self.remote_timeout: float | None = None
        self.remote_metadata: tuple[tuple[str, str | bytes], ...] = ()


def status_code(error: BaseException) -> grpc.StatusCode | None:
    """The gRPC status code carried by ``error``, or None when it carries none."""
    code = getattr(error, "code", None)
    if not callable(code):
        return None
    try:
        value = code()
    except Exception:  # an odd error object must not break the caller's error path
        return None
    return value if isinstance(value, grpc.StatusCode) else None


def _reject_reason(error: BaseException) -> str | None:
    trailing = getattr(error, "trailing_metadata", None)
    if not callable(trailing):
        return None
    try:
        for key, value in trailing() or ():
            if key == _keys.REJECT:
                return value.decode() if isinstance(value, bytes) else str(value)
    except Exception:
        return None
    return None


def _is_marked(metadata: Iterable[tuple[str, Any]] | None) -> bool:
    return metadata is not None and any(key == _keys.FAILOVER for key, _ in metadata)


class FailoverCore:
    """Decides, per call, whether and how a failed local attempt is sent to the remote center."""

    def __init__(
        self,
        *,
        policy: SettingsSource | None,
        window: RetryWindow,
        switches: FailoverSwitches,
        failover_codes: frozenset[grpc.StatusCode],
        target: str,
        observers: Sequence[Observer],
        max_replay_messages: int,
        max_replay_bytes: int,
    ) -> None:
        self.policy = policy
        self.window = window
        self.switches = switches
        self.failover_codes = failover_codes
        self.target = target
        self._given = tuple(observers)
        watch_interest(self)
        self._observers = hearing(self._given, None, "events")  # only events are sent
        self.replay_limits = {"max_messages": max_replay_messages, "max_bytes": max_replay_bytes}
        self._now = time.monotonic  # gRPC deadlines and the call context use this clock
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)

    def reread_interest(self, observer: object) -> None:
        """Sort the observers again when ``observer``'s interest changed (only events are
        sent here: those that hear them)."""
        if any(held is observer for held in self._given):
            self._observers = hearing(self._given, None, "events")

    # -- per call -------------------------------------------------------------------------

    def start(self, method: str, timeout: float | None, metadata: Any) -> Plan | None:
        """Record one local request; return a plan when this call may fail over, else None."""
        window = self.window
        window.record_request()
        if not (self._is_read(method) and window.enabled and self.switches.allows(method)):
            return None
        context = current_call_context()
        if context.failover or _is_marked(metadata):
            return None  # a failed-over call never fails over again (no ping-pong)
        now = self._now()
        deadline = context.deadline  # inherited from the call being handled, if any
        if remaining_until(deadline, now) is None:
            deadline = None  # none, or too far away to be one (see NO_DEADLINE_BEYOND)
        if timeout is not None:
            own = now + timeout
            deadline = own if deadline is None else min(deadline, own)
        return Plan(method, deadline, metadata)

    def admit(self, plan: Plan, error: BaseException, *, replayable: bool = True) -> bool:
        """Whether the local ``error`` sends the call to the remote center now.

        True fills ``plan.remote_timeout`` (seconds left before the caller's deadline or the
        one inherited from the call being handled; None when there is none) and
        ``plan.remote_metadata`` (the caller's plus the failover mark). Order: worthy outcome,
        switches, time left, replayable, then the window, so a refused or impossible failover
        never spends a window slot.
        """
        if not self.worthy(error):
            return False
        method = plan.method
        self._count("attempted", method)
        if not (self.window.enabled and self.switches.allows(method)):
            self._count("refused", method)
            return False
        if plan.deadline is not None:
            remaining = plan.deadline - self._now()
            if remaining <= 0:
                self._count("expired", method)
                return False
            plan.remote_timeout = remaining
        if not replayable:
            self._count("unreplayable", method)
            return False
        if not self.window.try_acquire().allowed:
            self._count("refused", method)
            return False
        self._count("admitted", method)
        plan.remote_metadata = (*tuple(plan.metadata or ()), (_keys.FAILOVER, "1"))
        return True

    def finish(self, plan: Plan, error: BaseException | None) -> None:
        """Feed the remote attempt's outcome to the window: None or a non-worthy status code
        succeeds; a worthy code, or an error carrying no status code, fails."""
        success = error is None or (status_code(error) is not None and not self.worthy(error))
        self.window.record_retry(success)
        self._count("succeeded" if success else "failed", plan.method)

    def worthy(self, error: BaseException) -> bool:
        """Whether ``error`` is a failover-worthy outcome: a configured code or a breaker drop."""
        code = status_code(error)
        if code is None:
            return False
        return code in self.failover_codes or _reject_reason(error) == RejectReason.BREAKER.value

    # -- observability ----------------------------------------------------------------------

    def stats(self) -> FailoverStats:
        """A consistent snapshot of the counters and the current window size."""
        with self._lock:
            counts = dict(self._counts)
        return FailoverStats(target=self.target, window=int(self.window.window), **counts)

    def gauge_readings(self) -> Iterator[GaugeReading]:
        """``failover.window`` and ``failover.<counter>`` (cumulative), labelled by target."""
        stats = self.stats()
        attributes: Mapping[str, str] = {"target": self.target}
        yield GaugeReading("failover.window", float(stats.window), attributes)
        for name in COUNTERS:
            yield GaugeReading(f"failover.{name}", float(getattr(stats, name)), attributes)

    def _is_read(self, method: str) -> bool:
        policy = self.policy
        if policy is None:
            return False
        try:
            settings = policy.settings_for(method)
            return bool(settings.read and settings.failover)
        except Exception:  # a policy bug must not fail the call: treat it as "no failover"
            _log.exception("policy lookup failed for %s; not failing over", method)
            return False

    def _count(self, name: str, method: str) -> None:
        with self._lock:
            self._counts[name] += 1
        if self._observers:
            attributes = {"target": self.target, "method": method}
            for observer in self._observers:
                try:
                    observer.event(f"failover.{name}", attributes)
                except Exception:
                    _log.exception("observer %r failed on failover.%s", observer, name)
