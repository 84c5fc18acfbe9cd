"""Fault rules: parsing from dicts, validation errors naming the field, and method matching."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from resilience.chaos import FaultRule, rules_from_dicts
from resilience.errors import ConfigError


def test_rules_parse_from_policy_style_dicts() -> None:
    rules = rules_from_dicts(
        [
            {"method": "/shop.Cart/*", "percentage": 25, "abort": "unavailable", "message": "x"},
            {"method": "*", "color": "loadtest", "delay": [0.01, 0.02], "side": "both"},
        ]
    )
    assert rules[0].abort is grpc.StatusCode.UNAVAILABLE
    assert rules[0].percentage == 25
    assert rules[1].delay == (0.01, 0.02)
    assert [FaultRule.from_dict(rule.to_dict()) for rule in rules] == list(rules)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"percentage": 150, "abort": "INTERNAL"}, "faults[0].percentage: must be in [0, 100]"),
        ({"side": "middle", "abort": "INTERNAL"}, "faults[0].side: must be one of"),
        ({"abort": "OK"}, "faults[0].abort: an abort needs a failing status code"),
        ({"abort": "NOPE"}, "faults[0].abort: must be a gRPC status code name"),
        ({"delay": -1}, "faults[0].delay: must be >= 0 seconds"),
        ({"delay": [0.2, 0.1]}, "faults[0].delay: a range needs 0 <= low <= high"),
        ({"method": "/shop*", "abort": "INTERNAL"}, "faults[0].method: not a method pattern"),
        ({"percentage": 10}, "faults[0].abort: a rule needs an action"),
        ({"abort": "INTERNAL", "colour": "x"}, "faults[0].colour: unknown field"),
        ({"color": "", "abort": "INTERNAL"}, "faults[0].color: must be a non-empty string"),
    ],
)
def test_bad_rules_name_the_field(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        rules_from_dicts([entry])
    assert str(raised.value).startswith(message)


def test_a_table_instead_of_a_list_is_refused() -> None:
    with pytest.raises(ConfigError, match="faults: must be a list"):
        rules_from_dicts({"abort": "INTERNAL"})


@pytest.mark.parametrize(
    ("pattern", "method", "expected"),
    [
        ("*", "/a.B/C", True),
        ("/a.B/*", "/a.B/C", True),
        ("/a.B/*", "/a.BB/C", False),
        ("/a.B/C", "/a.B/C", True),
        ("/a.B/C", "/a.B/D", False),
    ],
)
def test_method_patterns(pattern: str, method: str, expected: bool) -> None:
    rule = FaultRule(method=pattern, abort=grpc.StatusCode.INTERNAL)
    assert rule.matches("server", method, None) is expected


def test_a_delay_range_may_be_a_list() -> None:
    rule = FaultRule(delay=[0.1, 0.2])  # type: ignore[arg-type]
    assert rule.delay == (0.1, 0.2)


def test_side_and_color_scope() -> None:
    server_only = FaultRule(abort=grpc.StatusCode.INTERNAL)
    both = FaultRule(abort=grpc.StatusCode.INTERNAL, side="both")
    colored = FaultRule(abort=grpc.StatusCode.INTERNAL, color="loadtest")
    assert not server_only.matches("client", "/a.B/C", None)
    assert both.matches("client", "/a.B/C", None)
    assert both.matches("server", "/a.B/C", "anything")
    assert colored.matches("server", "/a.B/C", "loadtest")
    assert not colored.matches("server", "/a.B/C", None)
    assert not colored.matches("server", "/a.B/C", "prod")
