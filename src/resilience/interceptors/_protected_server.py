"""Servers protected without gRPC's per-call interception: the handlers are wrapped where they
are registered.

A ``grpc.ServerInterceptor`` makes gRPC run its interception pipeline on every call (closures,
a continuation per interceptor, on grpc.aio a coroutine per interceptor) only to hand back the
method handler. When the library is given the server instead, it wraps each generic handler
once: a call asks the wrapper for its method's handler, which returns the same wrapped handler
the interceptor would (one dict read), and gRPC then runs it as it would any handler. Both
paths share the interceptor's handler cache and shells, so a call sees the same stack.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import grpc
import grpc.aio

from resilience.interceptors._server_common import HandlerCache
from resilience.interceptors._shapes import Handler, shape_of


class _Owner(Protocol):
    """What a protected server needs of its interceptor: the handler cache it wraps with."""

    _handlers: HandlerCache


class ProtectedHandler(grpc.GenericRpcHandler):
    """A generic handler whose method handlers run the server stack of ``owner`` (a
    :class:`ServerInterceptor` or :class:`AioServerInterceptor`), wrapped once per method and
    reused (rewrapped after a policy reload that changes the server hooks)."""

    __slots__ = ("_inner", "_owner")

    def __init__(self, inner: grpc.GenericRpcHandler, owner: _Owner) -> None:
        if not callable(getattr(inner, "service", None)):
            raise TypeError(
                f"expected a grpc.GenericRpcHandler (an object with service(details)), got "
                f"{inner!r}: build one with grpc.method_handlers_generic_handler(service, handlers)"
            )
        self._inner = inner
        self._owner = owner

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        handler = self._inner.service(handler_call_details)
        if handler is None:
            return None
        return self._owner._handlers.get(handler_call_details.method, handler)

    def __repr__(self) -> str:
        return f"ProtectedHandler({self._inner!r})"


def protect_handlers(
    handlers: Iterable[grpc.GenericRpcHandler], owner: _Owner
) -> tuple[grpc.GenericRpcHandler, ...]:
    """Each of ``handlers`` wrapped in a :class:`ProtectedHandler` of ``owner``."""
    if isinstance(handlers, grpc.GenericRpcHandler):
        raise TypeError(
            "protect_handlers takes a sequence of generic handlers, as "
            "server.add_generic_rpc_handlers does: pass (handler,), not handler"
        )
    return tuple(ProtectedHandler(handler, owner) for handler in handlers)


def protect_registered(server: grpc.Server, owner: _Owner) -> None:
    """Protect, in place, the handlers registered on the sync ``server`` before it was given
    to ``protect`` (``grpc.server(handlers=...)``, ``add_generic_rpc_handlers``,
    ``add_registered_method_handlers``, generated ``add_*_to_server``): each generic handler
    is wrapped in a :class:`ProtectedHandler`, each registered method's handler runs the
    stack of ``owner`` (the handler the interceptor would give, looked up per call). Reads
    the server's private state: on a gRPC whose server keeps it elsewhere, nothing changes
    (register after ``protect`` there, as grpc.aio requires: its server keeps its handlers
    where Python cannot reach them)."""
    state = getattr(server, "_state", None)
    lock = getattr(state, "lock", None)
    generic = getattr(state, "generic_handlers", None)
    registered = getattr(state, "registered_method_handlers", None)
    if lock is None or not isinstance(generic, list):
        return
    with lock:
        generic[:] = [
            handler if isinstance(handler, ProtectedHandler) else ProtectedHandler(handler, owner)
            for handler in generic
        ]
        if isinstance(registered, dict):
            for method, handler in list(registered.items()):
                registered[method] = _looked_up(method, handler, owner)


def _looked_up(method: str, handler: Handler, owner: _Owner) -> Handler:
    """``handler`` of ``method`` running, per call, the handler ``owner`` gives for it (so a
    reload that changes the server hooks reaches it, as it reaches generic handlers)."""
    shape = shape_of(handler)

    def behavior(request: Any, context: Any) -> Any:
        return shape.behavior(owner._handlers.get(method, handler))(request, context)

    return shape.rebuild(handler, behavior)


def _as_generic(service_name: str, method_handlers: Mapping[str, Handler]) -> Any:
    return grpc.method_handlers_generic_handler(service_name, dict(method_handlers))


class _Delegating:
    """What both protected servers pass straight to the server they wrap."""

    _server: Any
    _owner: _Owner

    def add_generic_rpc_handlers(self, generic_rpc_handlers: Any) -> None:
        self._server.add_generic_rpc_handlers(protect_handlers(generic_rpc_handlers, self._owner))

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: Mapping[str, Handler]
    ) -> None:
        # gRPC runs a registered method's handler without asking any generic handler, so it is
        # served through a protected generic handler instead (generated code registers the same
        # handlers both ways; the first match serves).
        self.add_generic_rpc_handlers((_as_generic(service_name, method_handlers),))

    def add_insecure_port(self, address: str) -> int:
        port: int = self._server.add_insecure_port(address)
        return port

    def add_secure_port(self, address: str, server_credentials: grpc.ServerCredentials) -> int:
        port: int = self._server.add_secure_port(address, server_credentials)
        return port

    @property
    def protection(self) -> _Owner:
        """The interceptor whose stack this server's calls run (policy, reload, close)."""
        return self._owner

    @property
    def server(self) -> Any:
        """The gRPC server wrapped."""
        return self._server

    def __getattr__(self, name: str) -> Any:  # anything else gRPC's server offers
        return getattr(self._server, name)


class ProtectedServer(_Delegating, grpc.Server):
    """A sync ``grpc.Server`` whose registered handlers run the stack of a
    :class:`ServerInterceptor` (see :meth:`ServerInterceptor.protect`)."""

    def __init__(self, server: grpc.Server, owner: _Owner) -> None:
        if not isinstance(server, grpc.Server):
            raise TypeError(f"expected a grpc.server(...), got {server!r}")
        self._server = server
        self._owner = owner
        protect_registered(server, owner)

    def start(self) -> None:
        self._server.start()

    def stop(self, grace: float | None) -> Any:
        return self._server.stop(grace)

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        return bool(self._server.wait_for_termination(timeout))


class AioProtectedServer(_Delegating, grpc.aio.Server):
    """A ``grpc.aio.Server`` whose registered handlers run the stack of an
    :class:`AioServerInterceptor` (see :meth:`AioServerInterceptor.protect`)."""

    def __init__(self, server: grpc.aio.Server, owner: _Owner) -> None:
        if not isinstance(server, grpc.aio.Server):
            raise TypeError(f"expected a grpc.aio.server(...), got {server!r}")
        self._server = server
        self._owner = owner

    async def start(self) -> None:
        await self._server.start()

    async def stop(self, grace: float | None) -> None:
        await self._server.stop(grace)

    async def wait_for_termination(self, timeout: float | None = None) -> bool:
        return bool(await self._server.wait_for_termination(timeout))
