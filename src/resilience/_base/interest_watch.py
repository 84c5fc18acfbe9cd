"""Who reads observers' declared interest again when one of them changes it.

Whatever sorts its observers by interest when it is built (the interceptors' pipelines,
``resilience.pipeline.Pipeline``, the failover channel) registers here; an observer whose
interest changed (the status page's statistics, when a page starts or stops) calls
:func:`changed`, and every registered holder sorts its observers again. Holders are held
weakly: one that is garbage collected leaves by itself. Stdlib only.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Protocol

_log = logging.getLogger("resilience.observability")


class Holder(Protocol):
    """Something that sorted observers by their interest when it was built."""

    def reread_interest(self, observer: object) -> None:
        """Sort the observers again if ``observer`` is one of them (else do nothing)."""


_lock = threading.Lock()
_changing = threading.Lock()  # one change at a time: the last re-read sees the last change
_holders: weakref.WeakSet[Holder] = weakref.WeakSet()


def watch(holder: Holder) -> None:
    """Have ``holder`` re-read its observers' interest whenever :func:`changed` is called
    (held weakly; it must be weak-referenceable). A holder registers before it sorts its
    observers the first time, so a change during its construction is not missed."""
    with _lock:
        _holders.add(holder)


def changed(observer: object) -> None:
    """Tell every watching holder that ``observer``'s interest changed. Changes are handled one
    at a time, each reading the interest as it is then. A holder that raises is logged and the
    others still re-read."""
    with _changing:
        with _lock:
            holders = list(_holders)
        for holder in holders:
            try:
                holder.reread_interest(observer)
            except Exception:
                _log.warning(
                    "re-reading %r's interest failed in %r", observer, holder, exc_info=True
                )


def _after_fork_in_child() -> None:
    """A lock held by another of the parent's threads at the fork would never be released in
    the child: fresh ones."""
    global _lock, _changing
    _lock = threading.Lock()
    _changing = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)
