"""Containment of the library's own faults: a bug in a policy, an observer or the metadata code
is logged and counted, and the call goes on without that part.

The first failure of each kind (where it happened and the exception type) is logged as a
warning with its traceback on the ``resilience`` logger; repeats are logged at debug level, so a
bug hit on every call does not flood the log. Every failure is counted by where it happened:
:func:`fault_counts`, exported as the counter ``resilience.internal_errors`` (attribute
``resilience.where``; for example ``method state`` when a method's breaker, timeout or limiter
could not be built, say on MemoryError, and the call ran without them). The counting lives in
:mod:`resilience._base.faults`, so that lower layers (the metrics observer's flusher) count
their faults in the same place; this module publishes the counts and releases resources.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from resilience._base.faults import _seen as _seen
from resilience._base.faults import fault_counts as fault_counts
from resilience._base.faults import logger as logger
from resilience._base.faults import report as report
from resilience.events import GaugeReading, register_gauge_source


class _FaultCounts:
    """Publishes :func:`fault_counts` as ``internal_errors.<where>`` readings."""

    def gauge_readings(self) -> Iterator[GaugeReading]:
        for where, count in fault_counts().items():
            yield GaugeReading(f"internal_errors.{where}", float(count), {})


_SOURCE = _FaultCounts()
register_gauge_source(_SOURCE)  # module-level: the weak reference lives as long as the module


def release(what: str, close: Callable[[], object]) -> None:
    """Run ``close``, which releases ``what`` (a replaced policy's recording file, a store
    connection); an exception is logged as a warning, never raised. A reload or ``close()``
    that fails halfway would leave a mixed policy, and a resource whose release failed cannot
    be released again by raising."""
    try:
        close()
    except Exception as exc:
        logger.warning(
            "resilience: closing %s raised %s: %s; carrying on without it",
            what,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
