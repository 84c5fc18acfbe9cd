"""The hedged call of a sync channel: attempts sent as gRPC futures, the first OK answer wins
and the others are cancelled (see :class:`._client_hedge.Hedging` for the rule).

Attempts are gRPC's own ``.future()`` calls and end through their done callbacks; nothing
runs in a thread of the library's while they are in flight. What waits for the next hedge to
be due is the caller's thread when it is waiting anyway (a blocking call through a
``protect()``-ed channel: ``blocking=True``, the hedge sent from ``result()``), else a
``threading.Timer`` that is cancelled as soon as the call is decided (a ``.future()`` call, or
a hedge due after a non-fatal failure). Either way no thread outlives the call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import grpc

from resilience.interceptors._client_hedge import FATAL, Hedging
from resilience.interceptors._guard import report
from resilience.interceptors._sync_attempts import AttemptsFuture
from resilience.interceptors._sync_call import LocalRejection

_OK = grpc.StatusCode.OK
_monotonic = time.monotonic


class HedgedFuture(AttemptsFuture):
    """A hedged unary-unary call (see the module doc and :class:`AttemptsFuture` for what it
    shows). ``send(timeout)`` starts the next attempt through the client pipeline: its gRPC
    future, or the :class:`LocalRejection` of an attempt refused locally (no more hedges are
    then sent). ``blocking``: the caller waits in :meth:`result` (or another method that waits
    for the end) and sends the hedges that fall due from there."""

    def __init__(
        self,
        first: Any,
        hedging: Hedging,
        send: Callable[[float | None], Any],
        blocking: bool,
    ) -> None:
        super().__init__(first, hedging.left)
        self._hedging = hedging
        self._send = send
        self._blocking = blocking
        self._in_flight: dict[Any, int] = {first: 1}
        self._due: float | None = None
        self._sending = 0  # hedges being sent: not in flight yet, but coming
        self._timer: threading.Timer | None = None
        self._wake = threading.Condition(self._lock)
        first.add_done_callback(self._attempt_done)  # may run at once: the first is over
        with self._lock:  # no timer for a call already decided or with a hedge due
            delay = hedging.delay
            waiting = not self._ended.is_set() and self._due is None
            if waiting and delay is not None and hedging.can_send():
                self._arm(delay)

    def _arm(self, after: float) -> None:
        """Under the lock: the next hedge is due in ``after`` seconds."""
        self._due = _monotonic() + after
        if self._blocking:
            self._wake.notify_all()
            return
        if self._timer is not None:
            self._timer.cancel()
        timer = self._timer = threading.Timer(after, self._fire)
        timer.daemon = True
        timer.start()

    def _stop(self) -> list[Any]:
        self._due = None
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self._wake.notify_all()
        leftovers = list(self._in_flight)
        self._in_flight.clear()
        return leftovers

    def _idle(self) -> bool:
        """Under the lock: nothing in flight, nothing being sent and no hedge to come (the last
        failure decides)."""
        if self._in_flight or self._sending:
            return False
        return self._due is None or not self._hedging.can_send()

    def _attempt_done(self, attempt: Any) -> None:
        """An attempt ended: OK wins; a fatal failure ends the call; a non-fatal one makes the
        next hedge due (at once, or after the server's pushback)."""
        with self._lock:
            if self._ended.is_set() or attempt not in self._in_flight:
                return
            number = self._in_flight.pop(attempt)
            try:
                code = attempt.code()
                if code is _OK:
                    self._hedging.won(number)
                    decided = True
                else:
                    local = isinstance(attempt, LocalRejection)
                    trailing = None if local else attempt.trailing_metadata()
                    after = self._hedging.failed(code, trailing, local)
                    self._attempt = attempt  # the last failure, until another attempt decides
                    if after is not None and after != FATAL and self._hedging.can_send():
                        self._arm(after)
                    decided = after == FATAL or self._idle()
            except Exception as exc:  # a bug: the call ends with this attempt
                report("client hedge decision", exc)
                decided = True
            if not decided:
                return
        self._end(attempt)

    def _fire(self) -> None:
        """The next hedge is due: send it, if the attempts left and the budget allow."""
        with self._lock:
            self._timer = None
            self._due = None
            if self._ended.is_set():
                return
            sending = self._hedging.may_send()
            number = self._hedging.sent
            self._sending += sending
            idle = not sending and self._idle()
        if idle:
            self._end()
        if not sending:
            return
        try:
            attempt = self._in_context(self._send)
        except Exception as exc:  # never sent (say, the channel was closed)
            report("client hedge sending", exc)
            with self._lock:
                self._sending -= 1
                self._hedging.stopped = True
                idle = self._idle()
            if idle:
                self._end()
            return
        with self._lock:
            self._sending -= 1
            ended = self._ended.is_set()
            if not ended:
                self._in_flight[attempt] = number
                if self._hedging.delay is not None and self._hedging.can_send():
                    self._arm(self._hedging.delay)
        if ended:
            attempt.cancel()
        else:
            attempt.add_done_callback(self._attempt_done)

    def _wait(self, timeout: float | None) -> bool:
        """Wait for the end; a blocking caller sends the hedges that fall due meanwhile."""
        if not self._blocking:
            return self._ended.wait(timeout)
        until = None if timeout is None else _monotonic() + timeout
        while True:
            with self._lock:
                if self._ended.is_set():
                    return True
                now = _monotonic()
                if until is not None and now >= until:
                    return False
                due = self._due
                if due is None or due > now:
                    limits = [t for t in (due, until) if t is not None]
                    self._wake.wait(min(limits) - now if limits else None)
                    continue
            self._fire()
