"""The admin service: token checks, rules applied atomically, validation errors, both servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from loadtest.echo_server import AioEcho, Echo, RunningServer, SyncEcho
from resilience.chaos import FaultInjector, FaultRule
from resilience.chaos._admin import (
    GET_FAULTS,
    SET_FAULTS,
    TOKEN_KEY,
    admin_handler,
    aio_admin_handler,
    call_admin,
    handle,
)
from resilience.chaos._injector import InjectorRegistry
from resilience.errors import ConfigError
from resilience.testing import ManualClock
from resilience.tools.experiments._experiment import MAX_PHASE
from resilience.tools.experiments._run import TTL_GRACE

from .pipeline import COLORED, hook, say

TOKEN = "correct-horse-battery"
MAX_TTL = 600.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(100.0)


@pytest.fixture(params=[False, True], ids=["sync", "aio"])
def service(
    request: pytest.FixtureRequest, clock: ManualClock
) -> Iterator[tuple[RunningServer, FaultInjector]]:
    aio: bool = request.param
    registry = InjectorRegistry()
    injector = registry.register("default", FaultInjector(allowed_colors=["loadtest"], clock=clock))
    admin = (aio_admin_handler if aio else admin_handler)(
        token=TOKEN, registry=registry, max_ttl=MAX_TTL
    )
    echo: grpc.GenericRpcHandler = (AioEcho if aio else SyncEcho)(Echo(), hook(aio, injector))
    with RunningServer(aio, [admin, echo]) as server:
        yield server, injector


def refused(target: str, request: dict[str, Any], token: str | None) -> tuple[grpc.StatusCode, str]:
    """The status of an admin call that must fail; ``token=None`` sends no token at all."""
    try:
        if token is None:
            with grpc.insecure_channel(target) as channel:
                generic: Any = channel
                generic.unary_unary(GET_FAULTS)(b"{}", timeout=5)
        else:
            call_admin(target, request, token=token)
    except grpc.RpcError as exc:
        failed: Any = exc
        return failed.code(), failed.details()
    raise AssertionError("the admin call succeeded")


def test_set_faults_switches_them_on_and_reports_the_previous_state(
    service: tuple[RunningServer, FaultInjector],
) -> None:
    server, injector = service
    rules = [{"color": "loadtest", "abort": "UNAVAILABLE", "message": "from admin"}]
    answer = call_admin(server.target, {"rules": rules, "ttl": 30}, token=TOKEN)
    assert answer["previous"] == {"enabled": False, "rules": []}
    assert answer["current"]["enabled"] is True
    assert injector.rules[0].abort is grpc.StatusCode.UNAVAILABLE
    assert say(server.target, COLORED)[:2] == (grpc.StatusCode.UNAVAILABLE, "from admin")
    assert say(server.target)[0] is grpc.StatusCode.OK
    call_admin(server.target, {"enabled": False}, token=TOKEN)
    assert say(server.target, COLORED)[0] is grpc.StatusCode.OK
    got = call_admin(server.target, {}, token=TOKEN, method=GET_FAULTS)
    assert got["current"]["enabled"] is False
    assert got["current"]["rules"] == [injector.rules[0].to_dict()]


def test_callers_without_the_token_are_refused(
    service: tuple[RunningServer, FaultInjector],
) -> None:
    server, injector = service
    enable = {"rules": [{"abort": "INTERNAL"}]}
    assert refused(server.target, enable, "wrong-token-123")[0] is grpc.StatusCode.PERMISSION_DENIED
    assert refused(server.target, enable, None)[0] is grpc.StatusCode.UNAUTHENTICATED
    assert injector.rules == ()
    assert not injector.enabled


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({"rules": [{"percentage": 500, "abort": "INTERNAL"}]}, "rules[0].percentage"),
        ({"rules": [{"color": "vip", "abort": "INTERNAL"}]}, "rules[0].color: 'vip' is not in"),
        ({"injector": "nope"}, "no fault injector registered as 'nope'"),
        ({"enabled": "yes"}, "enabled: must be true or false"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(
    service: tuple[RunningServer, FaultInjector], request_body: dict[str, Any], message: str
) -> None:
    server, injector = service
    code, details = refused(server.target, request_body, TOKEN)
    assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
    assert message in details
    assert not injector.enabled


def test_a_short_token_is_refused_at_startup() -> None:
    with pytest.raises(ConfigError, match="token"):
        admin_handler(token="short")


OLD_RULES = [{"method": "/echo.Echo/Other", "abort": "INTERNAL"}]
NEW_RULES = [{"abort": "UNAVAILABLE", "message": "must not land"}]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"ttl": -1}, "ttl: must be > 0 and at most 600 seconds"),
        ({"ttl": 0}, "ttl: must be > 0 and at most 600 seconds"),
        ({"ttl": float("inf")}, "ttl: must be a finite number of seconds, got inf"),
        ({"ttl": float("nan")}, "ttl: must be a finite number of seconds, got nan"),
        ({"ttl": MAX_TTL + 1}, "ttl: must be > 0 and at most 600 seconds"),
        ({"ttl": "30"}, "ttl: must be a finite number of seconds"),
        ({"for_seconds": 30}, "for_seconds: unknown field"),
        ({"allowed_colors": ["vip"]}, "allowed_colors: unknown field"),
        ({"rules": [*NEW_RULES, {"color": "vip", "abort": "INTERNAL"}]}, "rules[1].color"),
    ],
)
def test_a_refused_set_faults_changes_nothing(
    service: tuple[RunningServer, FaultInjector], extra: dict[str, Any], message: str
) -> None:
    server, injector = service
    call_admin(server.target, {"rules": OLD_RULES, "enabled": False}, token=TOKEN)
    before = (injector.rules, injector.enabled)
    code, details = refused(server.target, {"rules": NEW_RULES, **extra}, TOKEN)
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert message in details
    assert (injector.rules, injector.enabled) == before
    assert say(server.target)[0] is grpc.StatusCode.OK  # the refused rule never fired


def test_faults_switched_on_without_a_ttl_lapse_after_the_maximum(
    service: tuple[RunningServer, FaultInjector], clock: ManualClock
) -> None:
    server, injector = service
    call_admin(server.target, {"rules": NEW_RULES}, token=TOKEN)
    assert say(server.target)[0] is grpc.StatusCode.UNAVAILABLE
    clock.advance(MAX_TTL - 1)
    on_before_the_end = injector.enabled
    clock.advance(1)
    assert on_before_the_end
    assert not injector.enabled
    assert say(server.target)[0] is grpc.StatusCode.OK


@pytest.mark.parametrize("max_ttl", [0, -5, float("inf"), float("nan"), True])
def test_a_bad_max_ttl_is_refused_at_startup(max_ttl: Any) -> None:
    with pytest.raises(ConfigError, match="max_ttl"):
        admin_handler(token=TOKEN, max_ttl=max_ttl)


@pytest.mark.parametrize("for_seconds", [0, -1, float("inf"), float("nan")])
def test_switch_refuses_a_bad_lifetime_and_keeps_the_state(for_seconds: float) -> None:
    injector = FaultInjector()
    with pytest.raises(ConfigError, match="for_seconds"):
        injector.switch(
            [FaultRule(abort=grpc.StatusCode.INTERNAL)], enabled=True, for_seconds=for_seconds
        )
    assert injector.rules == ()
    assert not injector.enabled


def test_the_default_maximum_fits_the_longest_experiment() -> None:
    registry = InjectorRegistry()
    injector = registry.register("default", FaultInjector())
    longest = {"rules": [{"abort": "INTERNAL"}], "ttl": MAX_PHASE + TTL_GRACE}
    handle(
        SET_FAULTS,
        json.dumps(longest).encode(),
        [(TOKEN_KEY, TOKEN)],
        registry=registry,
        token=TOKEN,
    )
    assert injector.enabled
