"""The ``fallback`` section: what a client call answers instead of failing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import grpc

from resilience.policy._sections import normalize
from resilience.policy._values import Converter, boolean, one_of, status_codes

FALLBACK_FIELDS: dict[str, Converter[Any]] = {
    "codes": status_codes,
    "rejections": boolean,
    "response": one_of("empty", "registered"),
}


@dataclass(frozen=True, slots=True)
class FallbackSettings:
    """Client-side: a unary-unary call that fails with one of ``codes`` (default UNAVAILABLE
    and DEADLINE_EXCEEDED), or that the library refused (``rejections``: a local breaker,
    bulkhead or fault refusal, or a server's rate limit, shedding, overload or bulkhead; any
    call whose trailing metadata carries ``x-resilience-reject``), answers instead of raising:
    with the fallback function registered for the method on the interceptor
    (``fallbacks={pattern: function}``, called as ``function(request, error)``), else, when
    ``response`` is ``"empty"``, with the response type's default message (only where the
    response deserializer is known: ``protect()``-ed channels; not the ``grpc.intercept_channel``
    form, which gRPC gives no deserializer). ``response = "registered"``: only registered
    functions answer. A function that raises is logged and the call raises its own error. The
    breaker, the dynamic timeout and observers see the failure; each answer is an observer
    event ``fallback.used``.
    """

    codes: frozenset[grpc.StatusCode] = field(
        default=frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
    )
    rejections: bool = True
    response: Literal["empty", "registered"] = "empty"

    def __post_init__(self) -> None:
        normalize(self, "fallback", FALLBACK_FIELDS)
