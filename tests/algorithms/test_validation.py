"""A bad parameter fails at construction with a message naming it and the allowed range."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from resilience.algorithms import OverloadGuard, SlidingWindowLimiter, SreBreaker, TieredLimiter

from .fakes import FakeCpu


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SlidingWindowLimiter(-1), "limit must be >= 0, got -1"),
        (lambda: SlidingWindowLimiter(10, 0.0), "window must be > 0 seconds, got 0.0"),
        (lambda: SlidingWindowLimiter(10, timedelta(seconds=-1)), "window must be > 0 seconds"),
        (lambda: SlidingWindowLimiter(10, "1"), "window must be seconds"),  # type: ignore[arg-type]
        (lambda: SlidingWindowLimiter(10, 1.0, 0), "buckets must be >= 1, got 0"),
        (lambda: TieredLimiter(10, 1.0, 2.5), r"buckets must be an integer >= 1"),  # type: ignore[arg-type]
        (lambda: SreBreaker(max_drop=1.5), r"max_drop must be in \[0, 1\], got 1.5"),
        (lambda: SreBreaker(min_requests=-1), "min_requests must be >= 0"),
        (lambda: SreBreaker(probe_interval=0), "probe_interval must be > 0 seconds"),
        (lambda: SreBreaker(window=float("inf")), "window must be > 0 seconds, got inf"),
        (lambda: OverloadGuard(decay=1.0, cpu_sampler=FakeCpu()), r"decay must be in \[0, 1\)"),
        (lambda: OverloadGuard(cooldown=0, cpu_sampler=FakeCpu()), "cooldown must be > 0"),
    ],
)
def test_bad_parameters_name_themselves(build: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()
