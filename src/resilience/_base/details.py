"""The standard error details of a call the library refuses: a ``google.rpc.Status`` in the
``grpc-status-details-bin`` trailer, built with the official ``grpcio-status`` package, as
Google's AIP-193 describes and gRPC clients in every language read them (Python:
``grpc_status.rpc_status.from_call``; Go: ``status.FromError(err).Details()``; Java:
``StatusProto.fromThrowable``).

Every rejection carries an ``ErrorInfo`` (``reason`` below, domain :data:`ERROR_DOMAIN`,
metadata such as the method, the limit's key and the tier); a rejection that says when to
come back carries a ``RetryInfo``; a rate limit carries a ``QuotaFailure`` naming the limit.
The ``Status`` repeats the call's code and message exactly (``from_call`` checks both).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "resilience.grpc"
"""``ErrorInfo.domain`` of every rejection the library makes."""

ERROR_REASONS: Mapping[str, str] = {
    "rate_limit": "RATE_LIMITED",
    "shed": "SHED",
    "overload": "OVERLOADED",
    "breaker": "BREAKER_OPEN",
    "retry_window": "RETRY_WINDOW_CLOSED",
    "fault": "FAULT_INJECTED",
    "bulkhead": "BULKHEAD_FULL",
    "deadline": "DEADLINE_PASSED",
}
"""``ErrorInfo.reason`` (UPPER_SNAKE_CASE, as AIP-193 asks) for each RejectReason value."""

DETAILS_KEY: str = rpc_status.GRPC_DETAILS_METADATA_KEY
"""``grpc-status-details-bin``: the trailer that carries the serialized ``google.rpc.Status``."""


def details_trailer(
    code: grpc.StatusCode,
    message: str,
    reason: str,
    *,
    metadata: Mapping[str, str] | None = None,
    retry_delay: float | None = None,
    quota: tuple[str, str] | None = None,
) -> tuple[str, bytes]:
    """The ``(grpc-status-details-bin, serialized Status)`` trailer of a rejected call.

    ``code`` and ``message``: the status the call ends with (repeated in the Status, as
    ``from_call`` requires). ``reason``: a RejectReason value (an unknown one is upper-cased).
    ``metadata``: ErrorInfo metadata (lowerCamelCase keys, string values). ``retry_delay``:
    seconds to wait before retrying (a RetryInfo when not None; negative is taken as 0;
    rounded up to the millisecond, as ``grpc-retry-pushback-ms`` is). ``quota``:
    ``(subject, description)`` of the quota that was exceeded (a QuotaFailure).

    A rejection is built while a server sheds load, so the parts are serialized once and
    cached (a Status is its fields' encodings one after another, and the encodings of a
    repeated field's items concatenate): a repeated rejection costs a few dict lookups."""
    items = tuple(sorted(metadata.items())) if metadata else ()
    body = _fixed_part(code, message, reason, items, quota)
    if retry_delay is not None:
        body += _retry_part(math.ceil(max(retry_delay, 0.0) * 1000))
    return DETAILS_KEY, body


@functools.lru_cache(maxsize=4096)
def _fixed_part(
    code: grpc.StatusCode,
    message: str,
    reason: str,
    metadata: tuple[tuple[str, str], ...],
    quota: tuple[str, str] | None,
) -> bytes:
    """The serialized Status with its code, message, ErrorInfo and QuotaFailure."""
    info = error_details_pb2.ErrorInfo(
        reason=ERROR_REASONS.get(reason, reason.upper()),
        domain=ERROR_DOMAIN,
        metadata=dict(metadata),
    )
    details = [_packed(info)]
    if quota is not None:
        violation = error_details_pb2.QuotaFailure.Violation(subject=quota[0], description=quota[1])
        details.append(_packed(error_details_pb2.QuotaFailure(violations=[violation])))
    status = status_pb2.Status(code=code.value[0], message=message, details=details)
    trailer = rpc_status.to_status(status).trailing_metadata[0]
    serialized: bytes = trailer[1]
    return serialized


@functools.lru_cache(maxsize=4096)
def _retry_part(milliseconds: int) -> bytes:
    """A serialized Status holding only a RetryInfo of ``milliseconds``: appended to the
    fixed part, it adds the RetryInfo to its details."""
    delay = duration_pb2.Duration()
    delay.FromMilliseconds(milliseconds)
    status = status_pb2.Status(details=[_packed(error_details_pb2.RetryInfo(retry_delay=delay))])
    serialized: bytes = status.SerializeToString()
    return serialized


def _packed(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed
