"""Hedged attempts of a read method's unary-unary calls: the policy's ``hedging`` section.

A :class:`ClientHedge` per method: the latency estimate (the pipeline's
:class:`~resilience.pipeline.Hedge`, per method since latencies differ by method) and a
:class:`~resilience.pipeline.RetryBudget` shared by every method with the same hedging
settings (the rule of the ``retry`` section). Each call gets a :class:`Hedging`, its I/O-free
state: which attempt to send when, and what an attempt's end means (gRPC's hedging design,
proposal A6: OK wins; a non-fatal code sends the next hedge at once, or after the server's
pushback; any other code ends the call). The shells run it: :func:`aio_hedged` here for
grpc.aio, :class:`._sync_hedge.HedgedFuture` for sync channels.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any

import grpc

from resilience._base.clock import Clock
from resilience.events import Observer
from resilience.interceptors._client_retry import tell
from resilience.pipeline import Hedge, RetryBudget
from resilience.pipeline._pushback import NO_RETRY, metadata_pushback
from resilience.policy import HedgingSettings

_OK = grpc.StatusCode.OK
_monotonic = time.monotonic
_FIRST = asyncio.FIRST_COMPLETED

_cancelled: set[asyncio.Future[Any]] = set()
"""The status reads of losing attempts, cancelled and kept referenced until done (asyncio
keeps only a weak reference to a task)."""

FATAL = -1.0
"""What :meth:`Hedging.failed` says of a fatal failure: the call ends with it."""


class ClientHedge:
    """One method's hedging: its settings, latency estimate and (shared) budget."""

    __slots__ = ("budget", "estimate", "max_attempts", "non_fatal")

    def __init__(self, settings: HedgingSettings, budget: RetryBudget) -> None:
        self.max_attempts = settings.max_attempts
        self.non_fatal = settings.non_fatal_codes
        self.budget = budget
        self.estimate = Hedge(
            delay=settings.delay,
            percentile=settings.percentile,
            samples=settings.samples,
            min_samples=settings.min_samples,
            max_hedges=settings.max_attempts - 1,
            budget=budget,
        )

    def start(self, method: str, timeout: float | None, listeners: Sequence[Observer]) -> Hedging:
        """The hedging state of a call to ``method`` with ``timeout`` seconds (None: none),
        whose decisions ``listeners`` hear of; the call counts once in the budget."""
        self.budget.record_call()
        return Hedging(self, method, timeout, listeners)


def hedging_budget(key: Hashable, clock: Clock) -> RetryBudget:
    """The registry's builder of the budget shared by every method with the same hedging
    settings (``key``: ``("hedging", settings)``)."""
    settings: HedgingSettings = key[1]  # type: ignore[index]
    return RetryBudget(settings.budget, min_retries=settings.min_retries, clock=clock)


class Hedging:
    """One call's hedging. ``delay``: seconds after which the next hedge is due while no
    attempt has answered (None: none is sent on a timer, only after a non-fatal failure);
    ``sent``: attempts sent so far; ``stopped``: no more hedges (the budget is empty, the
    server said no, or an attempt was refused locally)."""

    __slots__ = ("delay", "hedge", "listeners", "method", "sent", "started", "stopped", "timeout")

    def __init__(
        self, hedge: ClientHedge, method: str, timeout: float | None, listeners: Sequence[Observer]
    ) -> None:
        self.hedge = hedge
        self.method = method
        self.timeout = timeout
        self.listeners = listeners
        self.started = _monotonic()
        self.delay = hedge.estimate.hedge_delay()
        self.sent = 1
        self.stopped = False

    def left(self) -> float | None:
        """Seconds left of the caller's timeout now (None: no timeout; never negative)."""
        if self.timeout is None:
            return None
        return max(0.0, self.timeout - (_monotonic() - self.started))

    def can_send(self) -> bool:
        """Whether a hedge may still be sent (attempts left, not stopped); takes nothing."""
        return not self.stopped and self.sent < self.hedge.max_attempts

    def may_send(self) -> bool:
        """Whether the next hedge may go now: attempts left, time left, and a unit of the
        budget (taken here). A hedge is a ``hedge.attempted`` event (attribute ``attempt``:
        its number), a hedge the budget refused ``hedge.budget_exhausted`` (and stops them)."""
        if not self.can_send() or self.left() == 0.0:
            return False
        if not self.hedge.budget.try_spend():
            self.stopped = True
            tell(self.listeners, "hedge.budget_exhausted", self.method, self.sent + 1)
            return False
        self.sent += 1
        tell(self.listeners, "hedge.attempted", self.method, self.sent)
        return True

    def failed(self, code: grpc.StatusCode | None, trailing: Any, local: bool) -> float | None:
        """After an attempt ended with ``code`` (not OK) and ``trailing`` metadata (``local``:
        refused by this client, say by the breaker): :data:`FATAL` when the call ends with it;
        else seconds until the next hedge (0: now), or None when no more are sent (the call
        then waits for the attempts in flight)."""
        if local:
            self.stopped = True
            return None
        if code not in self.hedge.non_fatal:
            return FATAL
        asked = metadata_pushback(trailing)
        if asked == NO_RETRY:
            self.stopped = True
            return None
        return 0.0 if asked is None else asked

    def won(self, number: int) -> None:
        """Attempt ``number`` answered OK: a hedge's win is a ``hedge.won`` event. (Its latency
        reaches the estimate through the pipeline: every OK call of the method feeds it.)"""
        if number > 1:
            tell(self.listeners, "hedge.won", self.method, number)


async def aio_hedged(
    first: Any, hedging: Hedging, send: Callable[[float | None], Awaitable[Any]]
) -> Any:
    """Run a grpc.aio unary call's hedges (see :class:`Hedging`) from its first attempt's call
    ``first``; ``send(seconds left)`` sends the next attempt through the pipeline (raising
    :class:`grpc.aio.AioRpcError` when it is refused locally). Returns the call of the attempt
    that decided it (the winner, a fatal failure, or the last failure); the others are
    cancelled, and so are all when the caller is cancelled."""
    loop = asyncio.get_running_loop()
    waits: dict[asyncio.Future[Any], tuple[int, Any]] = {}

    def watch(number: int, call: Any) -> None:
        waits[asyncio.ensure_future(call.code())] = (number, call)

    watch(1, first)
    last: Any = first
    due = None if hedging.delay is None else loop.time() + hedging.delay
    try:
        while waits or (due is not None and hedging.can_send()):
            timeout = None if due is None else max(0.0, due - loop.time())
            if waits:
                done, _ = await asyncio.wait(waits, timeout=timeout, return_when=_FIRST)
            else:  # nothing in flight: a hedge is due after the server's pushback
                await asyncio.sleep(timeout or 0.0)
                done = set()
            for waited in done:
                number, call = waits.pop(waited)
                code = waited.result()
                if code is _OK:
                    hedging.won(number)
                    return call
                last = call
                after = hedging.failed(code, await call.trailing_metadata(), False)
                if after == FATAL:
                    return call
                due = None if after is None else loop.time() + after
            if due is not None and loop.time() >= due:
                due = None
                if hedging.may_send():
                    try:
                        watch(hedging.sent, await send(hedging.left()))
                    except grpc.aio.AioRpcError:
                        hedging.failed(None, None, True)
                    if hedging.delay is not None:
                        due = loop.time() + hedging.delay
        return last
    finally:
        for waited, (_, call) in waits.items():
            call.cancel()
            waited.cancel()
            _cancelled.add(waited)  # referenced until its cancellation has run
            waited.add_done_callback(_cancelled.discard)
