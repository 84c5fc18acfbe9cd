"""Sustained overload reflected in the standard gRPC health service (``grpc.health.v1``).

:class:`OverloadHealth` is an :class:`~resilience.events.Observer`: it hears each server call
the overload guard sheds (reject reason ``"overload"``) and, with hysteresis, switches the
health status that load balancers and orchestrators poll:

- ``SERVING`` -> ``NOT_SERVING`` once the guard has been shedding for ``enter_after`` seconds:
  sheds kept coming with no pause longer than ``gap`` seconds between two of them;
- ``NOT_SERVING`` -> ``SERVING`` once no call has been shed for ``exit_after`` seconds (a timer
  sees to it even when the balancer, having drained the server, sends no more calls).

Off by default: nothing changes unless an ``OverloadHealth`` is built, passed to the server
interceptor among its observers, and added to the server. Needs the ``health`` extra
(``grpcio-health-checking``). See docs/status-page.md for what a balancer sees and when.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import grpc

from resilience._base.clock import Clock, default_clock
from resilience._base.loops import call_soon_threadsafe_if_open
from resilience._base.optional import require
from resilience.errors import ConfigError, RejectReason
from resilience.events import CallInfo, CallOutcome, Interest

_OVERLOAD = RejectReason.OVERLOAD.value


def _seconds(name: str, value: Any, *, zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name}: must be a finite number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not zero):
        bound = ">= 0" if zero else "> 0"
        raise ConfigError(f"{name}: must be {bound} seconds, got {value!r}")
    return float(value)


class Hysteresis:
    """The overload state machine alone, in seconds of ``clock`` (see the module docstring).

    :meth:`shed` records a shed call and :meth:`check` lets time pass; both return the new
    state (True: overloaded) when it changed, else None. :meth:`due` is when :meth:`check`
    may next change it. Not thread-safe: :class:`OverloadHealth` holds a lock around it."""

    __slots__ = ("enter_after", "exit_after", "gap", "last_shed", "overloaded", "spell_start")

    def __init__(self, enter_after: float, exit_after: float, gap: float) -> None:
        self.enter_after = _seconds("enter_after", enter_after, zero=True)
        self.exit_after = _seconds("exit_after", exit_after, zero=False)
        self.gap = _seconds("gap", gap, zero=False)
        self.overloaded = False
        self.spell_start: float | None = None
        self.last_shed = -math.inf

    def shed(self, now: float) -> bool | None:
        """A call was shed at ``now``: extend or start the shedding spell; enter overload once
        the spell has lasted ``enter_after`` seconds."""
        if self.spell_start is None or now - self.last_shed > self.gap:
            self.spell_start = now
        self.last_shed = now
        if not self.overloaded and now - self.spell_start >= self.enter_after:
            self.overloaded = True
            return True
        return None

    def check(self, now: float) -> bool | None:
        """Leave overload once nothing was shed for ``exit_after`` seconds."""
        if self.overloaded and now - self.last_shed >= self.exit_after:
            self.overloaded = False
            self.spell_start = None
            return False
        return None

    def due(self) -> float:
        """The clock time at which :meth:`check` would leave overload (``inf`` when not in it)."""
        return self.last_shed + self.exit_after if self.overloaded else math.inf


class OverloadHealth:
    """Publishes sustained overload as the ``grpc.health.v1`` status of ``services``.

    ``enter_after``: seconds of continuous shedding before ``NOT_SERVING`` (>= 0; default 10).
    ``exit_after``: seconds without a shed call before ``SERVING`` again (> 0; default 30).
    ``gap``: the longest pause, in seconds, between two shed calls of one spell (default 1,
    the overload guard's cool-down). ``services``: the service names whose status it sets,
    ``""`` (the whole server, what most balancers ask for) by default; list your own
    (``"shop.Catalog"``) to have them follow too. ``clock``: monotonic seconds.

    Use: pass it to the server interceptor with the default observers,
    ``ServerInterceptor(policy, observers=[*default_observers(), health])`` (or
    ``AioServerInterceptor``), then ``health.add_to_server(server)`` before starting a sync
    server, or inside the event loop for a ``grpc.aio`` server. The health service reports
    ``SERVING`` from the start. :meth:`close` stops its timer (call it after stopping the
    server). It hears only server calls' ends (:attr:`interest`).
    """

    interest = Interest(sides=("server",), starts=False, events=False)
    """Server calls' ends only: where a call shed by the overload guard is reported."""

    def __init__(
        self,
        *,
        enter_after: float = 10.0,
        exit_after: float = 30.0,
        gap: float = 1.0,
        services: Iterable[str] = ("",),
        clock: Clock = default_clock,
    ) -> None:
        if isinstance(services, str):
            raise ConfigError(f"services: must be a list of service names, not {services!r}")
        self._services = tuple(services)
        if not self._services or not all(isinstance(s, str) for s in self._services):
            raise ConfigError(f"services: must be a non-empty list of names, got {services!r}")
        self._state = Hysteresis(enter_after, exit_after, gap)
        self._clock = clock
        self._lock = threading.Lock()
        self._publish: Callable[[bool], None] | None = None
        self._schedule: Callable[[float], None] | None = None
        self._timer: threading.Timer | asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def overloaded(self) -> bool:
        """Whether the services are reported ``NOT_SERVING`` for overload now."""
        return self._state.overloaded

    def add_to_server(self, server: grpc.Server | grpc.aio.Server) -> Any:
        """Add the ``grpc.health.v1.Health`` service to ``server`` (sync, or ``grpc.aio`` from
        inside its event loop), report ``SERVING`` and return the health servicer (you may set
        other services on it). Raises :class:`~resilience.errors.MissingExtraError` without
        the ``health`` extra."""
        health = require("grpc_health.v1.health", "health")
        health_grpc = require("grpc_health.v1.health_pb2_grpc", "health")
        pb2 = require("grpc_health.v1.health_pb2", "health")
        codes = {True: pb2.HealthCheckResponse.NOT_SERVING, False: pb2.HealthCheckResponse.SERVING}
        if isinstance(server, grpc.aio.Server):
            servicer: Any = health.aio.HealthServicer()
            loop = asyncio.get_running_loop()

            pending: set[asyncio.Task[None]] = set()  # held until done (the loop holds weakly)

            def start(status: int) -> None:
                for service in self._services:
                    task = loop.create_task(servicer.set(service, status))
                    pending.add(task)
                    task.add_done_callback(pending.discard)

            def publish(overloaded: bool) -> None:
                call_soon_threadsafe_if_open(loop, start, codes[overloaded])

            def schedule(delay: float) -> None:
                call_soon_threadsafe_if_open(loop, self._arm_aio, loop, delay)
        else:
            servicer = health.HealthServicer()

            def publish(overloaded: bool) -> None:
                for service in self._services:
                    servicer.set(service, codes[overloaded])

            def schedule(delay: float) -> None:
                timer = threading.Timer(delay, self._tick)
                timer.daemon = True
                self._replace_timer(timer)
                timer.start()

        health_grpc.add_HealthServicer_to_server(servicer, server)
        self._publish, self._schedule = publish, schedule
        publish(self._state.overloaded)
        return servicer

    def call_started(self, call: CallInfo) -> None:
        """Nothing to do at a call's start."""

    def call_ended(self, call: CallInfo, outcome: CallOutcome) -> None:
        """Count a server call shed by the overload guard; switch the status on a change."""
        if outcome.reject_reason != _OVERLOAD or call.side != "server":
            return
        with self._lock:
            changed = self._state.shed(self._clock())
        if changed is not None:
            self._changed(changed)

    def event(self, name: str, attributes: Mapping[str, str]) -> None:
        """Decision events do not matter here."""

    def close(self) -> None:
        """Stop the timer; the status stays as it is. Idempotent."""
        with self._lock:
            self._closed = True
        self._replace_timer(None)

    def _changed(self, overloaded: bool) -> None:
        if self._publish is not None:
            self._publish(overloaded)
        if overloaded and self._schedule is not None and not self._closed:
            self._schedule(max(0.0, self._state.due() - self._clock()))

    def _tick(self) -> None:
        """The timer fired: leave overload if calm long enough, else wait until it may be."""
        with self._lock:
            changed = self._state.check(self._clock())
            wait = self._state.due() - self._clock()
        if changed is not None:
            self._changed(changed)
        elif math.isfinite(wait) and self._schedule is not None and not self._closed:
            self._schedule(max(0.0, wait))

    def _arm_aio(self, loop: asyncio.AbstractEventLoop, delay: float) -> None:
        if not self._closed:
            self._replace_timer(loop.call_later(delay, self._tick))

    def _replace_timer(self, timer: threading.Timer | asyncio.TimerHandle | None) -> None:
        with self._lock:
            previous, self._timer = self._timer, timer
        if previous is not None:
            previous.cancel()
