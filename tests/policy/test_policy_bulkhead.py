"""The ``bulkhead`` section: its keys, their bounds, the key it is shared under, the side."""

from __future__ import annotations

from typing import Any

import pytest

from resilience.errors import ConfigError
from resilience.policy import BulkheadSettings, Policy

METHOD = "/shop.Catalog/Get"


def settings(methods: dict[str, Any]) -> BulkheadSettings | None:
    return Policy.from_dict({"methods": methods}).settings_for(METHOD).bulkhead


def test_a_bulkhead_is_shared_by_the_pattern_that_declared_it() -> None:
    found = settings({"/shop.Catalog/*": {"bulkhead": {"max_concurrent": 8}}})
    assert found == BulkheadSettings(max_concurrent=8, key="/shop.Catalog/*")
    assert (found.max_queue, found.max_wait, found.side) == (0, 1.0, "both")


def test_a_method_turns_its_service_bulkhead_off_or_narrows_it() -> None:
    service = {"bulkhead": {"max_concurrent": 8, "max_queue": 4, "max_wait": "250ms"}}
    assert settings({"/shop.Catalog/*": service, METHOD: {"bulkhead": False}}) is None
    own = settings({"/shop.Catalog/*": service, METHOD: {"bulkhead": {"max_concurrent": 2}}})
    assert own == BulkheadSettings(2, max_queue=4, max_wait=0.25, key=METHOD)


def test_the_side_says_where_it_applies() -> None:
    server = BulkheadSettings(1, side="server")
    assert (server.applies_to("server"), server.applies_to("client")) == (True, False)
    assert BulkheadSettings(1).applies_to("client")


@pytest.mark.parametrize(
    ("section", "key", "problem"),
    [
        ({}, "max_concurrent", "required when bulkhead is on"),
        ({"max_concurrent": 0}, "max_concurrent", "must be >= 1 and <= 1000000000, got 0"),
        ({"max_concurrent": 1, "max_queue": -1}, "max_queue", "must be >= 0"),
        ({"max_concurrent": 1, "max_wait": 0}, "max_wait", "must be > 0 and <= 3600"),
        ({"max_concurrent": 1, "max_wait": "2h"}, "max_wait", "<= 3600, got 7200"),
        ({"max_concurrent": 1, "side": "caller"}, "side", '"both" or "server" or "client"'),
        ({"max_concurrent": 1, "queue": 3}, "queue", 'did you mean "max_queue"?'),
    ],
)
def test_a_bad_value_names_the_key_and_the_bound(
    section: dict[str, Any], key: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings({"/shop.Catalog/*": {"bulkhead": section}})
    message = str(caught.value)
    assert message.startswith(f"methods./shop.Catalog/*.bulkhead.{key}: ")
    assert problem in message


def test_true_without_max_concurrent_says_what_to_set() -> None:
    with pytest.raises(ConfigError, match=r"bulkhead\.max_concurrent: required"):
        settings({"*": {"bulkhead": True}})
