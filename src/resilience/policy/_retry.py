"""The ``retry`` section: client-side in-center retries of idempotent unary methods."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc

from resilience._base.limits import MAX_COUNT, MAX_SECONDS
from resilience.policy._sections import normalize
from resilience.policy._values import Converter, duration, integer, number, status_codes

MAX_ATTEMPTS = 5
"""The most attempts a policy may ask for (gRPC's retry design caps ``maxAttempts`` at 5)."""

RETRY_FIELDS: dict[str, Converter[Any]] = {
    "max_attempts": integer(ge=1, le=MAX_ATTEMPTS),
    "base_delay": duration(gt=0, le=MAX_SECONDS),
    "max_delay": duration(gt=0, le=MAX_SECONDS),
    "codes": status_codes,
    "budget": number(ge=0, le=MAX_COUNT),
    "min_retries": integer(ge=0, le=MAX_COUNT),
    "max_pushback": duration(ge=0, le=MAX_SECONDS),
}


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """Client-side retries of a ``read = true`` method's unary calls, each attempt admitted by
    the breaker and fed to it: up to ``max_attempts`` (1..5) in all, when an attempt ends with
    one of ``codes`` (default UNAVAILABLE); the wait before attempt k + 1 is
    ``uniform(0, min(max_delay, base_delay * 2 ** (k - 1)))`` seconds, or the server's
    ``grpc-retry-pushback-ms`` (a negative one, or one above ``max_pushback`` seconds, ends the
    retries). Retries may be at most ``budget`` (a ratio) of the calls over 10 s plus
    ``min_retries``, shared by every method with the same retry settings. A retry never
    outlives the caller's timeout. Methods not marked ``read`` are never retried, nor are
    streams. Applied by ``ClientInterceptor`` and ``AioClientInterceptor`` in both forms
    (``grpc.intercept_channel``/``interceptors=`` and ``protect()``), to every way of calling
    (blocking, ``.with_call``, ``.future()``, aio). Each retry is a ``retry.attempted``
    decision event, each one the budget refused a ``retry.budget_exhausted`` event.
    """

    max_attempts: int = 3
    base_delay: float = 0.05
    max_delay: float = 1.0
    codes: frozenset[grpc.StatusCode] = field(default=frozenset({grpc.StatusCode.UNAVAILABLE}))
    budget: float = 0.2
    min_retries: int = 10
    max_pushback: float = 10.0

    def __post_init__(self) -> None:
        normalize(self, "retry", RETRY_FIELDS)
