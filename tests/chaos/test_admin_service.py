"""The admin service: token checks, rules applied atomically, validation errors, both servers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from loadtest.echo_server import AioEcho, Echo, RunningServer, SyncEcho
from resilience._chaos_admin import GET_FAULTS, admin_handler, aio_admin_handler, call_admin
from resilience.chaos import FaultInjector, InjectorRegistry
from resilience.errors import ConfigError

from .pipeline import COLORED, hook, say

TOKEN = "correct-horse-battery"


@pytest.fixture(params=[False, True], ids=["sync", "aio"])
def service(request: pytest.FixtureRequest) -> Iterator[tuple[RunningServer, FaultInjector]]:
    aio: bool = request.param
    registry = InjectorRegistry()
    injector = registry.register("default", FaultInjector(allowed_colors=["loadtest"]))
    admin = (aio_admin_handler if aio else admin_handler)(token=TOKEN, registry=registry)
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
