"""What the sync and aio interceptors of one side share: building the pipeline, reading and
replacing the policy, the fault injector, gauges, and (servers) closing. Only the shells'
call handling differs between sync and aio; this half is written once per side."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import grpc

from resilience._base.clock import Clock
from resilience.events import GaugeReading, Observer, ServerHook, register_gauge_source
from resilience.interceptors._client_pipeline import ClientPipeline
from resilience.interceptors._fallbacks import (
    Answer,
    Deserializer,
    FallbackFunction,
    Fallbacks,
    plan,
)
from resilience.interceptors._pipeline import state_of
from resilience.interceptors._protected_server import protect_handlers
from resilience.interceptors._server_common import HandlerCache
from resilience.interceptors._server_pipeline import ServerPipeline
from resilience.policy import Policy

if TYPE_CHECKING:
    from resilience.chaos import FaultInjector


class ClientFacade:
    """The policy-facing half of :class:`ClientInterceptor` and :class:`AioClientInterceptor`."""

    def __init__(
        self,
        policy: Policy | None,
        observers: Sequence[Observer] | None,
        clock: Clock,
        fallbacks: Mapping[str, FallbackFunction] | None = None,
    ):
        self._fallbacks = Fallbacks(fallbacks)
        self._pipeline = ClientPipeline(policy, observers, clock)
        self._fallbacks.warn_if_unused(self._pipeline.policy)
        register_gauge_source(self)  # polled (weakly held) when metrics are collected

    @property
    def _fallback_observers(self) -> tuple[Observer, ...]:
        """The observers that hear of a fallback answer (decision events)."""
        return self._pipeline.listeners

    @property
    def policy(self) -> Policy:
        """The policy in force."""
        return self._pipeline.policy

    def _answer(
        self, method: str, code: grpc.StatusCode, trailing: Any, deserializer: Deserializer
    ) -> Answer | None:
        """How a unary-unary call to ``method`` that ended with ``code`` is answered by the
        policy's ``fallback`` section, or None to raise its error (see :func:`._fallbacks.plan`;
        ``deserializer`` is ``NO_DESERIALIZER`` where the channel does not know it)."""
        state = state_of(self._pipeline.registry, method)
        if state.settings.fallback is None:
            return None
        return plan(self._fallbacks, state, code, trailing, deserializer)

    def update_policy(self, policy: Policy) -> None:
        """Swap in ``policy`` atomically; calls in flight finish under the old one, and each
        method whose settings are unchanged keeps its breaker and timeout state."""
        self._pipeline.update_policy(policy)

    @property
    def fault_injector(self) -> FaultInjector | None:
        """The fault injector built from the policy's ``faults`` and ``chaos`` sections (None
        without them); its ``side = "client"`` rules act here, before a call is sent."""
        return self._pipeline.injector

    def gauge_readings(self) -> list[GaugeReading]:
        """Current per-method gauges (a :class:`resilience.events.GaugeSource`):
        ``breaker.drop_probability``, ``breaker.state`` (0 closed, 1 half-open),
        ``timeout.seconds``, a client-side bulkhead's ``bulkhead.active`` and
        ``bulkhead.queued``, and ``fault.remaining_seconds`` per client-side fault rule while
        faults are injected."""
        readings = self._pipeline.gauge_readings()
        injector = self._pipeline.injector
        if injector is not None:
            readings.extend(injector.gauge_readings("client"))
        return readings


class ServerFacade:
    """The policy-facing half of :class:`ServerInterceptor` and :class:`AioServerInterceptor`.
    A subclass sets ``_AIO`` and provides ``_wrap`` (its shell around a method's handler)."""

    _AIO: ClassVar[bool]
    _wrap: Callable[..., Any]

    def __init__(
        self,
        policy: Policy | None,
        observers: Sequence[Observer] | None,
        clock: Clock,
        hooks: Sequence[ServerHook],
    ) -> None:
        self._pipeline = ServerPipeline(policy, observers, clock, aio=self._AIO)
        register_gauge_source(self)  # polled (weakly held) when metrics are collected
        self._user_hooks: tuple[ServerHook, ...] = tuple(hooks)
        self._hooked = self._pipeline.plugins  # what self._hooks were built from
        self._hooks = self._hooked.server_hooks(aio=self._AIO) + self._user_hooks
        self._handlers = HandlerCache(self._wrap)

    @property
    def policy(self) -> Policy:
        """The policy in force."""
        return self._pipeline.policy

    def update_policy(self, policy: Policy) -> None:
        """Swap in ``policy`` atomically; calls in flight finish under the old one, and each
        method whose settings are unchanged keeps its limiter and overload state. It applies
        in full or not at all: a new policy refused (ConfigError, TypeError) changes nothing,
        and closing what the old one held never fails the reload (it is logged)."""
        self._pipeline.update_policy(policy)
        plugins = self._pipeline.plugins
        if not plugins.same_objects(self._hooked):  # new hooks: rewrap handlers as called
            self._hooks = plugins.server_hooks(aio=self._AIO) + self._user_hooks
            self._handlers = HandlerCache(self._wrap)
            self._hooked = plugins

    def protect_handlers(
        self, handlers: Iterable[grpc.GenericRpcHandler]
    ) -> tuple[grpc.GenericRpcHandler, ...]:
        """``handlers`` (generic handlers, as ``server.add_generic_rpc_handlers`` takes them)
        wrapped so that their calls run this stack without gRPC's per-call interception:
        register the result on a server built *without* this interceptor. Each method's
        handler is wrapped once and reused. :meth:`protect` does this for a whole server."""
        return protect_handlers(handlers, self)

    def close(self) -> None:
        """Release what the policy holds: stop the background sync of Redis-backed limits,
        close their connections and the traffic recording file. Idempotent; call it after
        stopping the server. Calls that still arrive are decided locally, never failed (and
        still recorded: the file is reopened to append). A release that fails (the recording
        file on a full disk) is logged as a warning, never raised."""
        self._pipeline.close()

    @property
    def fault_injector(self) -> FaultInjector | None:
        """The :class:`~resilience.chaos.FaultInjector` built from the policy's ``faults`` and
        ``chaos`` sections (None without them): switch it or replace its rules at runtime,
        or register it with :data:`resilience.chaos.injectors` for the admin service."""
        return self._pipeline.plugins.injector

    def gauge_readings(self) -> list[GaugeReading]:
        """Current per-method gauges (a :class:`resilience.events.GaugeSource`): a limit's
        ``limiter.limit`` and ``limiter.used`` (per tier), the overload guard's
        ``overload.shedding``, ``overload.cpu`` and ``overload.inflight``, a bulkhead's
        ``bulkhead.active`` and ``bulkhead.queued``, and ``fault.remaining_seconds`` per
        server-side fault rule while faults are injected."""
        readings = self._pipeline.gauge_readings()
        injector = self._pipeline.plugins.injector
        if injector is not None:
            readings.extend(injector.gauge_readings("server"))
        return readings
