"""Containment of the library's own faults: a bug in a policy, an observer or the metadata code
is logged and counted, and the call goes on without that part.

The first failure of each kind (where it happened and the exception type) is logged as a
warning with its traceback on the ``resilience`` logger; repeats are logged at debug level, so a
bug hit on every call does not flood the log. Every failure is counted by where it happened:
:func:`fault_counts`, exported as the counter ``resilience.internal_errors`` (attribute
``resilience.where``; for example ``method state`` when a method's breaker, timeout or limiter
could not be built, say on MemoryError, and the call ran without them).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

from resilience.events import GaugeReading, register_gauge_source

logger = logging.getLogger("resilience")

_seen: set[tuple[str, type[BaseException]]] = set()
_counts: dict[str, int] = {}
_lock = threading.Lock()


def report(where: str, exc: BaseException) -> None:
    """Log that ``where`` (e.g. ``"client breaker admission"``) raised ``exc`` and count it;
    never raises."""
    key = (where, type(exc))
    with _lock:
        _counts[where] = _counts.get(where, 0) + 1
        first = key not in _seen
        if first:
            _seen.add(key)
    if first:
        logger.warning(
            "resilience: %s raised %s; the call proceeds without it (logged once per kind)",
            where,
            type(exc).__name__,
            exc_info=exc,
        )
    else:
        logger.debug("resilience: %s raised %r again", where, exc)


def fault_counts() -> dict[str, int]:
    """How many times each part of the library failed and was skipped since start, by where
    (a copy)."""
    with _lock:
        return dict(_counts)


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
