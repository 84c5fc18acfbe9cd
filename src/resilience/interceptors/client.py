"""The sync client interceptor: one interceptor for all four shapes of a ``grpc`` channel."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple

import grpc
from opentelemetry.context import attach, detach

from resilience._base.clock import Clock, default_clock
from resilience._base.keys import replayable
from resilience.events import Observer
from resilience.interceptors._answered import Answered, AnsweredLater
from resilience.interceptors._facade import ClientFacade
from resilience.interceptors._fallbacks import NO_DESERIALIZER, FallbackFunction, respond
from resilience.interceptors._pipeline import Rejection
from resilience.interceptors._plain_stream import recorded
from resilience.interceptors._protected_channel import ProtectedChannel
from resilience.interceptors._sync_attempts import AttemptsFuture
from resilience.interceptors._sync_call import LocalRejection, begin, closed_while_queued
from resilience.interceptors._sync_hedge import HedgedFuture
from resilience.interceptors._sync_retry import RetriedFuture
from resilience.policy import Policy


class _Details(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class _CallDetails(_Details, grpc.ClientCallDetails):
    """The details of the outgoing call, with the timeout and metadata the pipeline chose."""

    __slots__ = ()


_new_details = tuple.__new__
_CANCELLED = grpc.StatusCode.CANCELLED
_OK = grpc.StatusCode.OK


def _with(details: Any, timeout: float | None, metadata: Any) -> _CallDetails:
    """The caller's ``details`` with ``timeout`` seconds (what is left for a retry) and
    ``metadata``."""
    return _CallDetails(
        details.method,
        timeout,
        metadata,
        details.credentials,
        details.wait_for_ready,
        getattr(details, "compression", None),
    )


__all__ = ["ClientInterceptor", "LocalRejection"]


class ClientInterceptor(
    ClientFacade,
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Protects the calls of a sync channel and carries the current call's context onward.

    Per call, for all four RPC shapes: the method's :class:`~resilience.algorithms.SreBreaker`
    admits it or fails it locally with UNAVAILABLE (``details`` "resilience: rejected by
    breaker", trailing ``x-resilience-reject: breaker``; the network is not touched); the
    timeout becomes the least of the method's dynamic timeout (unary calls, or streams when the
    policy says so), the caller's timeout and the time left on the call being handled; trace
    context, traffic color (baggage), tier and failover mark are added to the metadata. When
    the call ends (including a cancelled stream) its status feeds the breaker and the dynamic
    timeout, per the method's ``failure_codes``. Observers hear of every call.

    ``policy``: per-method settings (default :meth:`Policy.default`: propagation and breaker
    on). ``observers``: receive ``call_started``/``call_ended`` (default: the metrics observer
    and the crash reporter of :mod:`resilience.observability`; ``()`` for none). ``clock``:
    seconds, for the algorithms and call durations. ``fallbacks``: ``{method pattern:
    function(request, error)}``, the answers of the policy's ``fallback`` section for
    unary-unary calls (the most specific pattern wins). Usage::

        channel = grpc.intercept_channel(grpc.insecure_channel(target), ClientInterceptor())
    """

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        observers: Sequence[Observer] | None = None,
        clock: Clock = default_clock,
        fallbacks: Mapping[str, FallbackFunction] | None = None,
    ) -> None:
        super().__init__(policy, observers, clock, fallbacks)

    def protect(self, channel: grpc.Channel) -> grpc.Channel:
        """``channel`` with this stack on every call, carried by its multi-callables instead
        of ``grpc.intercept_channel`` (gRPC's per-call interception machinery skipped: the
        faster way, same behaviour). The result is a ``grpc.Channel``: use it for stubs, wrap
        it further, close it (that closes ``channel``). Usage::

            channel = ClientInterceptor(policy).protect(grpc.insecure_channel(target))
        """
        return ProtectedChannel(channel, self)

    def intercept_unary_unary(
        self,
        continuation: Callable[..., Any],
        client_call_details: Any,
        request: Any,
        streaming: bool = False,
        retrying: bool = False,
    ) -> Any:
        """Every shape's interception (``streaming``: the request or the response is a stream;
        ``retrying``: a retry's attempt, not retried itself); the unary shape, the usual one,
        calls it directly (one frame fewer per call)."""
        details = client_call_details
        metadata = details.metadata
        if metadata is not None and metadata.__class__ is not tuple:  # see replayable
            replayed = replayable(metadata)
            if replayed is not metadata:
                details = _with(details, details.timeout, replayed)
        call = begin(self._pipeline, details.method, details.timeout, details.metadata, streaming)
        if isinstance(call, Rejection):
            if streaming or retrying:
                return LocalRejection(call)
            return self._fallen_back(details.method, request, LocalRejection(call))
        outgoing = _new_details(  # tuple.__new__: no generated __new__ frame per call
            _CallDetails,
            (
                details.method,
                call.timeout,
                call.metadata,
                details.credentials,
                details.wait_for_ready,
                getattr(details, "compression", None),
            ),
        )
        inner = call.inner_context
        token = None if inner is None else attach(inner)  # see _metadata.inner_context
        try:
            future = continuation(outgoing, request)
        except BaseException as error:  # never sent (a closed channel): the call ends here
            closed = closed_while_queued(call, error)
            call.end(_CANCELLED)
            if closed is None:
                raise
            return closed
        finally:
            if token is not None:
                detach(token)
        if streaming:  # a stream may be a plain iterator (OpenTelemetry's instrumented one)
            return recorded(future, call)
        future.add_done_callback(call.future_done)  # a unary call's runs at once: it is done
        state = call.state
        if retrying:
            return future
        if state.retry is not None or state.hedge is not None:
            # Blocking or .future(), the call's attempts are driven by their done callbacks:
            # the interceptor cannot tell them apart (a blocking call's first attempt is done
            # when it returns, and so may a future's), and must not make a .future() caller
            # wait.
            again = partial(self._again, continuation, details, request)
            listeners = self._pipeline.listeners
            retry, hedge = state.retry, state.hedge
            if retry is not None:
                retried = retry.start(state.method, details.timeout, listeners)
                future = RetriedFuture(future, retried, again)
            elif hedge is not None:
                hedging = hedge.start(state.method, details.timeout, listeners)
                future = HedgedFuture(future, hedging, again, blocking=False)
        if state.settings.fallback is None:
            return future
        return self._fallen_back(details.method, request, future)

    def _fallen_back(self, method: str, request: Any, future: Any) -> Any:
        """The policy's ``fallback`` for a unary-unary call: the function registered for the
        method answers a failure the section names (the interceptor form knows no response
        deserializer, so ``response = "empty"`` does not apply here; see :mod:`._fallbacks`).
        A call that ended is answered now; one retried or hedged (its attempts follow from
        done callbacks) when it ends (:class:`AnsweredLater`); any other call in flight (a
        ``.future()`` call) is returned as it is."""
        if future.done():
            return self._answered(method, request, future) or future
        if isinstance(future, AttemptsFuture):
            return AnsweredLater(future, partial(self._answered, method, request))
        return future

    def _answered(self, method: str, request: Any, future: Any) -> Answered | None:
        """The :class:`Answered` call of ``future``, an ended call, when the fallback answers
        its failure; else None."""
        code = future.code()
        if code is _OK:
            return None
        answer = self._answer(method, code, future.trailing_metadata(), NO_DESERIALIZER)
        if answer is None:
            return None
        error = future.exception() or future
        answered, response = respond(answer, request, error, code, self._fallback_observers)
        return Answered(response, error) if answered else None

    def _again(
        self, continuation: Callable[..., Any], details: Any, request: Any, left: float | None
    ) -> Any:
        """A retry's or hedge's attempt through this interceptor, with ``left`` seconds of the
        caller's timeout (None: none)."""
        again = details if left is None else _with(details, left, details.metadata)
        return self.intercept_unary_unary(continuation, again, request, False, True)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return self.intercept_unary_unary(continuation, client_call_details, request, True)

    def intercept_stream_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Any:
        return self.intercept_unary_unary(continuation, client_call_details, request_iterator, True)

    def intercept_stream_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Any:
        return self.intercept_unary_unary(continuation, client_call_details, request_iterator, True)
