"""resilience: rate limiting, tier-aware shedding, adaptive breaking, dynamic timeouts,
cross-center failover, fault injection and observability for Python gRPC services.

Importing the package is cheap: public names are loaded from their modules on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from resilience._version import __version__

if TYPE_CHECKING:
    from resilience._base.clock import ManualClock
    from resilience.algorithms import (
        AdaptiveRetryWindow,
        BreakerState,
        Decision,
        EmaTimeout,
        OverloadGuard,
        SlidingWindowLimiter,
        SreBreaker,
        Tier,
        TieredLimiter,
        TierStats,
    )
    from resilience.chaos import Fault, FaultInjector, FaultRule
    from resilience.errors import ConfigError, MissingExtraError, RejectReason, ResilienceError
    from resilience.failover import (
        AioDualCenterChannel,
        DualCenterChannel,
        FailoverStats,
        FailoverSwitches,
    )
    from resilience.interceptors import (
        AioClientInterceptor,
        AioServerInterceptor,
        ClientInterceptor,
        ServerInterceptor,
    )
    from resilience.observability import (
        ContextFilter,
        JsonFormatter,
        MetricsObserver,
        SentryReporter,
        serve_metrics,
    )
    from resilience.policy import MethodSettings, Policy, PolicyWatcher
    from resilience.recording import TrafficRecorder
    from resilience.shadow import ShadowRouter

_EXPORTS: dict[str, str] = {
    "AdaptiveRetryWindow": "resilience.algorithms",
    "AioClientInterceptor": "resilience.interceptors",
    "AioDualCenterChannel": "resilience.failover",
    "AioServerInterceptor": "resilience.interceptors",
    "BreakerState": "resilience.algorithms",
    "ClientInterceptor": "resilience.interceptors",
    "ConfigError": "resilience.errors",
    "ContextFilter": "resilience.observability",
    "Decision": "resilience.algorithms",
    "DualCenterChannel": "resilience.failover",
    "EmaTimeout": "resilience.algorithms",
    "FailoverStats": "resilience.failover",
    "FailoverSwitches": "resilience.failover",
    "Fault": "resilience.chaos",
    "FaultInjector": "resilience.chaos",
    "FaultRule": "resilience.chaos",
    "JsonFormatter": "resilience.observability",
    "ManualClock": "resilience._base.clock",
    "MethodSettings": "resilience.policy",
    "MetricsObserver": "resilience.observability",
    "MissingExtraError": "resilience.errors",
    "OverloadGuard": "resilience.algorithms",
    "Policy": "resilience.policy",
    "PolicyWatcher": "resilience.policy",
    "RejectReason": "resilience.errors",
    "ResilienceError": "resilience.errors",
    "SentryReporter": "resilience.observability",
    "ServerInterceptor": "resilience.interceptors",
    "ShadowRouter": "resilience.shadow",
    "SlidingWindowLimiter": "resilience.algorithms",
    "SreBreaker": "resilience.algorithms",
    "Tier": "resilience.algorithms",
    "TierStats": "resilience.algorithms",
    "TieredLimiter": "resilience.algorithms",
    "TrafficRecorder": "resilience.recording",
    "serve_metrics": "resilience.observability",
}
"""Public name -> module that defines it. Keep in step with ``__all__`` and TYPE_CHECKING."""

__all__ = [
    "AdaptiveRetryWindow",
    "AioClientInterceptor",
    "AioDualCenterChannel",
    "AioServerInterceptor",
    "BreakerState",
    "ClientInterceptor",
    "ConfigError",
    "ContextFilter",
    "Decision",
    "DualCenterChannel",
    "EmaTimeout",
    "FailoverStats",
    "FailoverSwitches",
    "Fault",
    "FaultInjector",
    "FaultRule",
    "JsonFormatter",
    "ManualClock",
    "MethodSettings",
    "MetricsObserver",
    "MissingExtraError",
    "OverloadGuard",
    "Policy",
    "PolicyWatcher",
    "RejectReason",
    "ResilienceError",
    "SentryReporter",
    "ServerInterceptor",
    "ShadowRouter",
    "SlidingWindowLimiter",
    "SreBreaker",
    "Tier",
    "TierStats",
    "TieredLimiter",
    "TrafficRecorder",
    "__version__",
    "serve_metrics",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'resilience' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
