"""The library's own faults, counted by where they happened and logged once per kind.

A bug in a policy, an observer or the metadata code must not fail the user's call: the part
that raised is skipped, and :func:`report` logs the first failure of each kind (where and the
exception type) as a warning with its traceback on the ``resilience`` logger, repeats at debug
level, and counts every one by where (:func:`fault_counts`, exported as the counter
``resilience.internal_errors``).
"""

from __future__ import annotations

import logging
import threading

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
