"""The settings dataclasses: validated on construction, hashable values, durations in seconds."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest

from resilience.errors import ConfigError
from resilience.policy import (
    BreakerSettings,
    MethodSettings,
    OverloadSettings,
    Policy,
    RateLimitSettings,
    TimeoutSettings,
)
from resilience.policy._values import parse_duration


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (1, 1.0),
        (0.25, 0.25),
        ("250ms", 0.25),
        ("1.5s", 1.5),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("500us", 0.0005),
        (" .5s ", 0.5),
        (timedelta(milliseconds=40), 0.04),
    ],
)
def test_durations_are_seconds(raw: object, seconds: float) -> None:
    assert parse_duration(raw) == pytest.approx(seconds)


@pytest.mark.parametrize("raw", ["250", "1.5 sec", "-1s", "ms", True, None, [1]])
def test_bad_durations_are_rejected(raw: object) -> None:
    with pytest.raises(ValueError, match="must be a duration"):
        parse_duration(raw)


def test_from_dict_accepts_timedelta() -> None:
    chosen = Policy.from_dict(
        {"methods": {"*": {"timeout": {"t_hwm": timedelta(milliseconds=300), "t_max": "1s"}}}}
    )
    assert chosen.settings_for("/a.B/C").timeout == TimeoutSettings(t_hwm=0.3, t_max=1.0)


def test_direct_construction_is_validated_with_the_section_name() -> None:
    with pytest.raises(ConfigError, match=r"^breaker\.k: must be >= 1, got 0\.5$"):
        BreakerSettings(k=0.5)
    with pytest.raises(ConfigError, match=r"^timeout: must satisfy"):
        TimeoutSettings(t_avg=1.0)
    with pytest.raises(ConfigError, match=r"^tier: must be >= 1 and <= 4, got 0$"):
        MethodSettings(tier=0)
    with pytest.raises(ConfigError, match=r"^breaker: must be a BreakerSettings or None"):
        MethodSettings(breaker=TimeoutSettings())  # type: ignore[arg-type]


def test_numbers_are_normalized_so_equal_settings_look_equal() -> None:
    settings = BreakerSettings(k=3, window=5)
    assert isinstance(settings.k, float)
    assert isinstance(settings.window, float)
    assert repr(settings).startswith("BreakerSettings(k=3.0, window=5.0,")
    assert RateLimitSettings(limit=500.0).limit == 500  # type: ignore[arg-type]


def test_settings_are_hashable_values() -> None:
    settings = MethodSettings(
        timeout=TimeoutSettings(),
        rate_limit=RateLimitSettings(limit=3),
        overload=OverloadSettings(cpu_thresholds={4: 0.5}),
        failure_codes=frozenset({grpc.StatusCode.UNAVAILABLE}),
    )
    same = MethodSettings(
        timeout=TimeoutSettings(),
        rate_limit=RateLimitSettings(limit=3),
        overload=OverloadSettings(cpu_thresholds={1: 0.95, 4: 0.5}),
        failure_codes=frozenset({grpc.StatusCode.UNAVAILABLE}),
    )
    assert settings == same
    assert hash(settings) == hash(same)
    with pytest.raises(AttributeError):
        settings.tier = 1  # type: ignore[misc]


def test_cpu_thresholds_fill_missing_tiers_with_defaults() -> None:
    overload = OverloadSettings(cpu_thresholds={"4": 0.7, 3: 0.8})  # type: ignore[dict-item]
    assert dict(overload.cpu_thresholds) == {1: 0.95, 2: 0.90, 3: 0.8, 4: 0.7}
    assert overload.cpu_thresholds == {1: 0.95, 2: 0.90, 3: 0.8, 4: 0.7}


def test_failure_codes_accept_names_in_any_case_and_status_codes() -> None:
    settings = MethodSettings(failure_codes=["unavailable", grpc.StatusCode.ABORTED])  # type: ignore[arg-type]
    assert settings.failure_codes == {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED}


@pytest.mark.parametrize(
    "store", ["memory", "redis://localhost:6379/0", "rediss://u:p@cache:6380", "unix:///tmp/r.sock"]
)
def test_accepted_stores(store: str) -> None:
    assert RateLimitSettings(limit=1, store=store).store == store
