"""The ``bulkhead`` section: at most so many calls of a method pattern at once, on the server
side, the client side or both, with a bounded queue for the next ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from resilience._base.limits import MAX_COUNT, MAX_SECONDS
from resilience.policy._sections import limit_key, normalize
from resilience.policy._values import Converter, duration, integer, one_of

BULKHEAD_FIELDS: dict[str, Converter[Any]] = {
    "max_concurrent": integer(ge=1, le=MAX_COUNT),
    "max_queue": integer(ge=0, le=MAX_COUNT),
    "max_wait": duration(gt=0, le=MAX_SECONDS),
    "side": one_of("both", "server", "client"),
    "key": limit_key,
}


@dataclass(frozen=True, slots=True)
class BulkheadSettings:
    """At most ``max_concurrent`` calls run at once; up to ``max_queue`` more wait, first in
    first out, each at most ``max_wait`` seconds (and never past its deadline or timeout) for
    a place; any other call is refused with RESOURCE_EXHAUSTED (ErrorInfo ``BULKHEAD_FULL``,
    a RetryInfo of ``max_wait``, trailing ``x-resilience-reject: bulkhead``). A stream holds
    its place until it ends. ``side``: where it applies, ``"server"`` (the server
    interceptors, before the handler runs), ``"client"`` (the client interceptors and
    ``protect()``-ed channels, before the call is sent; the wait is taken off the call's
    timeout, and a call whose timeout runs out in the queue ends DEADLINE_EXCEEDED then, with
    the same trailing mark and ErrorInfo and no RetryInfo) or ``"both"`` (each side its own).
    ``key``: the name of the bulkhead; a Policy fills it with the pattern that declared the
    section, so all methods that pattern matches share one bulkhead (declare it on each method
    for one per method). A sync server's queued call waits in its gRPC worker thread (size
    the pool for ``max_concurrent + max_queue``), a sync client's in the caller's thread;
    grpc.aio calls await. A queued server call whose caller cancels it or whose deadline
    passes leaves the queue at once, as does a cancelled aio client call.
    """

    max_concurrent: int
    max_queue: int = 0
    max_wait: float = 1.0
    side: Literal["both", "server", "client"] = "both"
    key: str | None = None

    def __post_init__(self) -> None:
        normalize(self, "bulkhead", BULKHEAD_FIELDS)

    def applies_to(self, side: str) -> bool:
        """Whether the bulkhead applies on ``side`` (``"client"`` or ``"server"``)."""
        return self.side == "both" or self.side == side
