"""The type-checked usage examples also run: the documented calls behave as they read."""

from __future__ import annotations

from resilience import Policy

from .usage import algorithms_on_a_manual_clock, colored_calls, sync_service


def test_the_algorithm_examples_admit_on_a_fresh_clock() -> None:
    assert all(decision.allowed for decision in algorithms_on_a_manual_clock())


def test_the_color_example_sees_its_color() -> None:
    assert colored_calls() == "loadtest"


def test_the_sync_service_example_builds() -> None:
    server, channel = sync_service(Policy.default())
    channel.close()
    server.stop(None)
