"""Resilience for any call: a :class:`Pipeline` of composable stages, sync and asyncio.

    pipe = Pipeline(
        [Fallback(None), Retry(3), Breaker(SreBreaker()), RateLimit(limiter), Timeout(0.5)],
        name="inventory",
        idempotent=True,
    )
    answer = pipe.call(fetch, item)            # or: await pipe.acall(afetch, item)

Admission stages (:class:`RateLimit`, :class:`Overload`, :class:`Breaker`, :class:`Bulkhead`,
:class:`Timeout`) give a :class:`Permit` or a :class:`Rejection`; the pipeline ends every
permit exactly once with the call's :class:`Outcome`. Wrapping stages (:class:`Retry`,
:class:`Hedge`, :class:`Fallback`) run the rest once or more. See docs/pipeline.md.
"""

from __future__ import annotations

from resilience.pipeline._budget import RetryBudget
from resilience.pipeline._bulkhead import Bulkhead
from resilience.pipeline._core import (
    Attempt,
    CallTimeout,
    Kind,
    Outcome,
    Permit,
    Rejected,
    Rejection,
    Stage,
    SyncStage,
)
from resilience.pipeline._engine import time_left
from resilience.pipeline._fallback import Fallback
from resilience.pipeline._hedge import Hedge
from resilience.pipeline._pipeline import Pipeline
from resilience.pipeline._retry import Retry
from resilience.pipeline._stages import Breaker, Overload, RateLimit, Timeout

__all__ = [
    "Attempt",
    "Breaker",
    "Bulkhead",
    "CallTimeout",
    "Fallback",
    "Hedge",
    "Kind",
    "Outcome",
    "Overload",
    "Permit",
    "Pipeline",
    "RateLimit",
    "Rejected",
    "Rejection",
    "Retry",
    "RetryBudget",
    "Stage",
    "SyncStage",
    "Timeout",
    "time_left",
]
