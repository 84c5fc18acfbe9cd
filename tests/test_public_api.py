"""The package's curated surface: sorted, importable, documented, and cheap to import."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys

import pytest

import resilience

SURFACE: dict[str, set[str]] = {
    "resilience": {
        "AioClientInterceptor", "AioDualCenterChannel", "AioServerInterceptor",
        "ClientInterceptor", "ConfigError", "DualCenterChannel", "FailoverSwitches",
        "MissingExtraError", "Policy", "PolicyWatcher", "RejectReason", "ResilienceError",
        "ServerInterceptor", "__version__", "current_color", "current_tier", "is_shadow",
        "serve_metrics", "time_remaining",
    },
    "resilience.algorithms": {
        "ALLOWED", "AdaptiveRetryWindow", "BreakerState", "Decision", "EmaTimeout",
        "OverloadGuard", "SlidingWindowLimiter", "SreBreaker", "Tier", "TierStats",
        "TieredLimiter",
    },
    "resilience.backends": {
        "AioMemoryStore", "AioRedisStore", "AioSharedSlidingWindowLimiter",
        "AioSharedTieredLimiter", "AioStore", "AioTierLimiter", "LimitSpec", "MemoryStore",
        "RedisStore", "SharedSlidingWindowLimiter", "SharedTieredLimiter", "Snapshot", "Store",
        "TierLimiter", "build_limiter",
    },
    "resilience.chaos": {
        "Fault", "FaultInjector", "FaultRule", "admin_handler", "aio_admin_handler",
        "aio_apply_fault", "aio_delay_fault", "aio_fault_hook", "apply_fault", "delay_fault",
        "fault_hook", "injectors", "rules_from_dicts",
    },
    "resilience.context": {
        "carry_context", "current_color", "current_deadline", "current_method", "current_tier",
        "is_failover", "is_shadow", "set_shadow_colors", "shadow_colors", "tier",
        "time_remaining", "traffic_color",
    },
    "resilience.errors": {"ConfigError", "MissingExtraError", "RejectReason", "ResilienceError"},
    "resilience.events": {
        "EVERYTHING", "NOTHING", "CallInfo", "CallOutcome", "GaugeReading", "GaugeRegistry",
        "GaugeSource", "Interest", "Observer", "ServerHook", "Side", "default_gauge_registry",
        "hearing", "interest_changed", "interest_of", "register_gauge_source",
        "unregister_gauge_source",
    },
    "resilience.failover": {
        "DEFAULT_FAILOVER_CODES", "AioDualCenterChannel", "DualCenterChannel", "FailoverStats",
        "FailoverSwitches",
    },
    "resilience.interceptors": {
        "AioClientInterceptor", "AioServerInterceptor", "ClientInterceptor", "LocalRejection",
        "ServerInterceptor",
    },
    "resilience.observability": {
        "AttributeBounds", "CallTracer", "ContextFilter", "JsonFormatter", "MetricsObserver",
        "MetricsServer", "OverloadHealth", "SentryReporter", "default_call_tracer",
        "default_metrics_observer", "default_observers", "serve_metrics",
    },
    "resilience.pipeline": {
        "Attempt", "Breaker", "Bulkhead", "CallTimeout", "Fallback", "Hedge", "Kind", "Outcome",
        "Overload", "Permit", "Pipeline", "RateLimit", "Rejected", "Rejection", "Retry",
        "RetryBudget", "Stage", "SyncStage", "Timeout", "time_left",
    },
    "resilience.policy": {
        "BreakerSettings", "BulkheadSettings", "ChaosSettings", "FallbackSettings",
        "HedgingSettings", "MethodSettings", "OverloadSettings", "Policy", "PolicyWatcher",
        "ProfilingSettings", "RateLimitSettings", "RecordSettings", "RetrySettings",
        "TimeoutSettings",
    },
    "resilience.profiling": {
        "PROFILE", "ProfileBuilder", "ProfileStore", "Profiler", "ReadProfile", "Sample",
        "aio_profile_admin_handler", "labeled", "profile_admin_handler", "read_profile",
        "shared_profiler",
    },
    "resilience.recording": {"CallSpec", "TrafficRecorder", "read_recording", "recording_hook"},
    "resilience.shadow": {"ShadowRouter", "pick"},
    "resilience.testing": {
        "ECHO_METHODS", "ECHO_SERVICE", "AioEchoServer", "EchoBehavior", "EchoServer",
        "ManualClock", "aio_echo_call", "echo_call",
    },
    "resilience.tools.experiments": {
        "AdminSwitch", "Experiment", "ExperimentReport", "InProcessSwitch", "run_experiment",
    },
    "resilience.tools.loadtest": {
        "Flow", "LoadSettings", "ReplaySource", "Report", "Results", "WeightedPicker",
    },
    "resilience.tools.simulate": {
        "PeriodRow", "Scenario", "Schedule", "SimulationResult", "format_table",
        "load_scenario", "plot_failover", "run_failover", "standard_scenarios",
        "window_recurrence",
    },
}  # fmt: skip
"""Every public module and its ``__all__``, exactly: a name joins or leaves the public surface
only by a deliberate edit here (and a line in CHANGELOG.md)."""

PUBLIC_MODULES = tuple(sorted(set(SURFACE) - {"resilience"}))
NOT_API = {"resilience.tools", "resilience.tools.cli"}
"""Public-looking packages without an API of their own: the tooling's namespace and the CLI."""


def _public_packages() -> set[str]:
    """Top-level modules and packages without a leading underscore, and the tooling packages."""
    found = {"resilience"}
    for info in pkgutil.iter_modules(resilience.__path__, "resilience."):
        if not info.name.rpartition(".")[2].startswith("_"):
            found.add(info.name)
    tools = importlib.import_module("resilience.tools")
    for info in pkgutil.iter_modules(tools.__path__, "resilience.tools."):
        if info.ispkg and not info.name.rpartition(".")[2].startswith("_"):
            found.add(info.name)
    return found - NOT_API


def test_every_public_package_is_pinned() -> None:
    assert _public_packages() == set(SURFACE)


@pytest.mark.parametrize("module_name", sorted(SURFACE))
def test_each_public_module_exports_exactly_its_pinned_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert set(module.__all__) == SURFACE[module_name]
    assert len(module.__all__) == len(set(module.__all__)), f"{module_name}: a name twice"


def test_the_root_stays_small() -> None:
    assert len(resilience.__all__) <= 20


def test_each_name_has_one_public_home_besides_the_root() -> None:
    homes: dict[str, list[str]] = {}
    for module_name in PUBLIC_MODULES:
        for name in SURFACE[module_name]:
            homes.setdefault(name, []).append(module_name)
    twice = {name: where for name, where in homes.items() if len(where) > 1}
    assert not twice, f"exported by more than one public module: {twice}"
    orphans = SURFACE["resilience"] - {"__version__"} - set(homes)
    assert not orphans, f"the root re-exports names no package exports: {orphans}"


def test_no_private_name_is_exported() -> None:
    for module_name, names in SURFACE.items():
        private = [name for name in names if name.startswith("_") and name != "__version__"]
        assert not private, f"{module_name} exports {private}"


@pytest.mark.parametrize("module_name", sorted(SURFACE))
def test_public_classes_keep_their_defining_module(module_name: str) -> None:
    """No ``__module__`` rewriting: ``inspect.getsource`` and tracebacks find the definition
    (the API pages are rendered from the source and never needed it)."""
    module = importlib.import_module(module_name)
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isclass(value) and value.__module__.startswith("resilience"):
            assert inspect.getsource(value), f"{module_name}.{name}"


def test_a_name_that_left_the_root_says_where_it_lives() -> None:
    with pytest.raises(AttributeError, match=r"from resilience\.testing import ManualClock"):
        resilience.ManualClock  # noqa: B018


def test_all_is_sorted_and_matches_the_lazy_export_table() -> None:
    names = [name for name in resilience.__all__ if name != "__version__"]
    assert resilience.__all__ == sorted(resilience.__all__)
    assert set(names) == set(resilience._EXPORTS)


@pytest.mark.parametrize("name", sorted(resilience._EXPORTS))
def test_every_public_name_resolves_and_has_a_docstring(name: str) -> None:
    value = getattr(resilience, name)
    assert inspect.getdoc(value), f"resilience.{name} has no docstring"
    assert name in dir(resilience)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        resilience.Nope  # noqa: B018


def test_importing_the_package_loads_neither_grpc_nor_an_extra() -> None:
    code = (
        "import sys, resilience; "
        "print(sorted(m for m in ('grpc', 'redis', 'sentry_sdk', 'opentelemetry') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_command_line_reports_the_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "resilience", "--version"], capture_output=True, text=True
    )
    assert out.stdout.strip() == f"resilience {resilience.__version__}"


def isort_order(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps ``__all__`` in: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_module_has_a_sorted_documented_all(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert names == sorted(names, key=isort_order), f"{module_name}.__all__ is not sorted"
    assert inspect.getdoc(module), f"{module_name} has no docstring"
    for name in names:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{module_name}.{name} has no docstring"


def test_the_package_re_exports_each_name_from_its_public_module() -> None:
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in set(module.__all__) & set(resilience.__all__):
            assert getattr(resilience, name) is getattr(module, name), name
