"""The ``hedging`` section: client-side hedged attempts of idempotent unary-unary methods."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc

from resilience._base.limits import MAX_COUNT, MAX_SECONDS
from resilience.policy._retry import MAX_ATTEMPTS
from resilience.policy._sections import normalize
from resilience.policy._values import (
    Converter,
    SettingError,
    duration,
    integer,
    number,
    optional,
    status_codes,
)

MAX_SAMPLES = 10_000
"""The most latencies a hedging estimate may keep."""

HEDGING_FIELDS: dict[str, Converter[Any]] = {
    "max_attempts": integer(ge=2, le=MAX_ATTEMPTS),
    "delay": optional(duration(ge=0, le=MAX_SECONDS)),
    "percentile": number(gt=0, lt=100),
    "samples": integer(ge=1, le=MAX_SAMPLES),
    "min_samples": integer(ge=1, le=MAX_SAMPLES),
    "non_fatal_codes": status_codes,
    "budget": number(ge=0, le=MAX_COUNT),
    "min_retries": integer(ge=0, le=MAX_COUNT),
}


@dataclass(frozen=True, slots=True)
class HedgingSettings:
    """Client-side hedging of a ``read = true`` method's unary-unary calls (gRPC's
    ``hedgingPolicy``, proposal A6): the call is sent, and while no attempt has answered, one
    more copy is sent every ``delay`` seconds, up to ``max_attempts`` (2..5) in all; the first
    attempt to answer OK wins and the others are cancelled. Without ``delay`` the wait is the
    ``percentile`` (0..100, default 95) of the method's last ``samples`` successful attempts'
    latencies, and no hedge is sent before ``min_samples`` of them were seen. An attempt that
    ends with one of ``non_fatal_codes`` (default UNAVAILABLE) sends the next hedge at once
    (or after the server's ``grpc-retry-pushback-ms``; a negative one stops the hedges); any
    other failure ends the call with it and cancels the others. Every hedge is taken from a
    budget: at most ``budget`` (a ratio) of the calls over 10 s plus ``min_retries``, shared
    by every method with the same hedging settings, the rule of the ``retry`` section. Each
    attempt is admitted by the breaker and fed to it; no hedge outlives the caller's timeout.
    A method has ``retry`` or ``hedging``, not both. Each hedge is a ``hedge.attempted``
    decision event, each win by a hedge ``hedge.won``, each hedge the budget refused
    ``hedge.budget_exhausted``. The sync interceptor form (``grpc.intercept_channel``) hedges
    ``.future()`` calls only; ``protect()``-ed channels and the aio interceptor hedge all.
    """

    max_attempts: int = 2
    delay: float | None = None
    percentile: float = 95.0
    samples: int = 200
    min_samples: int = 20
    non_fatal_codes: frozenset[grpc.StatusCode] = field(
        default=frozenset({grpc.StatusCode.UNAVAILABLE})
    )
    budget: float = 0.2
    min_retries: int = 10

    def __post_init__(self) -> None:
        normalize(self, "hedging", HEDGING_FIELDS)
        if self.min_samples > self.samples:
            raise SettingError(
                "hedging.min_samples",
                f"must be at most samples ({self.samples}), got {self.min_samples}: no hedge "
                f"would ever be sent; lower min_samples or raise samples",
            )
