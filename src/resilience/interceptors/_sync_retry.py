"""The retried call of a sync channel: attempts that follow each other from done callbacks,
with the backoff waited on a timer.

A ``.future()`` call returns at once, so its retries cannot use the caller's thread: each
attempt's done callback (run by gRPC when the attempt ends) decides, and a retry waits its
backoff on a ``threading.Timer`` (a thread that ends when the wait is over, or at once when the
call is cancelled), then sends the next attempt in the caller's context. The interceptor form
uses it for blocking calls too (the caller waits in ``result()``): an interceptor cannot tell a
blocking call from a future. A ``protect()``-ed channel retries a blocking call in the
caller's thread instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from resilience.interceptors._client_retry import Retrying
from resilience.interceptors._guard import report
from resilience.interceptors._sync_attempts import AttemptsFuture
from resilience.interceptors._sync_call import LocalRejection


class RetriedFuture(AttemptsFuture):
    """A call of a method with a ``retry`` section (see :class:`AttemptsFuture` for what it
    shows). ``send(timeout)`` starts the next attempt through the client pipeline (or returns
    its :class:`LocalRejection`, which ends the call); a retry that cannot be sent (say, the
    channel was closed) ends the call with the last attempt's status."""

    def __init__(self, first: Any, retrying: Retrying, send: Callable[[float | None], Any]) -> None:
        super().__init__(first, retrying.left)
        self._retrying = retrying
        self._send = send
        self._timer: threading.Timer | None = None
        first.add_done_callback(self._attempt_done)

    def _stop(self) -> list[Any]:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        return [] if self._attempt.done() else [self._attempt]

    def _attempt_done(self, attempt: Any) -> None:
        """An attempt ended: send the next one after its backoff, or end the call."""
        with self._lock:
            if attempt is not self._attempt or self._ended.is_set():
                return
            wait = None
            if not isinstance(attempt, LocalRejection):
                try:
                    wait = self._retrying.delay(attempt.code(), attempt.trailing_metadata())
                except Exception as exc:  # a bug: the call ends with this attempt's status
                    report("client retry decision", exc)
            if wait is not None:
                timer = self._timer = threading.Timer(wait, self._again)
                timer.daemon = True
                timer.start()
                return
        self._end()

    def _again(self) -> None:
        """The backoff is over: send the next attempt (in the caller's context)."""
        with self._lock:
            self._timer = None
            ended = self._ended.is_set()
        if ended:
            return
        try:
            attempt = self._in_context(self._send)
        except Exception as exc:
            report("client retry sending", exc)
            self._end()
            return
        with self._lock:
            ended = self._ended.is_set()
            if not ended:
                self._attempt = attempt
        if ended:  # cancelled meanwhile
            attempt.cancel()
            return
        attempt.add_done_callback(self._attempt_done)
