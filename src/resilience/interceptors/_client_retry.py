"""In-center retries of a read method's unary calls: the policy's ``retry`` section.

One :class:`ClientRetry` per distinct ``RetrySettings`` (shared by the methods that have them,
so their retries draw on one budget), built on :class:`resilience.pipeline.Retry`: full-jitter
backoff, ``grpc-retry-pushback-ms`` honoured, and a :class:`~resilience.pipeline.RetryBudget`.
The sync and aio client interceptors run the loop; each attempt goes through the interceptor
again (breaker admission, deadline, metadata, outcome), so the breaker sees every attempt.
"""

from __future__ import annotations

from typing import Any

import grpc

from resilience._base.clock import Clock
from resilience.pipeline import Retry, RetryBudget
from resilience.pipeline._pushback import metadata_pushback
from resilience.policy import RetrySettings


class ClientRetry:
    """The retry decision of one ``retry`` section: :meth:`delay` after each failed attempt."""

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

    def delay(
        self, number: int, code: grpc.StatusCode | None, trailing: Any, left: float | None
    ) -> float | None:
        """Seconds to wait before attempt ``number + 1`` of a call whose attempt ``number``
        ended with ``code`` and ``trailing`` metadata, with ``left`` seconds of the caller's
        timeout (None: no timeout); None when it is not retried: a code not in the section's
        ``codes``, attempts used up, the server's pushback says no, the wait would use up the
        timeout, or the budget is empty (checked last, so a refused retry costs nothing)."""
        if code not in self.codes:
            return None
        wait = self.retry.planned_delay(number, metadata_pushback(trailing))
        if wait is None or (left is not None and wait >= left):
            return None
        return wait if self.budget.try_spend() else None


def build_client_retry(settings: RetrySettings, clock: Clock) -> ClientRetry:
    """The registry's builder (one per distinct settings, see ``_Shared.get``)."""
    return ClientRetry(settings, clock)
