"""The ``hedging`` section: its keys, defaults and ranges, and that a method has retry or
hedging, not both."""

from __future__ import annotations

import grpc
import pytest

from resilience import Policy
from resilience.errors import ConfigError
from resilience.policy import HedgingSettings, MethodSettings, RetrySettings

METHOD = "/shop.Catalog/Get"


def settings(section: object, **more: object) -> MethodSettings:
    table = {"read": True, "hedging": section, **more}
    return Policy.from_dict({"methods": {METHOD: table}}).settings_for(METHOD)


def test_defaults_follow_grpc_s_hedging_policy_with_the_retry_budget() -> None:
    hedging = settings(True).hedging
    assert hedging == HedgingSettings()
    assert hedging is not None
    assert hedging.max_attempts == 2
    assert hedging.delay is None  # derived from observed latencies
    assert hedging.non_fatal_codes == frozenset({grpc.StatusCode.UNAVAILABLE})
    assert (hedging.budget, hedging.min_retries) == (0.2, 10)


def test_keys_are_converted() -> None:
    hedging = settings({"delay": "20ms", "max_attempts": 4, "non_fatal_codes": ["internal"]})
    assert hedging.hedging is not None
    assert hedging.hedging.delay == pytest.approx(0.02)
    assert hedging.hedging.max_attempts == 4
    assert hedging.hedging.non_fatal_codes == frozenset({grpc.StatusCode.INTERNAL})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("max_attempts", 1),
        ("max_attempts", 6),
        ("percentile", 100),
        ("percentile", 0),
        ("delay", -1),
        ("min_samples", 0),
        ("budget", -0.1),
        ("non_fatal_codes", ["OK"]),
    ],
)
def test_out_of_range_values_name_the_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"methods\./shop\.Catalog/Get\.hedging\.{key}"):
        settings({key: value})


def test_retry_and_hedging_on_one_method_is_refused_with_both_patterns_named() -> None:
    tree = {"methods": {"*": {"retry": True}, METHOD: {"read": True, "hedging": True}}}
    with pytest.raises(ConfigError) as raised:
        Policy.from_dict(tree)
    message = str(raised.value)
    assert "retry or hedging, not both" in message
    assert "retry from '*'" in message
    assert f"hedging from '{METHOD}'" in message


def test_hedging_where_retry_is_turned_off_is_accepted() -> None:
    tree = {"methods": {"*": {"retry": True}, METHOD: {"retry": False, "hedging": True}}}
    chosen = Policy.from_dict(tree).settings_for(METHOD)
    assert chosen.retry is None
    assert chosen.hedging is not None


def test_settings_built_in_code_refuse_both_too() -> None:
    with pytest.raises(ConfigError, match="retry or hedging, not both"):
        MethodSettings(retry=RetrySettings(), hedging=HedgingSettings())


def test_more_samples_needed_than_kept_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"hedging\.min_samples: must be at most samples \(10\)"):
        settings({"samples": 10, "min_samples": 11})
