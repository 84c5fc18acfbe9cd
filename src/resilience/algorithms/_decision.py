"""The value every admission check returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of an admission check.

    ``allowed``: whether the request may proceed. ``retry_after``: seconds after which a retry
    could be admitted, when the algorithm knows it (None otherwise). ``reason``: why it was
    refused (a :class:`resilience.errors.RejectReason` value), None when allowed.
    """

    allowed: bool
    retry_after: float | None = None
    reason: str | None = None


ALLOWED = Decision(True)
"""The shared admitted decision: the hot path returns this instance and allocates nothing."""
