"""The ``fallback`` section: its defaults, and errors that name the key."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from resilience.errors import ConfigError
from resilience.policy import FallbackSettings, Policy


def settings(section: Any) -> FallbackSettings | None:
    policy = Policy.from_dict({"methods": {"/shop.Catalog/*": {"fallback": section}}})
    return policy.settings_for("/shop.Catalog/Get").fallback


def test_true_answers_unavailable_deadlines_and_rejections_with_the_empty_message() -> None:
    found = settings(True)
    assert found == FallbackSettings()
    assert found.codes == {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
    assert (found.rejections, found.response) == (True, "empty")


def test_keys_are_read() -> None:
    found = settings({"codes": ["internal"], "rejections": False, "response": "registered"})
    assert found == FallbackSettings(frozenset({grpc.StatusCode.INTERNAL}), False, "registered")


@pytest.mark.parametrize(
    ("section", "key", "problem"),
    [
        ({"codes": ["OK"]}, "codes", "OK cannot be a failure code"),
        ({"codes": ["NOPE"]}, "codes", "not a grpc.StatusCode name"),
        ({"response": "default"}, "response", 'must be "empty" or "registered"'),
        ({"rejections": "yes"}, "rejections", "must be true or false"),
        ({"value": 1}, "value", "unknown key"),
    ],
)
def test_a_bad_value_names_the_key(section: dict[str, Any], key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(section)
    assert str(caught.value).startswith(f"methods./shop.Catalog/*.fallback.{key}: ")
    assert problem in str(caught.value)
