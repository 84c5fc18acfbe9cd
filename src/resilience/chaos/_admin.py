"""A tiny gRPC admin service that lets an experiment switch a running service's faults.

``/resilience.admin.v1.Admin/SetFaults`` and ``/resilience.admin.v1.Admin/GetFaults`` take
and return JSON bytes (no generated code; any gRPC client can call them)::

    SetFaults request:  {"injector": "default", "rules": [{...FaultRule fields...}],
                         "enabled": true, "ttl": 30}
    response (both):    {"previous": {"enabled": false, "rules": []},
                         "current":  {"enabled": true, "rules": [...]}}

``rules`` absent keeps the current rules; ``ttl`` (seconds, finite, > 0, at most the handler's
``max_ttl``) makes the faults switch themselves off, so a crashed experiment cannot leave them
on; a request that enables faults without a ``ttl`` gets ``max_ttl``. A refused request changes
nothing: every field is checked before the injector is switched, in one step. Error messages
name the fields as sent (``ttl``, ``rules[0].percentage``). Every call must carry the metadata
``x-resilience-admin-token`` equal to the server's token; colors are still limited to the
injector's ``allowed_colors``, which only the service's own code sets. Serve it on a private
or loopback port::

    server.add_generic_rpc_handlers([admin_handler()])  # token: RESILIENCE_ADMIN_TOKEN
"""

from __future__ import annotations

import hmac
import json
import math
from typing import Any

import grpc

from resilience._base.env import ADMIN_TOKEN_VAR, env_value
from resilience.chaos._injector import FaultInjector, InjectorRegistry, injectors
from resilience.chaos._rules import rules_from_dicts
from resilience.errors import ConfigError

SERVICE = "resilience.admin.v1.Admin"
SET_FAULTS = f"/{SERVICE}/SetFaults"
GET_FAULTS = f"/{SERVICE}/GetFaults"
TOKEN_KEY = "x-resilience-admin-token"
MAX_REQUEST_BYTES = 1 << 20
DEFAULT_MAX_TTL = 7200.0
"""Default longest time, in seconds, that one SetFaults request may switch faults on for: two
hours, room for the longest experiment (a one-hour ``duration`` plus its grace)."""
_REQUEST_FIELDS = ("injector", "rules", "enabled", "ttl")


class AdminError(Exception):
    """A refused admin request: the status code and the message the caller gets."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def state_of(injector: FaultInjector) -> dict[str, Any]:
    """An injector's switch and rules as JSON-ready data."""
    return {"enabled": injector.enabled, "rules": [rule.to_dict() for rule in injector.rules]}


def authenticate(metadata: Any, token: str) -> None:
    """Check a call's ``x-resilience-admin-token`` against ``token`` (constant time); raises
    :class:`AdminError` (UNAUTHENTICATED when missing, PERMISSION_DENIED when wrong)."""
    supplied = dict(metadata or ()).get(TOKEN_KEY)
    if supplied is None:
        raise AdminError(grpc.StatusCode.UNAUTHENTICATED, f"missing {TOKEN_KEY} metadata")
    if not hmac.compare_digest(str(supplied).encode(), token.encode()):
        raise AdminError(grpc.StatusCode.PERMISSION_DENIED, "wrong admin token")


def handle(
    method: str,
    payload: bytes,
    metadata: Any,
    *,
    registry: InjectorRegistry,
    token: str,
    max_ttl: float = DEFAULT_MAX_TTL,
) -> bytes:
    """Serve one admin call (pure: no gRPC context); raises :class:`AdminError`.

    A SetFaults request is checked whole before the injector changes, so a refused one
    changes nothing."""
    authenticate(metadata, token)
    if len(payload) > MAX_REQUEST_BYTES:
        raise AdminError(grpc.StatusCode.INVALID_ARGUMENT, "request larger than 1 MiB")
    try:
        request = json.loads(payload or b"{}")
        if not isinstance(request, dict):
            raise ConfigError("request: must be a JSON object")
        unknown = sorted(set(request) - set(_REQUEST_FIELDS))
        if unknown:
            raise ConfigError(
                f"{unknown[0]}: unknown field; expected one of {list(_REQUEST_FIELDS)}"
            )
        name = request.get("injector", "default")
        try:
            injector = registry.get(name)
        except LookupError as exc:
            raise AdminError(grpc.StatusCode.NOT_FOUND, str(exc)) from None
        previous = state_of(injector)
        if method == SET_FAULTS:
            _apply(injector, request, max_ttl)
        return json.dumps({"previous": previous, "current": state_of(injector)}).encode()
    except (ConfigError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise AdminError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None


def _apply(injector: FaultInjector, request: dict[str, Any], max_ttl: float) -> None:
    enabled = request.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"enabled: must be true or false, got {enabled!r}")
    ttl = _ttl(request.get("ttl"), max_ttl)
    rules = rules_from_dicts(request["rules"], where="rules") if "rules" in request else None
    injector.switch(rules, enabled=enabled, for_seconds=ttl)


def _ttl(raw: Any, max_ttl: float) -> float:
    """The request's ``ttl`` in seconds; absent or null means ``max_ttl``."""
    if raw is None:
        return max_ttl
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise ConfigError(f"ttl: must be a finite number of seconds, got {raw!r}")
    if not 0 < raw <= max_ttl:
        raise ConfigError(
            f"ttl: must be > 0 and at most {max_ttl:g} seconds (the service's max_ttl), got {raw!r}"
        )
    return float(raw)


def admin_handler(
    *,
    token: str | None = None,
    registry: InjectorRegistry = injectors,
    max_ttl: float = DEFAULT_MAX_TTL,
) -> grpc.GenericRpcHandler:
    """The admin service for a sync ``grpc.server``. ``token``: the secret every call must
    carry (at least 8 characters; None, the default, reads ``RESILIENCE_ADMIN_TOKEN``, and
    raises ConfigError naming it when it is unset or too short); ``max_ttl``: the longest, in
    seconds, one SetFaults request may switch faults on for (also what a request without
    ``ttl`` gets)."""
    token = _check(token, max_ttl)

    def serve(method: str) -> Any:
        def unary(payload: bytes, context: grpc.ServicerContext) -> bytes:
            try:
                return handle(
                    method,
                    payload,
                    context.invocation_metadata(),
                    registry=registry,
                    token=token,
                    max_ttl=max_ttl,
                )
            except AdminError as exc:
                context.abort(exc.code, str(exc))
                raise  # abort raised already; this line is for type checkers

        return grpc.unary_unary_rpc_method_handler(unary)

    return grpc.method_handlers_generic_handler(
        SERVICE, {"SetFaults": serve(SET_FAULTS), "GetFaults": serve(GET_FAULTS)}
    )


def aio_admin_handler(
    *,
    token: str | None = None,
    registry: InjectorRegistry = injectors,
    max_ttl: float = DEFAULT_MAX_TTL,
) -> grpc.GenericRpcHandler:
    """The admin service for a ``grpc.aio.server``; arguments as :func:`admin_handler`."""
    token = _check(token, max_ttl)

    def serve(method: str) -> Any:
        async def unary(payload: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            try:
                return handle(
                    method,
                    payload,
                    context.invocation_metadata(),
                    registry=registry,
                    token=token,
                    max_ttl=max_ttl,
                )
            except AdminError as exc:
                await context.abort(exc.code, str(exc))

        return grpc.unary_unary_rpc_method_handler(unary)

    return grpc.method_handlers_generic_handler(
        SERVICE, {"SetFaults": serve(SET_FAULTS), "GetFaults": serve(GET_FAULTS)}
    )


def call_admin(
    target: str,
    request: dict[str, Any],
    *,
    token: str,
    method: str = SET_FAULTS,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Call the admin service at ``target`` (insecure channel) and return its JSON answer;
    a refusal raises ``grpc.RpcError``."""
    with grpc.insecure_channel(target) as channel:
        generic: Any = channel  # no serializers: JSON bytes both ways
        answer: bytes = generic.unary_unary(method)(
            json.dumps(request).encode(), metadata=((TOKEN_KEY, token),), timeout=timeout
        )
    result: dict[str, Any] = json.loads(answer)
    return result


def _check(token: str | None, max_ttl: float) -> str:
    """The token to check calls against (the argument, else the environment's); ConfigError
    for a bad token or ``max_ttl``."""
    name = "token"
    if token is None:
        name = ADMIN_TOKEN_VAR
        token = env_value(ADMIN_TOKEN_VAR)
        if token is None:
            raise ConfigError(
                f"{ADMIN_TOKEN_VAR}: not set; set it (or pass token=) to a secret of at least "
                "8 characters"
            )
    if not isinstance(token, str) or len(token) < 8:
        raise ConfigError(f"{name}: must be a secret string of at least 8 characters")
    if isinstance(max_ttl, bool) or not (
        isinstance(max_ttl, (int, float)) and math.isfinite(max_ttl) and max_ttl > 0
    ):
        raise ConfigError(f"max_ttl: must be a finite number of seconds > 0, got {max_ttl!r}")
    return token
