"""The dynamic timeout's unset bounds follow ``t_max`` (``t_avg = 0.12 t_max``,
``t_hwm = 0.5 t_max``: 60 ms and 250 ms at the default 500 ms), and an invalid combination says
which values were not set and what to set."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from resilience.errors import ConfigError
from resilience.policy import Policy, TimeoutSettings


def timeout_of(keys: dict[str, object]) -> TimeoutSettings:
    policy = Policy.from_dict({"methods": {"/kv.Store/*": {"timeout": keys}}})
    timeout = policy.settings_for("/kv.Store/Get").timeout
    assert timeout is not None
    return timeout


def test_a_lone_t_max_derives_the_other_bounds_from_it() -> None:
    timeout = timeout_of({"t_max": "100ms"})

    assert timeout.seconds() == pytest.approx((0.012, 0.05, 0.1))


def test_no_keys_give_the_documented_defaults() -> None:
    assert timeout_of({}).seconds() == (0.060, 0.250, 0.500)
    assert TimeoutSettings().seconds() == (0.060, 0.250, 0.500)


def test_a_long_t_max_alone_is_accepted_too() -> None:
    assert TimeoutSettings(t_max="10s").seconds() == pytest.approx((1.2, 5.0, 10.0))  # type: ignore[arg-type]


def test_t_max_inherited_from_a_wider_pattern_drives_the_derived_bounds() -> None:
    policy = Policy.from_dict(
        {
            "methods": {
                "*": {"timeout": {"t_max": 2.0}},
                "/kv.Store/Get": {"timeout": {"t_avg": 0.1}},
            }
        }
    )
    timeout = policy.settings_for("/kv.Store/Get").timeout

    assert timeout is not None
    assert timeout.seconds() == (0.1, 1.0, 2.0)


def test_an_unset_bound_in_conflict_is_named_with_what_to_set() -> None:
    message = "methods./kv.Store/*.timeout: must satisfy 0 <= t_avg < t_hwm <= t_max, got " + (
        "t_avg=0.08, t_hwm=0.05 (not set, so 0.5 * t_max), t_max=0.1; "
        "set t_hwm above t_avg, or set all three explicitly"
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        timeout_of({"t_max": 0.1, "t_avg": 0.08})


def test_a_default_t_max_below_t_hwm_says_to_set_t_max() -> None:
    with pytest.raises(ConfigError, match=r"t_max=0\.5 \(not set, so the default\); set t_max to"):
        timeout_of({"t_hwm": 1.0})


def test_explicit_values_in_conflict_are_not_called_defaults() -> None:
    with pytest.raises(ConfigError) as caught:
        timeout_of({"t_avg": 0.3, "t_hwm": 0.2, "t_max": 1.0})

    assert "not set" not in str(caught.value)
    assert str(caught.value).endswith(
        "got t_avg=0.3, t_hwm=0.2, t_max=1.0; change them so that t_avg < t_hwm <= t_max"
    )


def test_the_policy_reference_shows_the_derived_defaults() -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "policy-reference.md"
    text = page.read_text(encoding="utf-8")
    assert "| `t_avg` | `float or None` | `0.12 * t_max (0.06)` |" in text
    assert "| `t_hwm` | `float or None` | `0.5 * t_max (0.25)` |" in text
