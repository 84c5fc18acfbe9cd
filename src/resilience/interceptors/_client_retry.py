"""In-center retries of a read method's unary calls: the policy's ``retry`` section.

One :class:`ClientRetry` per distinct ``RetrySettings`` (shared by the methods that have them,
so their retries draw on one budget), built on :class:`resilience.pipeline.Retry`: full-jitter
backoff, ``grpc-retry-pushback-ms`` honoured, and a :class:`~resilience.pipeline.RetryBudget`.
Each call gets a :class:`Retrying`: the clock of its timeout and the number of its attempt.
The shells (sync and aio client interceptors, protected channels, the sync ``.future()``
call of :mod:`._sync_retry`) run the loop; each attempt goes through the client pipeline again
(breaker admission, deadline, metadata, outcome), so the breaker sees every attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc

from resilience._base.clock import Clock
from resilience.events import Observer
from resilience.interceptors._guard import report
from resilience.pipeline import Retry, RetryBudget
from resilience.pipeline._pushback import metadata_pushback
from resilience.policy import RetrySettings

_monotonic = time.monotonic


class ClientRetry:
    """The retry rule of one ``retry`` section: its codes, backoff and budget."""

    __slots__ = ("budget", "codes", "retry")

    def __init__(self, settings: RetrySettings, clock: Clock) -> None:
        self.codes = settings.codes
        self.budget = RetryBudget(settings.budget, min_retries=settings.min_retries, clock=clock)
        self.retry = Retry(
            settings.max_attempts,
            base_delay=settings.base_delay,
            max_delay=settings.max_delay,
            max_pushback=settings.max_pushback,
            budget=self.budget,
        )

    def start(self, method: str, timeout: float | None, observers: Sequence[Observer]) -> Retrying:
        """The retry state of a call to ``method`` with ``timeout`` seconds (None: none),
        whose decisions ``observers`` hear of; the call counts once in the budget."""
        self.budget.record_call()
        return Retrying(self, method, timeout, observers)


class Retrying:
    """One call's retries: :meth:`delay` after each failed attempt, :meth:`left` for the
    next attempt's timeout. ``number`` is the attempt that ran last (1 for the first)."""

    __slots__ = ("method", "number", "observers", "rule", "started", "timeout")

    def __init__(
        self, rule: ClientRetry, method: str, timeout: float | None, observers: Sequence[Observer]
    ) -> None:
        self.rule = rule
        self.method = method
        self.timeout = timeout
        self.observers = observers
        self.started = _monotonic()
        self.number = 1

    def left(self) -> float | None:
        """Seconds left of the caller's timeout now (None: no timeout; never negative)."""
        if self.timeout is None:
            return None
        return max(0.0, self.timeout - (_monotonic() - self.started))

    def delay(self, code: grpc.StatusCode | None, trailing: Any) -> float | None:
        """Seconds to wait before the next attempt, after the last one ended with ``code`` and
        ``trailing`` metadata; None when it is not retried: a code not in the section's
        ``codes``, attempts used up, the server's pushback says no, the wait would use up the
        timeout, or the budget is empty (checked last, so a refused retry costs nothing).
        A granted retry advances :attr:`number` and is a ``retry.attempted`` event, a retry the
        budget refused a ``retry.budget_exhausted`` event."""
        rule = self.rule
        if code not in rule.codes:
            return None
        wait = rule.retry.planned_delay(self.number, metadata_pushback(trailing))
        left = self.left()
        if wait is None or (left is not None and wait >= left):
            return None
        if not rule.budget.try_spend():
            tell(self.observers, "retry.budget_exhausted", self.method, self.number + 1)
            return None
        self.number += 1
        tell(self.observers, "retry.attempted", self.method, self.number)
        return wait


async def aio_retried(
    call: Any, retried: Retrying, again: Callable[[float | None], Awaitable[Any]]
) -> Any:
    """The policy's ``retry`` for a grpc.aio unary call of a read method: await the attempt
    ``call``'s status; while it is retryable, wait and send the next attempt (``again`` with
    the seconds left of the caller's timeout), and return the last attempt's call. A retry
    refused locally raises its error; cancelling the caller cancels the attempt in flight."""
    while True:
        try:
            code = await call.code()
            wait = retried.delay(code, await call.trailing_metadata())
        except asyncio.CancelledError:
            call.cancel()
            raise
        if wait is None:
            return call
        await asyncio.sleep(wait)
        call = await again(retried.left())


def tell(observers: Sequence[Observer], name: str, method: str, attempt: int) -> None:
    """Tell ``observers`` of a decision ``name`` about attempt number ``attempt`` of a call to
    ``method`` (the metrics observer counts it in ``resilience.decisions``)."""
    if not observers:
        return
    attributes = {"method": method, "side": "client", "attempt": str(attempt)}
    for observer in observers:
        try:
            observer.event(name, attributes)
        except Exception as exc:
            report(f"observer event {name}", exc)


def build_client_retry(settings: RetrySettings, clock: Clock) -> ClientRetry:
    """The registry's builder (one per distinct settings, see ``_Shared.get``)."""
    return ClientRetry(settings, clock)
