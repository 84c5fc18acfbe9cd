"""A tiny gRPC admin service that lets an experiment switch a running service's faults.

``/resilience.admin.v1.Admin/SetFaults`` and ``/resilience.admin.v1.Admin/GetFaults`` take
and return JSON bytes (no generated code; any gRPC client can call them)::

    SetFaults request:  {"injector": "default", "rules": [{...FaultRule fields...}],
                         "enabled": true, "ttl": 30}
    response (both):    {"previous": {"enabled": false, "rules": []},
                         "current":  {"enabled": true, "rules": [...]}}

``rules`` absent keeps the current rules; ``ttl`` (seconds) makes the faults switch themselves
off, so a crashed experiment cannot leave them on. Every call must carry the metadata
``x-resilience-admin-token`` equal to the server's token; colors are still limited to the
injector's ``allowed_colors``, which only the service's own code sets. Serve it on a private
or loopback port::

    server.add_generic_rpc_handlers([admin_handler(token=os.environ["RESILIENCE_ADMIN_TOKEN"])])
"""

from __future__ import annotations

import hmac
import json
from typing import Any

import grpc

from resilience._chaos_rules import rules_from_dicts
from resilience.chaos import FaultInjector, InjectorRegistry, injectors
from resilience.errors import ConfigError

SERVICE = "resilience.admin.v1.Admin"
SET_FAULTS = f"/{SERVICE}/SetFaults"
GET_FAULTS = f"/{SERVICE}/GetFaults"
TOKEN_KEY = "x-resilience-admin-token"
MAX_REQUEST_BYTES = 1 << 20


class AdminError(Exception):
    """A refused admin request: the status code and the message the caller gets."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def state_of(injector: FaultInjector) -> dict[str, Any]:
    """An injector's switch and rules as JSON-ready data."""
    return {"enabled": injector.enabled, "rules": [rule.to_dict() for rule in injector.rules]}


def handle(
    method: str, payload: bytes, metadata: Any, *, registry: InjectorRegistry, token: str
) -> bytes:
    """Serve one admin call (pure: no gRPC context); raises :class:`AdminError`."""
    supplied = dict(metadata or ()).get(TOKEN_KEY)
    if supplied is None:
        raise AdminError(grpc.StatusCode.UNAUTHENTICATED, f"missing {TOKEN_KEY} metadata")
    if not hmac.compare_digest(str(supplied).encode(), token.encode()):
        raise AdminError(grpc.StatusCode.PERMISSION_DENIED, "wrong admin token")
    if len(payload) > MAX_REQUEST_BYTES:
        raise AdminError(grpc.StatusCode.INVALID_ARGUMENT, "request larger than 1 MiB")
    try:
        request = json.loads(payload or b"{}")
        if not isinstance(request, dict):
            raise ConfigError("request: must be a JSON object")
        name = request.get("injector", "default")
        try:
            injector = registry.get(name)
        except LookupError as exc:
            raise AdminError(grpc.StatusCode.NOT_FOUND, str(exc)) from None
        previous = state_of(injector)
        if method == SET_FAULTS:
            _apply(injector, request)
        return json.dumps({"previous": previous, "current": state_of(injector)}).encode()
    except (ConfigError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise AdminError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None


def _apply(injector: FaultInjector, request: dict[str, Any]) -> None:
    enabled = request.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"enabled: must be true or false, got {enabled!r}")
    ttl = request.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float))):
        raise ConfigError(f"ttl: must be a number of seconds or null, got {ttl!r}")
    if "rules" in request:
        injector.replace_rules(rules_from_dicts(request["rules"], where="rules"))
    if enabled:
        injector.enable(for_seconds=ttl)
    else:
        injector.disable()


def admin_handler(*, token: str, registry: InjectorRegistry = injectors) -> grpc.GenericRpcHandler:
    """The admin service for a sync ``grpc.server``."""
    _check_token(token)

    def serve(method: str) -> Any:
        def unary(payload: bytes, context: grpc.ServicerContext) -> bytes:
            try:
                return handle(
                    method, payload, context.invocation_metadata(), registry=registry, token=token
                )
            except AdminError as exc:
                context.abort(exc.code, str(exc))
                raise  # abort raised already; this line is for type checkers

        return grpc.unary_unary_rpc_method_handler(unary)

    return grpc.method_handlers_generic_handler(
        SERVICE, {"SetFaults": serve(SET_FAULTS), "GetFaults": serve(GET_FAULTS)}
    )


def aio_admin_handler(
    *, token: str, registry: InjectorRegistry = injectors
) -> grpc.GenericRpcHandler:
    """The admin service for a ``grpc.aio.server``."""
    _check_token(token)

    def serve(method: str) -> Any:
        async def unary(payload: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            try:
                return handle(
                    method, payload, context.invocation_metadata(), registry=registry, token=token
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


def _check_token(token: str) -> None:
    if not isinstance(token, str) or len(token) < 8:
        raise ConfigError("token: must be a secret string of at least 8 characters")
