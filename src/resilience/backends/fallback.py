"""The breaker around a shared store: after a failure, skip the store for a while.

While the store is skipped the limiter decides locally (fail-open) or rejects (fail-closed).
The back-off starts at ``initial_backoff`` and doubles on each failed probe up to
``max_backoff``; after it, one call (or one periodic sync) probes the store, and a success
closes the breaker. Each change of state is logged once on logger ``resilience.backends`` and
exported as the gauge ``limiter.fallback`` (1 while falling back, else 0).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from resilience._base.clock import Clock, default_clock
from resilience.events import GaugeReading

logger = logging.getLogger("resilience.backends")

DEFAULT_INITIAL_BACKOFF = 0.05
DEFAULT_MAX_BACKOFF = 0.5
"""Seconds. Short on purpose: a probe is cheap (one call bounded by the socket timeout), and
distributed limiting should resume well within a second of the store coming back."""


class StoreBreaker:
    """Whether to ask the store now. Thread-safe; the closed path is one attribute read.

    ``limit_name`` and ``store`` name the limit and the store in logs and gauge attributes;
    ``local_behaviour`` says in the warning what happens meanwhile.
    """

    def __init__(
        self,
        *,
        limit_name: str,
        store: str,
        local_behaviour: str,
        initial_backoff: float = DEFAULT_INITIAL_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        clock: Clock = default_clock,
    ) -> None:
        if not initial_backoff > 0:
            raise ValueError(f"initial_backoff must be > 0 seconds, got {initial_backoff!r}")
        if not max_backoff >= initial_backoff:
            raise ValueError(
                f"max_backoff must be >= initial_backoff ({initial_backoff}), got {max_backoff!r}"
            )
        self._name = limit_name
        self._store = store
        self._local_behaviour = local_behaviour
        self._initial = initial_backoff
        self._max = max_backoff
        self._clock = clock
        self._lock = threading.Lock()
        self.open = False
        """True while the store is being skipped (the limiter is in fallback)."""
        self._backoff = initial_backoff
        self._retry_at = 0.0
        self._opened_at = 0.0

    def allow(self) -> bool:
        """True if the store may be asked now: always while closed; once per back-off while
        open (that call is the probe, and the next probe waits another back-off)."""
        if not self.open:
            return True
        now = self._clock()
        with self._lock:
            if now < self._retry_at:
                return False
            self._retry_at = now + self._backoff
            return True

    def retry_in(self) -> float:
        """Seconds until the next probe (0 when closed)."""
        return max(0.0, self._retry_at - self._clock()) if self.open else 0.0

    def succeeded(self) -> None:
        """The store answered: close the breaker (logged once if it was open)."""
        if self.open:
            self._close()

    def _close(self) -> None:
        with self._lock:
            if not self.open:
                return
            self.open = False
            self._backoff = self._initial
            down_for = self._clock() - self._opened_at
        logger.warning(
            "limit %r: store %s answers again after %.2f s; distributed limiting resumed",
            self._name,
            self._store,
            down_for,
        )

    def failed(self, error: BaseException) -> None:
        """The store failed or was too slow: open the breaker, or lengthen its back-off."""
        now = self._clock()
        with self._lock:
            was_open = self.open
            if was_open:
                self._backoff = min(self._backoff * 2, self._max)
            else:
                self.open = True
                self._opened_at = now
                self._backoff = self._initial
            self._retry_at = now + self._backoff
        if not was_open:
            logger.warning(
                "limit %r: store %s failed (%s: %s); %s until it answers again",
                self._name,
                self._store,
                type(error).__name__,
                error,
                self._local_behaviour,
            )

    def gauge_readings(self) -> Iterator[GaugeReading]:
        """``limiter.fallback``: 1 while the store is skipped, else 0."""
        yield GaugeReading("limiter.fallback", 1.0 if self.open else 0.0, {"limit": self._name})
