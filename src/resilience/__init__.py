"""resilience: rate limiting, tier-aware shedding, adaptive breaking, dynamic timeouts,
cross-center failover, fault injection and observability for Python gRPC services.

The root is deliberately small: what a service needs to wire the library in (the policy, the
four interceptors, the dual-center channels and their switches, the errors, the call-context
helpers a handler reads, and the Prometheus endpoint). Everything else is imported from its
package: ``resilience.algorithms``, ``resilience.backends``, ``resilience.chaos``,
``resilience.observability``, ``resilience.recording``, ``resilience.shadow``,
``resilience.testing`` and the others (docs/api/index.md lists them).

Importing the package is cheap: public names are loaded from their modules on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from resilience._version import __version__

if TYPE_CHECKING:
    from resilience.context import current_color, current_tier, is_shadow, time_remaining
    from resilience.errors import ConfigError, MissingExtraError, RejectReason, ResilienceError
    from resilience.failover import AioDualCenterChannel, DualCenterChannel, FailoverSwitches
    from resilience.interceptors import (
        AioClientInterceptor,
        AioServerInterceptor,
        ClientInterceptor,
        ServerInterceptor,
    )
    from resilience.observability import serve_metrics
    from resilience.policy import Policy, PolicyWatcher

_EXPORTS: dict[str, str] = {
    "AioClientInterceptor": "resilience.interceptors",
    "AioDualCenterChannel": "resilience.failover",
    "AioServerInterceptor": "resilience.interceptors",
    "ClientInterceptor": "resilience.interceptors",
    "ConfigError": "resilience.errors",
    "DualCenterChannel": "resilience.failover",
    "FailoverSwitches": "resilience.failover",
    "MissingExtraError": "resilience.errors",
    "Policy": "resilience.policy",
    "PolicyWatcher": "resilience.policy",
    "RejectReason": "resilience.errors",
    "ResilienceError": "resilience.errors",
    "ServerInterceptor": "resilience.interceptors",
    "current_color": "resilience.context",
    "current_tier": "resilience.context",
    "is_shadow": "resilience.context",
    "serve_metrics": "resilience.observability",
    "time_remaining": "resilience.context",
}
"""Public name -> module that defines it. Keep in step with ``__all__`` and TYPE_CHECKING."""

__all__ = [
    "AioClientInterceptor",
    "AioDualCenterChannel",
    "AioServerInterceptor",
    "ClientInterceptor",
    "ConfigError",
    "DualCenterChannel",
    "FailoverSwitches",
    "MissingExtraError",
    "Policy",
    "PolicyWatcher",
    "RejectReason",
    "ResilienceError",
    "ServerInterceptor",
    "__version__",
    "current_color",
    "current_tier",
    "is_shadow",
    "serve_metrics",
    "time_remaining",
]

_MOVED: dict[str, str] = {
    "AdaptiveRetryWindow": "resilience.algorithms",
    "BreakerState": "resilience.algorithms",
    "ContextFilter": "resilience.observability",
    "Decision": "resilience.algorithms",
    "EmaTimeout": "resilience.algorithms",
    "FailoverStats": "resilience.failover",
    "Fault": "resilience.chaos",
    "FaultInjector": "resilience.chaos",
    "FaultRule": "resilience.chaos",
    "JsonFormatter": "resilience.observability",
    "ManualClock": "resilience.testing",
    "MethodSettings": "resilience.policy",
    "MetricsObserver": "resilience.observability",
    "OverloadGuard": "resilience.algorithms",
    "SentryReporter": "resilience.observability",
    "ShadowRouter": "resilience.shadow",
    "SlidingWindowLimiter": "resilience.algorithms",
    "SreBreaker": "resilience.algorithms",
    "Tier": "resilience.algorithms",
    "TierStats": "resilience.algorithms",
    "TieredLimiter": "resilience.algorithms",
    "TrafficRecorder": "resilience.recording",
}
"""Names the root exported before 0.1.0 and where they live now (for the error message only)."""


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        home = _MOVED.get(name)
        hint = f"; import it from {home}: from {home} import {name}" if home else ""
        raise AttributeError(f"module 'resilience' has no attribute {name!r}{hint}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
