"""The settings of one method: the sections it may carry (see
:mod:`resilience.policy._sections`) and its plain keys, as the policy loader reads them.

Adding a section (for example ``faults``): write its dataclass and converter table in
``_sections.py``, add a field to :class:`MethodSettings`, and register a :class:`SectionSpec`
in :data:`SECTIONS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc

from resilience._base.limits import shown
from resilience.policy._bulkhead import BULKHEAD_FIELDS, BulkheadSettings
from resilience.policy._fallback import FALLBACK_FIELDS, FallbackSettings
from resilience.policy._hedging import HEDGING_FIELDS, HedgingSettings
from resilience.policy._retry import RETRY_FIELDS, RetrySettings
from resilience.policy._sections import (
    BREAKER_FIELDS,
    OVERLOAD_FIELDS,
    RATE_LIMIT_FIELDS,
    TIMEOUT_FIELDS,
    BreakerSettings,
    OverloadSettings,
    RateLimitSettings,
    TimeoutSettings,
    normalize,
)
from resilience.policy._values import Converter, SettingError, boolean, integer, status_codes

DEFAULT_FAILURE_CODES: frozenset[grpc.StatusCode] = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DATA_LOSS,
    }
)
"""Status codes that count as failures for the breaker and the dynamic timeout by default.
UNKNOWN is what a gRPC server answers when its handler raises (with or without the server
interceptor): a crash is the callee's failure, as in the OpenTelemetry RPC conventions."""


@dataclass(frozen=True)
class SectionSpec:
    """How the loader reads one section: its dataclass, key converters and required keys."""

    cls: type[Any]
    fields: Mapping[str, Converter[Any]]
    on_by_default: bool
    required: tuple[str, ...] = ()


SECTIONS: dict[str, SectionSpec] = {
    "breaker": SectionSpec(BreakerSettings, BREAKER_FIELDS, on_by_default=True),
    "timeout": SectionSpec(TimeoutSettings, TIMEOUT_FIELDS, on_by_default=False),
    "rate_limit": SectionSpec(
        RateLimitSettings, RATE_LIMIT_FIELDS, on_by_default=False, required=("limit",)
    ),
    "overload": SectionSpec(OverloadSettings, OVERLOAD_FIELDS, on_by_default=False),
    "retry": SectionSpec(RetrySettings, RETRY_FIELDS, on_by_default=False),
    "hedging": SectionSpec(HedgingSettings, HEDGING_FIELDS, on_by_default=False),
    "bulkhead": SectionSpec(
        BulkheadSettings, BULKHEAD_FIELDS, on_by_default=False, required=("max_concurrent",)
    ),
    "fallback": SectionSpec(FallbackSettings, FALLBACK_FIELDS, on_by_default=False),
}
"""Sections of a method's settings: a table, ``true`` (on) or ``false`` (off) in a policy."""

SCALARS: dict[str, Converter[Any]] = {
    "failure_codes": status_codes,
    "tier": integer(ge=1, le=4),
    "read": boolean,
    "failover": boolean,
    "propagate": boolean,
}
"""Plain keys of a method's settings: the most specific pattern that gives one wins."""


ONE_OF_RETRY_OR_HEDGING = (
    "a method may have retry or hedging, not both (each sends extra attempts, on its own "
    "rule); turn one off (retry = false or hedging = false) where the other is on"
)


@dataclass(frozen=True, slots=True)
class MethodSettings:
    """Everything the interceptors apply to one method. A section set to None is off.

    Equality means "settings unchanged": a hot reload keeps a method's algorithm state when its
    old and new settings compare equal. ``tier`` (1..4) applies to calls whose caller is not a
    trusted peer claiming one; ``read`` marks an idempotent read that may fail over to the
    remote center when ``failover`` is on; ``propagate`` injects and extracts trace, color and
    tier.
    """

    breaker: BreakerSettings | None = BreakerSettings()
    failure_codes: frozenset[grpc.StatusCode] = field(default=DEFAULT_FAILURE_CODES)
    timeout: TimeoutSettings | None = None
    rate_limit: RateLimitSettings | None = None
    overload: OverloadSettings | None = None
    retry: RetrySettings | None = None
    hedging: HedgingSettings | None = None
    bulkhead: BulkheadSettings | None = None
    fallback: FallbackSettings | None = None
    tier: int = 2
    read: bool = False
    failover: bool = True
    propagate: bool = True

    def __post_init__(self) -> None:
        for name, spec in SECTIONS.items():
            value = getattr(self, name)
            if value is not None and not isinstance(value, spec.cls):
                raise SettingError(
                    name, f"must be a {spec.cls.__name__} or None, got {shown(value)}"
                )
        normalize(self, "", SCALARS)
        if self.retry is not None and self.hedging is not None:
            raise SettingError("hedging", ONE_OF_RETRY_OR_HEDGING)
