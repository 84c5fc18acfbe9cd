"""Containment of the library's own faults: a bug in a policy, an observer or the metadata code
is logged and the call goes on without that part.

The first failure of each kind (where it happened and the exception type) is logged as a
warning with its traceback on the ``resilience`` logger; repeats are logged at debug level, so a
bug hit on every call does not flood the log.
"""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger("resilience")

_seen: set[tuple[str, type[BaseException]]] = set()
_lock = threading.Lock()


def report(where: str, exc: BaseException) -> None:
    """Log that ``where`` (e.g. ``"client breaker admission"``) raised ``exc``; never raises."""
    key = (where, type(exc))
    with _lock:
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
