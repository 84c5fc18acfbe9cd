"""On-demand profiling through the admin service: ``/resilience.admin.v1.Admin/Profile``,
served next to the chaos admin methods (same service name, same token; see docs/chaos.md).

Request (JSON bytes): ``{"seconds": 30}`` (0 < seconds <= 3600; default 30) makes the
process's profiler sample at its ``rate`` for that long. Response: ``{"state": "on_demand",
"directory": "...", "last_path": "..." or null, "profiles": {"cpu": n, "heap": n}}``. With no
profiler running (no ``profiling`` section in the server's policy) the call fails with
FAILED_PRECONDITION.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import grpc

from resilience.chaos._admin import DEFAULT_MAX_TTL, SERVICE, AdminError, _check, authenticate
from resilience.profiling._profiler import Profiler
from resilience.profiling._shared import current_profiler

PROFILE = f"/{SERVICE}/Profile"
DEFAULT_SECONDS = 30.0


def handle_profile(
    payload: bytes, metadata: Any, *, token: str, profiler: Callable[[], Profiler | None]
) -> bytes:
    """Serve one Profile call (pure: no gRPC context); raises AdminError."""
    authenticate(metadata, token)
    try:
        request = json.loads(payload or b"{}")
    except ValueError as exc:
        raise AdminError(grpc.StatusCode.INVALID_ARGUMENT, f"not JSON: {exc}") from None
    if not isinstance(request, dict) or set(request) - {"seconds"}:
        raise AdminError(grpc.StatusCode.INVALID_ARGUMENT, 'expected {"seconds": N}')
    seconds = request.get("seconds", DEFAULT_SECONDS)
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not math.isfinite(seconds)
        or not 0 < seconds <= 3600
    ):
        raise AdminError(
            grpc.StatusCode.INVALID_ARGUMENT, f"seconds: must be > 0 and <= 3600, got {seconds!r}"
        )
    running = profiler()
    if running is None:
        raise AdminError(
            grpc.StatusCode.FAILED_PRECONDITION,
            "no profiler is running: add a [profiling] section to the server's policy",
        )
    running.profile_for(float(seconds))
    return json.dumps(
        {
            "state": "on_demand",
            "directory": running.store.directory,
            "last_path": running.last_path,
            "profiles": running.profiles,
        }
    ).encode()


def profile_admin_handler(
    *, token: str | None = None, profiler: Callable[[], Profiler | None] = current_profiler
) -> grpc.GenericRpcHandler:
    """The Profile method for a sync ``grpc.server`` (add it next to ``admin_handler()``).
    ``token``: as for the chaos admin service (None reads ``RESILIENCE_ADMIN_TOKEN``);
    ``profiler``: returns the profiler to drive (default: the process's shared one)."""
    secret = _check(token, DEFAULT_MAX_TTL)

    def unary(payload: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            return handle_profile(
                payload, context.invocation_metadata(), token=secret, profiler=profiler
            )
        except AdminError as exc:
            context.abort(exc.code, str(exc))
            raise

    return grpc.method_handlers_generic_handler(
        SERVICE, {"Profile": grpc.unary_unary_rpc_method_handler(unary)}
    )


def aio_profile_admin_handler(
    *, token: str | None = None, profiler: Callable[[], Profiler | None] = current_profiler
) -> grpc.GenericRpcHandler:
    """The Profile method for a ``grpc.aio.server``; arguments as
    :func:`profile_admin_handler`."""
    secret = _check(token, DEFAULT_MAX_TTL)

    async def unary(payload: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        try:
            return handle_profile(
                payload, context.invocation_metadata(), token=secret, profiler=profiler
            )
        except AdminError as exc:
            await context.abort(exc.code, str(exc))

    return grpc.method_handlers_generic_handler(
        SERVICE, {"Profile": grpc.unary_unary_rpc_method_handler(unary)}
    )
