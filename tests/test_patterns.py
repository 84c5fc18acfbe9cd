"""The one method-pattern grammar that policies, fault rules and failover switches share."""

from __future__ import annotations

import pytest

from resilience._base.patterns import is_pattern, pattern_matches, service_pattern, split_pattern
from resilience.chaos import FaultRule
from resilience.errors import ConfigError
from resilience.failover import FailoverSwitches
from resilience.policy import Policy

VALID = ["*", "/pkg.Svc/*", "/pkg.Svc/Get"]
INVALID = ["", "/", "pkg.Svc/Get", "/pkg.Svc", "/pkg.Svc/", "/a/b/c", "/pkg.Svc/G*", "/*", " /a/b"]


def test_the_three_forms_split() -> None:
    assert split_pattern("*") == ("", True)
    assert split_pattern("/pkg.Svc/*") == ("/pkg.Svc", True)
    assert split_pattern("/pkg.Svc/Get") == ("/pkg.Svc", False)


@pytest.mark.parametrize("pattern", INVALID)
def test_every_user_of_the_grammar_refuses_the_same_malformed_patterns(pattern: object) -> None:
    assert not is_pattern(pattern)
    with pytest.raises(ConfigError, match="not a method pattern"):
        Policy.from_dict({"methods": {pattern: {"tier": 1}}})
    with pytest.raises(ConfigError, match="not a method pattern"):
        FaultRule(method=pattern, delay=0.01)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a method pattern"):
        FailoverSwitches(disabled=(pattern,))  # type: ignore[arg-type]


@pytest.mark.parametrize("pattern", VALID)
def test_every_user_of_the_grammar_accepts_the_valid_forms(pattern: str) -> None:
    Policy.from_dict({"methods": {pattern: {"tier": 1}}})
    FaultRule(method=pattern, delay=0.01)
    FailoverSwitches(disabled=(pattern,))


def test_matching() -> None:
    assert pattern_matches("*", "/a.B/C")
    assert pattern_matches("/a.B/*", "/a.B/C")
    assert not pattern_matches("/a.B/*", "/a.Bx/C")
    assert pattern_matches("/a.B/C", "/a.B/C")
    assert not pattern_matches("/a.B/C", "/a.B/D")
    assert service_pattern("/a.B/C") == "/a.B/*"
    assert service_pattern("C") is None
