"""The library's exceptions and the reasons it gives for rejecting a call."""

from __future__ import annotations

from enum import Enum

__all__ = ["ConfigError", "MissingExtraError", "RejectReason", "ResilienceError"]


class RejectReason(str, Enum):
    """Why the library refused a call locally. The value travels in trailing metadata
    (``x-resilience-reject``) and in the status details, so a caller can tell a local decision
    from a remote failure."""

    BREAKER = "breaker"
    """The client's adaptive breaker dropped the call (SreBreaker)."""
    RATE_LIMIT = "rate_limit"
    """A server-side sliding-window limit was reached."""
    SHED = "shed"
    """A tier was shed by the tiered limiter to keep capacity for more critical tiers."""
    OVERLOAD = "overload"
    """The server's CPU-based overload guard shed the call."""
    RETRY_WINDOW = "retry_window"
    """The adaptive cross-center retry window refused a failover attempt."""
    FAULT = "fault"
    """An injected fault (chaos) aborted the call."""
    BULKHEAD = "bulkhead"
    """A pipeline's bulkhead was full: as many calls as allowed ran and its queue was full."""
    DEADLINE = "deadline"
    """The deadline the call inherited from the call being served had already passed, or its
    ``timeout=`` was negative or NaN: the call was not sent (DEADLINE_EXCEEDED)."""

    def __str__(self) -> str:
        return self.value


REASON_VALUES = frozenset(reason.value for reason in RejectReason)
"""The value of every :class:`RejectReason`: what a known rejection's reason text can be (a
text outside it, read from a peer or a hook, is counted as ``other``)."""


class ResilienceError(Exception):
    """Base class of every exception the library raises."""


class ConfigError(ResilienceError, ValueError):
    """A configuration value is invalid. The message names the key path and what to change."""


class MissingExtraError(ResilienceError, ImportError):
    """An optional integration was used without its extra installed; the message says which."""
