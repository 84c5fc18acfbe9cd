"""The algorithm core: pure, in-memory, thread-safe admission and timing decisions.

Every class reads time only through an injected ``clock`` (seconds; default
:func:`time.monotonic`) and randomness only through an injected ``rng``, does no I/O, never
sleeps or logs, and holds its lock only around O(1) arithmetic, so one instance serves threads
and asyncio alike. Admission checks return a :class:`Decision`; the admitted one is the shared
``ALLOWED`` instance. The formulas, defaults and sources are in docs/algorithms/ (one page each).
"""

from __future__ import annotations

from resilience.algorithms._decision import ALLOWED, Decision
from resilience.algorithms.breaker import BreakerState, SreBreaker
from resilience.algorithms.ema_timeout import EmaTimeout
from resilience.algorithms.overload import OverloadGuard
from resilience.algorithms.retry_window import AdaptiveRetryWindow
from resilience.algorithms.sliding_window import SlidingWindowLimiter
from resilience.algorithms.tiered import Tier, TieredLimiter, TierStats

__all__ = [
    "ALLOWED",
    "AdaptiveRetryWindow",
    "BreakerState",
    "Decision",
    "EmaTimeout",
    "OverloadGuard",
    "SlidingWindowLimiter",
    "SreBreaker",
    "Tier",
    "TierStats",
    "TieredLimiter",
]
