"""Observers that stay silent until their backend exists, and the watch that wakes them.

The default observers have nothing to do until a backend is set up: the metrics observer until
an OpenTelemetry SDK meter provider is installed globally, the crash reporter until sentry-sdk
is initialised. While they wait they declare that they hear nothing, so a call tells them
nothing. Each registers here with :func:`wait_for_backend`; a daemon thread
(``resilience-backend-watch``) asks every waiting observer :meth:`Waiter.backend_ready` every
:data:`RECHECK` seconds, and when one answers True it stops waiting and every holder re-reads
its interest (:func:`resilience._base.interest_watch.changed`): calls that start afterwards tell
it. The thread runs only while something waits, and a forked child starts its own. Something
that installs a backend itself (``serve_metrics``) calls :func:`check_now` so that the next
call already counts. Stdlib only.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from typing import Protocol

from resilience._base import interest_watch

RECHECK = 1.0
"""Seconds between two looks at whether a waiting observer's backend exists."""

_log = logging.getLogger("resilience.observability")


class Waiter(Protocol):
    """An observer that hears nothing until its backend exists."""

    def backend_ready(self) -> bool:
        """Look at the backend again; True once the observer hears calls (its ``interest``
        already says so when this returns True)."""


_lock = threading.Lock()
_waiting: weakref.WeakSet[Waiter] = weakref.WeakSet()
_thread: threading.Thread | None = None


def wait_for_backend(observer: Waiter) -> None:
    """Look at ``observer``'s backend every :data:`RECHECK` seconds until it is ready, then
    have every holder re-read its interest (held weakly: an observer collected leaves)."""
    with _lock:
        _waiting.add(observer)
        _start_watch()


def _start_watch() -> None:
    """Start the watch thread unless it runs; call it holding ``_lock``."""
    global _thread
    if _thread is None:
        _thread = threading.Thread(target=_watch, name="resilience-backend-watch", daemon=True)
        _thread.start()


def check_now() -> None:
    """Ask every waiting observer now (what the thread does every :data:`RECHECK` seconds);
    the ready ones stop waiting and the holders re-read their interest before this returns.
    An observer whose check raises is logged and keeps waiting."""
    with _lock:
        waiting = list(_waiting)
    for observer in waiting:
        try:
            ready = observer.backend_ready()
        except Exception:
            _log.warning("looking for %r's backend failed", observer, exc_info=True)
            continue
        if ready:
            with _lock:
                _waiting.discard(observer)
            interest_watch.changed(observer)


def _watch() -> None:
    global _thread
    while True:
        time.sleep(RECHECK)
        check_now()
        with _lock:
            if not _waiting:
                _thread = None
                return


def _after_fork_in_child() -> None:
    """The child has no watch thread and may inherit a lock held by the parent's: fresh ones,
    and a thread of its own if observers still wait."""
    global _lock, _thread
    _lock = threading.Lock()
    _thread = None
    if _waiting:
        with _lock:
            _start_watch()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)
