"""Suite-wide markers and the timing tally.

- ``e2e``: the test starts a server (an in-process gRPC server on 127.0.0.1 included), a
  process, or uses Redis, Prometheus or Bugsink. Given by the fixtures and modules below or by
  a module's ``pytestmark``; under ``-m "not e2e"`` a test without it that starts a gRPC server
  or a subprocess fails and says to mark it, so that selection stays fast and self-contained.
- ``timing``: the test's verdict depends on how fast the host runs it (real sleeps, rates,
  deadlines, races between threads and servers); ``make stress`` runs these under a CPU hog.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any, NoReturn

import grpc
import grpc.aio
import pytest

from timing import TALLY

E2E_FIXTURES = frozenset(
    {
        "backends.conftest:redis_server",
        "backends.conftest:redis_url",
        "backends.conftest:redis_cluster",
        "backends.conftest:redis_tls",
        "interceptors.conftest:harness",
        "failover.conftest:centers",
    }
)
"""Fixtures (module:name) that start servers: any test using one is ``e2e``."""

E2E_MODULES = frozenset(
    {
        "api_usage/test_usage.py",
        "backends/test_same_rules.py",
        "backends/test_server_store_gauges.py",
        "chaos/test_admin_service.py",
        "chaos/test_experiment_run.py",
        "chaos/test_fault_over_grpc.py",
        "conformance/test_cancellation.py",
        "conformance/test_deadlines.py",
        "conformance/test_neighbours.py",
        "conformance/test_reloads.py",
        "demo/test_limit_store.py",
        "demo/test_serve_loadtest.py",
        "docs/test_examples.py",
        "docs/test_plot_algorithms.py",
        "docs/test_policy_reference.py",
        "docs/test_snippets.py",
        "failover/test_generated_stubs.py",
        "interceptors/test_aio_client_list_forms.py",
        "interceptors/test_coexistence.py",
        "interceptors/test_exports.py",
        "loadtest/test_engines.py",
        "loadtest/test_full_link.py",
        "loadtest/test_loadtest_command.py",
        "loadtest/test_record_replay.py",
        "observability/test_default_wiring.py",
        "observability/test_grpc_observed.py",
        "observability/test_metrics_exposure.py",
        "observability/test_backend_watch_thread.py",
        "observability/test_fork_workers.py",
        "observability/test_late_backends.py",
        "observability/test_sentry_reporter.py",
        "observability/test_sentry_with_grpc_integration.py",
        "test_public_api.py",
    }
)
"""Modules (relative to tests/) that start servers or processes in their tests' bodies."""

TIMING_MODULES = frozenset(
    {
        "backends/test_aio_limiters.py",
        "backends/test_fallback_bound.py",
        "backends/test_lifecycle.py",
        "backends/test_outage.py",
        "backends/test_processes.py",
        "backends/test_redis_cluster.py",
        "backends/test_server_exact_limit.py",
        "backends/test_server_store_faults.py",
        "chaos/test_fault_over_grpc.py",
        "conformance/test_cancellation.py",
        "conformance/test_deadlines.py",
        "failover/test_aio_calls.py",
        "failover/test_channel_contract.py",
        "failover/test_deadlines.py",
        "failover/test_local_center_killed.py",
        "interceptors/test_aio_cancel_storm.py",
        "interceptors/test_call_options.py",
        "interceptors/test_cancel.py",
        "interceptors/test_concurrency.py",
        "interceptors/test_dynamic_timeout.py",
        "interceptors/test_early_stop.py",
        "interceptors/test_grpc_retry_policy.py",
        "interceptors/test_hot_reload.py",
        "interceptors/test_observers.py",
        "interceptors/test_policy_chaos.py",
        "interceptors/test_shutdown.py",
        "loadtest/test_engines.py",
        "observability/test_backend_watch_thread.py",
        "observability/test_fork_workers.py",
        "observability/test_late_backends.py",
        "observability/test_sentry_reporter.py",
        "policy/test_policy_watcher.py",
        "test_context.py",
    }
)
"""Modules (relative to tests/) whose tests are ``timing`` (see the module docstring)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath / "tests"
    for item in items:
        module = item.path.relative_to(root).as_posix()
        if module in E2E_MODULES or any(name in E2E_FIXTURES for name in _fixtures(item)):
            item.add_marker(pytest.mark.e2e)
        if module in TIMING_MODULES:
            item.add_marker(pytest.mark.timing)


def _fixtures(item: pytest.Item) -> Iterator[str]:
    """``module:name`` of every fixture ``item`` uses (the closest definition of each)."""
    info = getattr(item, "_fixtureinfo", None)
    for name, definitions in info.name2fixturedefs.items() if info else ():
        yield f"{definitions[-1].func.__module__}:{name}"


def _refuse(what: str) -> Any:
    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError(
            f"this test {what} but is not marked e2e: add pytest.mark.e2e to it or its module"
        )

    return refuse


@pytest.fixture(autouse=True)
def _e2e_only_starts_servers(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When ``-m`` deselects ``e2e`` tests, starting a gRPC server or a subprocess outside one is
    an error (so a test that should carry the marker says so); a full run does not check."""
    if "e2e" in request.config.option.markexpr and request.node.get_closest_marker("e2e") is None:
        monkeypatch.setattr(grpc, "server", _refuse("starts a gRPC server"))
        monkeypatch.setattr(grpc.aio, "server", _refuse("starts a gRPC server"))
        monkeypatch.setattr(subprocess, "Popen", _refuse("starts a process"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLY.judged and not TALLY.unmeasured:
        return
    terminalreporter.section("timing bounds")
    terminalreporter.write_line(
        f"{TALLY.judged} judged, {len(TALLY.unmeasured)} not judged (the host stalled the run)"
    )
    for test, reason in TALLY.unmeasured:
        terminalreporter.write_line(f"NOT JUDGED {test}: {reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    before = len(TALLY.unmeasured)
    yield
    for _, reason in TALLY.unmeasured[before:]:
        item.user_properties.append(("timing_not_judged", reason))
