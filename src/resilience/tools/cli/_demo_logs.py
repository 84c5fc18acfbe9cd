"""The library's log records, kept off the terminal while the demo's live view runs.

A warning written to stderr lands above or between the live view's frames; the demo collects
the ``resilience`` loggers' records instead and shows them inside its view and summary.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

STORE_LOGGER = "resilience.backends"
"""Where a shared limit logs that its store failed (and that it answers again)."""


class LogNotes(logging.Handler):
    """Collects the messages of the records it handles (WARNING and above), thread-safe:
    :meth:`take` returns those not taken yet; ``messages`` keeps them all;
    ``store_failures`` counts the times a limit's store failed and the limit fell back to
    deciding locally (each such episode is logged once, when it starts)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.store_failures = 0
        self._taken = 0
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not fail the call that logged
            message = str(record.msg)
        failure = record.name == STORE_LOGGER and " failed (" in str(record.msg)
        with self._guard:
            self.messages.append(message)
            self.store_failures += failure

    def take(self) -> list[str]:
        """The messages logged since the last take."""
        with self._guard:
            new, self._taken = self.messages[self._taken :], len(self.messages)
        return new


@contextmanager
def collected(name: str = "resilience") -> Iterator[LogNotes]:
    """While inside, logger ``name``'s records go to the yielded :class:`LogNotes` only (not to
    the handlers above it, nor to stderr); on leaving, the logger is as it was."""
    logger = logging.getLogger(name)
    notes = LogNotes()
    propagate = logger.propagate
    logger.addHandler(notes)
    logger.propagate = False
    try:
        yield notes
    finally:
        logger.removeHandler(notes)
        logger.propagate = propagate
