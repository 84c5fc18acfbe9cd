"""Per-method policies for the interceptors: patterns, settings, loading and hot reload.

A :class:`Policy` maps method patterns (``*``, ``/pkg.Service/*``, ``/pkg.Service/Method``) to
the settings of each algorithm and switch; :meth:`Policy.settings_for` returns the resolved
:class:`MethodSettings` of one method. Policies are immutable values: to change one at runtime,
build a new one (a :class:`PolicyWatcher` does so when a file changes) and hand it to the
interceptors. The file format is described in docs/policy.md.
"""

from __future__ import annotations

from resilience.policy._bulkhead import BulkheadSettings
from resilience.policy._chaos import ChaosSettings, RecordSettings
from resilience.policy._core import Policy
from resilience.policy._fallback import FallbackSettings
from resilience.policy._hedging import HedgingSettings
from resilience.policy._profiling import ProfilingSettings
from resilience.policy._retry import RetrySettings
from resilience.policy._schema import MethodSettings
from resilience.policy._sections import (
    BreakerSettings,
    OverloadSettings,
    RateLimitSettings,
    TimeoutSettings,
)
from resilience.policy._watch import PolicyWatcher

__all__ = [
    "BreakerSettings",
    "BulkheadSettings",
    "ChaosSettings",
    "FallbackSettings",
    "HedgingSettings",
    "MethodSettings",
    "OverloadSettings",
    "Policy",
    "PolicyWatcher",
    "ProfilingSettings",
    "RateLimitSettings",
    "RecordSettings",
    "RetrySettings",
    "TimeoutSettings",
]
