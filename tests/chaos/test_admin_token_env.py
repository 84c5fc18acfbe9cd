"""The admin service's token from ``RESILIENCE_ADMIN_TOKEN``: used when no token is passed, an
explicit token wins over it, and a missing or short one raises ConfigError naming it."""

from __future__ import annotations

import grpc
import pytest

from loadtest.echo_server import RunningServer
from resilience.chaos import FaultInjector
from resilience.chaos._admin import GET_FAULTS, admin_handler, aio_admin_handler, call_admin
from resilience.chaos._injector import InjectorRegistry
from resilience.errors import ConfigError

ENV_TOKEN = "token-from-the-environment"
ARG_TOKEN = "token-from-the-argument"


@pytest.mark.e2e
@pytest.mark.parametrize("aio", [False, True], ids=["sync", "aio"])
@pytest.mark.parametrize("explicit", [False, True], ids=["env", "argument"])
def test_the_server_checks_calls_against_the_winning_token(
    monkeypatch: pytest.MonkeyPatch, aio: bool, explicit: bool
) -> None:
    monkeypatch.setenv("RESILIENCE_ADMIN_TOKEN", ENV_TOKEN)
    make = aio_admin_handler if aio else admin_handler
    registry = InjectorRegistry()
    registry.register("default", FaultInjector())
    admin = make(token=ARG_TOKEN if explicit else None, registry=registry)
    winner, loser = (ARG_TOKEN, ENV_TOKEN) if explicit else (ENV_TOKEN, ARG_TOKEN)
    with RunningServer(aio, [admin]) as server:
        assert "current" in call_admin(server.target, {}, token=winner, method=GET_FAULTS)
        with pytest.raises(grpc.RpcError) as refused:
            call_admin(server.target, {}, token=loser, method=GET_FAULTS)
    failed: grpc.Call = refused.value  # type: ignore[assignment]
    assert failed.code() is grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("make", [admin_handler, aio_admin_handler])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, r"^RESILIENCE_ADMIN_TOKEN: not set"),
        ("", r"^RESILIENCE_ADMIN_TOKEN: not set"),
        ("short", r"^RESILIENCE_ADMIN_TOKEN: must be a secret string of at least 8"),
    ],
)
def test_a_missing_or_short_token_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, make: object, value: str | None, message: str
) -> None:
    if value is None:
        monkeypatch.delenv("RESILIENCE_ADMIN_TOKEN", raising=False)
    else:
        monkeypatch.setenv("RESILIENCE_ADMIN_TOKEN", value)
    with pytest.raises(ConfigError, match=message):
        make()  # type: ignore[operator]
