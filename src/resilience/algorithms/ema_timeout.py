"""EmaTimeout: a per-dependency timeout that follows the exponential moving average latency."""

from __future__ import annotations

import threading

from resilience._base.limits import MAX_EMA_CALLS
from resilience.algorithms._params import Duration, integer, seconds


class EmaTimeout:
    """A dynamic timeout in ``[t_hwm, t_max]`` driven by an EMA of latency (after ema-timeout).

    Each :meth:`observe` folds a sample into ``ema <- r * x + (1 - r) * ema`` with
    ``r = 2 / (n + 1)`` and ``ema`` starting at 0; a failed or timed-out call contributes
    ``x = max(latency, t_max)``. Then::

        timeout() = t_max                                                  if ema <= t_avg
                  = t_hwm                                                  if ema >= t_hwm
                  = t_hwm + (t_hwm - ema) / (t_hwm - t_avg) * (t_max - t_hwm)  otherwise

    A healthy dependency (fast on average) gets elastic room up to ``t_max`` for its long
    tail, so a short spike does not fail requests en masse; a degrading one (average near
    ``t_hwm``) is cut at ``t_hwm`` and fails fast. Example: t_avg 60 ms, t_hwm 250 ms,
    t_max 500 ms and ema 155 ms give 375 ms.

    All times are seconds (float or timedelta): ``0 <= t_avg < t_hwm <= t_max``. ``n`` (>= 1) is
    the EMA's span in samples: larger follows latency more slowly. Choose ``t_avg`` near the
    healthy mean latency, ``t_hwm`` where the caller would rather fail than wait, ``t_max`` the
    most any single call may take. Source: the QQ Music article's "EMA-based dynamic timeout",
    citing the ema-timeout project (defaults Tavg 60, Thwm 250, Tmax 500 ms, N 80).

    No clock: the timeout moves with samples, not with time. Thread-safe: :meth:`observe`
    updates under a lock and :meth:`timeout` reads one precomputed float.
    """

    __slots__ = ("_ema", "_keep", "_lock", "_rate", "_t_avg", "_t_hwm", "_t_max", "_timeout")

    def __init__(
        self,
        t_avg: Duration = 0.060,
        t_hwm: Duration = 0.250,
        t_max: Duration = 0.500,
        n: int = 80,
    ) -> None:
        self._t_avg = seconds("t_avg", t_avg, allow_zero=True)
        self._t_hwm = seconds("t_hwm", t_hwm)
        self._t_max = seconds("t_max", t_max)
        if not self._t_avg < self._t_hwm:
            raise ValueError(f"t_avg must be < t_hwm ({self._t_hwm}), got {self._t_avg!r}")
        if not self._t_hwm <= self._t_max:
            raise ValueError(f"t_max must be >= t_hwm ({self._t_hwm}), got {self._t_max!r}")
        self._rate = 2.0 / (integer("n", n, minimum=1, maximum=MAX_EMA_CALLS) + 1)
        self._keep = 1.0 - self._rate
        self._ema = 0.0
        self._timeout = self._t_max
        self._lock = threading.Lock()

    @property
    def ema(self) -> float:
        """The moving average latency in seconds (0 before the first sample)."""
        return self._ema

    @property
    def t_avg(self) -> float:
        """Seconds: at or below this average the timeout is ``t_max``."""
        return self._t_avg

    @property
    def t_hwm(self) -> float:
        """Seconds: the high-water mark; at or above this average the timeout is ``t_hwm``."""
        return self._t_hwm

    @property
    def t_max(self) -> float:
        """Seconds: the longest timeout given."""
        return self._t_max

    def timeout(self) -> float:
        """The current timeout in seconds, always within ``[t_hwm, t_max]``."""
        return self._timeout

    def observe(self, latency: float, ok: bool = True) -> None:
        """Fold a call's latency (seconds, >= 0) in; ``ok=False`` for a failed or timed-out
        call, whose sample is ``max(latency, t_max)``."""
        if not latency >= 0:  # also refuses NaN, which would poison the average for good
            raise ValueError(f"latency must be >= 0 seconds, got {latency!r}")
        if not ok and latency < self._t_max:
            latency = self._t_max
        lock = self._lock
        lock.acquire()  # not `with`: 50 ns less per call on CPython 3.11
        try:
            ema = self._ema = self._rate * latency + self._keep * self._ema
            t_hwm = self._t_hwm
            if ema <= self._t_avg:
                self._timeout = self._t_max
            elif ema >= t_hwm:
                self._timeout = t_hwm
            else:
                elastic = (t_hwm - ema) / (t_hwm - self._t_avg) * (self._t_max - t_hwm)
                # min(): float rounding must not lift the sum an ulp above t_max.
                self._timeout = min(t_hwm + elastic, self._t_max)
        finally:
            lock.release()

    def __repr__(self) -> str:
        return (
            f"EmaTimeout(t_avg={self._t_avg}, t_hwm={self._t_hwm}, t_max={self._t_max}, "
            f"n={round(2.0 / self._rate - 1)}, ema={self._ema!r})"
        )
