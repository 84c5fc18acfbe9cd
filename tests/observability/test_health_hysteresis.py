"""The overload health state machine alone: enter after sustained shedding, leave after calm."""

from __future__ import annotations

import math
import sys
from typing import Any

import grpc
import pytest

from resilience.errors import ConfigError, MissingExtraError
from resilience.events import CallInfo, CallOutcome
from resilience.observability.health import Hysteresis, OverloadHealth
from resilience.testing import ManualClock


def test_enters_only_after_shedding_without_pause_for_enter_after_seconds() -> None:
    state = Hysteresis(enter_after=10.0, exit_after=30.0, gap=1.0)
    changes = [state.shed(t / 2) for t in range(20)]  # a shed every 0.5 s, for 9.5 s
    assert set(changes) == {None}
    assert state.shed(10.0) is True  # 10 s of shedding
    assert state.overloaded
    assert state.shed(10.5) is None  # already in


def test_a_pause_longer_than_gap_starts_a_new_spell() -> None:
    state = Hysteresis(enter_after=3.0, exit_after=30.0, gap=1.0)
    for t in (0.0, 0.9, 1.8, 2.7):
        assert state.shed(t) is None
    assert state.shed(4.0) is None  # 1.3 s pause: the spell restarts at 4.0
    for t in (4.9, 5.8, 6.7):
        assert state.shed(t) is None
    assert state.shed(7.0) is True


def test_leaves_after_exit_after_seconds_without_a_shed() -> None:
    state = Hysteresis(enter_after=0.0, exit_after=30.0, gap=1.0)
    assert state.due() == math.inf
    assert state.shed(5.0) is True  # enter_after 0: the first shed is enough
    assert state.due() == 35.0
    assert state.check(34.9) is None
    state.shed(20.0)  # shedding again pushes the calm period back
    assert state.due() == 50.0
    assert state.check(49.0) is None
    assert state.check(50.0) is False
    assert not state.overloaded
    assert state.due() == math.inf


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"enter_after": -1}, "enter_after: must be >= 0"),
        ({"exit_after": 0}, "exit_after: must be > 0"),
        ({"gap": math.inf}, "gap: must be a finite number"),
        ({"exit_after": True}, "exit_after: must be a finite number"),
        ({"services": "shop.Catalog"}, "services: must be a list"),
        ({"services": []}, "services: must be a non-empty list"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        OverloadHealth(**kwargs)  # type: ignore[arg-type]


def test_only_server_calls_shed_for_overload_count() -> None:
    clock = ManualClock(100.0)
    health = OverloadHealth(enter_after=0.0, clock=clock)
    shed = CallOutcome(grpc.StatusCode.RESOURCE_EXHAUSTED, 0.0, reject_reason="overload")
    limited = CallOutcome(grpc.StatusCode.RESOURCE_EXHAUSTED, 0.0, reject_reason="rate_limit")
    health.call_ended(CallInfo("server", "/a.A/X"), limited)
    health.call_ended(CallInfo("client", "/a.A/X"), shed)
    before = health.overloaded
    health.call_ended(CallInfo("server", "/a.A/X"), shed)
    after = health.overloaded  # not added to a server: the state still moves, nothing published
    health.close()
    assert (before, after) == (False, True)


def test_without_the_extra_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "grpc_health.v1.health", None)
    server: Any = object()  # the extra is looked for before the server is touched
    with pytest.raises(MissingExtraError, match=r"grpc-resilience\[health\]"):
        OverloadHealth().add_to_server(server)
