"""Per-method policies for the interceptors: patterns, settings, loading and hot reload.

A :class:`Policy` maps method patterns (``*``, ``/pkg.Service/*``, ``/pkg.Service/Method``) to
the settings of each algorithm and switch; :meth:`Policy.settings_for` returns the resolved
:class:`MethodSettings` of one method. Policies are immutable values: to change one at runtime,
build a new one (a :class:`PolicyWatcher` does so when a file changes) and hand it to the
interceptors. The file format is described in docs/policy.md.
"""

from __future__ import annotations

from resilience.policy._chaos import ChaosSettings, RecordSettings
from resilience.policy._core import Policy
from resilience.policy._profiling import ProfilingSettings
from resilience.policy._schema import DEFAULT_FAILURE_CODES, MethodSettings
from resilience.policy._sections import (
    DEFAULT_CPU_THRESHOLDS,
    BreakerSettings,
    OverloadSettings,
    RateLimitSettings,
    TimeoutSettings,
)
from resilience.policy._values import parse_duration
from resilience.policy._watch import PolicyWatcher

__all__ = [
    "DEFAULT_CPU_THRESHOLDS",
    "DEFAULT_FAILURE_CODES",
    "BreakerSettings",
    "ChaosSettings",
    "MethodSettings",
    "OverloadSettings",
    "Policy",
    "PolicyWatcher",
    "ProfilingSettings",
    "RateLimitSettings",
    "RecordSettings",
    "TimeoutSettings",
    "parse_duration",
]

for _public in (
    BreakerSettings,
    ChaosSettings,
    MethodSettings,
    OverloadSettings,
    Policy,
    PolicyWatcher,
    ProfilingSettings,
    RateLimitSettings,
    RecordSettings,
    TimeoutSettings,
):
    _public.__module__ = __name__  # documented and pickled under their public home
del _public
