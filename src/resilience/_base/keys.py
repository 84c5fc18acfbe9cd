"""Names of the metadata keys and baggage entries the library reads and writes on the wire.

All gRPC metadata keys are lowercase ASCII. Trace context rides the standard W3C ``traceparent``
and ``tracestate`` headers, and the traffic color a W3C ``baggage`` entry, through the
OpenTelemetry global propagator, so services in other languages carry them on unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

TIER = "x-resilience-tier"
"""Request metadata: the caller's tier, 1 (most critical) to 4, honored only from trusted peers."""

REJECT = "x-resilience-reject"
"""Trailing metadata: the reason (a RejectReason value) when the library refused the call."""

FAILOVER = "x-resilience-failover"
"""Request metadata: present (value "1") on a call that is itself a cross-center failover; a
service handling it never fails its own outgoing calls over again (no ping-pong)."""

PUSHBACK = "grpc-retry-pushback-ms"
"""Trailing metadata: milliseconds to wait before retrying (gRPC's retry pushback)."""

COLOR_BAGGAGE = "resilience.color"
"""W3C baggage entry carrying the traffic color (for example "loadtest")."""


def replayable(metadata: Any) -> Any:
    """A call's ``metadata=`` as the caller gave it, or, when it is a one-shot iterator (a
    generator, ``zip(keys, values)``, ``map(...)``), its items read once into a tuple.

    gRPC reads the metadata once per call, so an iterator works on a bare channel; the library
    reads it before the call is sent (to add its headers, to look for the failover mark) and
    sends it again with each attempt of a retried, hedged or failed-over call, which an iterator
    would give empty. Anything else (None, a tuple, a list, ``grpc.aio.Metadata``, a dict's
    ``items()``) can be read again and is returned as it is."""
    return tuple(metadata) if isinstance(metadata, Iterator) else metadata
