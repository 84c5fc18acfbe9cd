"""The context of the call being handled, carried to the calls made while handling it.

The server interceptor stores what arrived with a call (traffic color, tier, deadline, whether
it is a failover) and the method's name in one :class:`contextvars.ContextVar` for the
handler's duration; the client interceptor reads it to carry color and tier onward and to cap
the deadline of outgoing calls. Contextvars follow threads' and asyncio tasks' own contexts, so
concurrent calls never see each other's values. Trace context is not kept here: it rides
OpenTelemetry's context.

Application code uses :func:`traffic_color` and :func:`tier` to choose the color or tier of the
calls it makes, and :func:`current_color`, :func:`current_tier`, :func:`is_shadow`,
:func:`current_deadline` and :func:`current_method` to read them, and :func:`carry_context`
to take them into work a handler hands to a thread pool (a pool thread has a context of its
own).

Traffic colors mark synthetic traffic (full-link load tests, shadow traffic) so that services
can route it to shadow storage and keep it apart in metrics. By default every color counts as
shadow traffic (:func:`is_shadow` is true whenever a color is set), because a color exists to
mark such traffic; a deployment that also colors real traffic (for example by canary or
tenant) names its shadow colors with :func:`set_shadow_colors`.
"""

from __future__ import annotations

import contextvars
import functools
import re
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import TracebackType
from typing import ParamSpec, TypeVar

from opentelemetry import baggage
from opentelemetry import context as otel_context

from resilience._base.keys import COLOR_BAGGAGE

__all__ = [
    "carry_context",
    "current_color",
    "current_deadline",
    "current_method",
    "current_tier",
    "is_failover",
    "is_shadow",
    "set_shadow_colors",
    "shadow_colors",
    "tier",
    "time_remaining",
    "traffic_color",
]


@dataclass(frozen=True, slots=True, init=False)
class CallContext:
    """What the current call carries: ``color`` (traffic color or None), ``tier`` (1..4 or
    None), ``deadline`` (absolute :func:`time.monotonic` seconds or None), ``failover``
    (the call is itself a cross-center failover, so it must not fail over again) and
    ``method`` (the full name, ``/pkg.Service/Method``, of the call being handled, or None)."""

    color: str | None = None
    tier: int | None = None
    deadline: float | None = None
    failover: bool = False
    method: str | None = None

    def __init__(
        self,
        color: str | None = None,
        tier: int | None = None,
        deadline: float | None = None,
        failover: bool = False,
        method: str | None = None,
    ) -> None:
        # Built once per server call: writing the slots directly costs about half of the
        # frozen dataclass's object.__setattr__ per field. Still immutable afterwards.
        _set_color(self, color)
        _set_tier(self, tier)
        _set_deadline(self, deadline)
        _set_failover(self, failover)
        _set_method(self, method)


_set_color = CallContext.__dict__["color"].__set__
_set_tier = CallContext.__dict__["tier"].__set__
_set_deadline = CallContext.__dict__["deadline"].__set__
_set_failover = CallContext.__dict__["failover"].__set__
_set_method = CallContext.__dict__["method"].__set__


EMPTY_CALL_CONTEXT = CallContext()
"""The context outside any call: no color, tier or deadline."""

_CALL: ContextVar[CallContext] = ContextVar("resilience.call", default=EMPTY_CALL_CONTEXT)

_P = ParamSpec("_P")
_R = TypeVar("_R")

_COLOR = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_shadow_colors: frozenset[str] | None = None


def valid_color(value: object) -> bool:
    """Whether ``value`` is a valid traffic color: 1 to 64 characters of ``[A-Za-z0-9_.-]``."""
    return isinstance(value, str) and _COLOR.fullmatch(value) is not None


def current_call_context() -> CallContext:
    """The context of the call being handled (:data:`EMPTY_CALL_CONTEXT` outside any)."""
    return _CALL.get()


def set_call_context(context: CallContext) -> Token[CallContext]:
    """Make ``context`` current; pass the returned token to :func:`reset_call_context`. For
    interceptors that cannot use a ``with`` block (streams); others use
    :func:`use_call_context`."""
    return _CALL.set(context)


def reset_call_context(token: Token[CallContext]) -> None:
    """Restore the context that was current before :func:`set_call_context` returned ``token``."""
    _CALL.reset(token)


class _Scope:
    """A single-use ``with`` block that makes a context current and restores the previous one."""

    __slots__ = ("_token",)

    def _target(self) -> CallContext:
        raise NotImplementedError

    def __enter__(self) -> CallContext:
        context = self._target()
        self._token = _CALL.set(context)
        return context

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _CALL.reset(self._token)


class _Install(_Scope):
    __slots__ = ("_context",)

    def __init__(self, context: CallContext) -> None:
        self._context = context

    def _target(self) -> CallContext:
        return self._context


class _Color(_Scope):
    """Replaces the color of the context current at entry. ``None`` also takes the color
    entry out of the current OpenTelemetry baggage for the block (a server call's baggage
    holds the caller's color, and the client propagates the current baggage): calls made in
    the block carry no color."""

    __slots__ = ("_color", "_otel_token")

    def __init__(self, color: str | None) -> None:
        self._color = color
        self._otel_token: Token[otel_context.Context] | None = None

    def _target(self) -> CallContext:
        now = _CALL.get()
        return CallContext(self._color, now.tier, now.deadline, now.failover, now.method)

    def __enter__(self) -> CallContext:
        context = super().__enter__()
        if self._color is None:
            current = otel_context.get_current()
            if baggage.get_baggage(COLOR_BAGGAGE, current) is not None:
                uncolored = baggage.remove_baggage(COLOR_BAGGAGE, current)
                self._otel_token = otel_context.attach(uncolored)
        return context

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        token, self._otel_token = self._otel_token, None
        if token is not None:
            otel_context.detach(token)
        super().__exit__(exc_type, exc, traceback)


class _Tier(_Scope):
    """Replaces the tier of the context current at entry."""

    __slots__ = ("_tier",)

    def __init__(self, tier: int) -> None:
        self._tier = tier

    def _target(self) -> CallContext:
        now = _CALL.get()
        return CallContext(now.color, self._tier, now.deadline, now.failover, now.method)


def use_call_context(context: CallContext) -> _Scope:
    """``with use_call_context(ctx):`` makes ``ctx`` current for the block (one ContextVar set
    and one reset); the server interceptor wraps each handler in it."""
    return _Install(context)


def traffic_color(name: str | None) -> _Scope:
    """``with traffic_color("loadtest"):`` calls made in the block carry that color.

    ``name``: 1 to 64 characters of ``[A-Za-z0-9_.-]`` (ValueError otherwise), or None for
    calls without a color (the color entry then also leaves the current OpenTelemetry baggage
    for the block, so a served call's color does not travel on in it). Tier, deadline and
    failover of the current call are kept.
    """
    if name is not None and not valid_color(name):
        raise ValueError(
            "traffic color must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '.', '-'; "
            f"got {name!r}"
        )
    return _Color(name)


def tier(value: int) -> _Scope:
    """``with tier(1):`` calls made in the block claim that tier (1, the most critical, to 4).

    A server honors the claim only from a trusted peer. ValueError for anything but 1..4.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4:
        raise ValueError(f"tier must be an int from 1 (most critical) to 4, got {value!r}")
    return _Tier(value)


def current_color() -> str | None:
    """The traffic color of the current call, or None."""
    return _CALL.get().color


def current_tier() -> int | None:
    """The tier of the current call (1..4), or None outside a call and without :func:`tier`."""
    return _CALL.get().tier


def current_method() -> str | None:
    """The full method name (``/pkg.Service/Method``) of the call being handled, or None
    outside a server call (the log filter of :mod:`resilience.observability` adds it)."""
    return _CALL.get().method


def current_deadline() -> float | None:
    """The absolute :func:`time.monotonic` deadline of the call being handled, or None."""
    return _CALL.get().deadline


def time_remaining() -> float | None:
    """Seconds left before the current call's deadline (negative once passed), or None."""
    deadline = _CALL.get().deadline
    return None if deadline is None else deadline - time.monotonic()


def is_failover() -> bool:
    """Whether the call being handled is itself a cross-center failover attempt."""
    return _CALL.get().failover


def is_shadow() -> bool:
    """Whether the current call is shadow (load-test) traffic: it has a color and that color is
    a shadow color (by default, every color is; see :func:`set_shadow_colors`)."""
    color = _CALL.get().color
    return color is not None and (_shadow_colors is None or color in _shadow_colors)


def set_shadow_colors(colors: Iterable[str] | None) -> None:
    """Declare which colors are shadow traffic for :func:`is_shadow`, process-wide.

    ``None`` (the default) means every color; an iterable names them (each a valid color,
    ValueError otherwise; an empty one means no color is shadow traffic).
    """
    global _shadow_colors
    if colors is None:
        _shadow_colors = None
        return
    if isinstance(colors, str):
        raise ValueError(f"colors must be an iterable of colors, not one string: {colors!r}")
    chosen = frozenset(colors)
    invalid = [color for color in chosen if not valid_color(color)]
    if invalid:
        raise ValueError(f"invalid traffic colors: {invalid!r}")
    _shadow_colors = chosen


def shadow_colors() -> frozenset[str] | None:
    """The colors :func:`is_shadow` treats as shadow traffic; None means every color."""
    return _shadow_colors


def carry_context(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """``fn`` made to run, wherever it is called, in the context current *now*.

    A thread pool (``executor.submit``, ``loop.run_in_executor``) runs its work in the pool
    thread's own context, so the calls that work makes carry none of the handled call's trace,
    color, tier or deadline: ``executor.submit(carry_context(work), ...)`` takes them along
    (``asyncio.to_thread`` copies the context itself). The snapshot is taken when
    ``carry_context`` is called; each call of the result runs in a fresh copy of it, so the
    wrapped function may run in several threads at once and its own changes stay its own.
    """
    snapshot = contextvars.copy_context()

    @functools.wraps(fn)
    def in_snapshot(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return snapshot.copy().run(fn, *args, **kwargs)

    return in_snapshot
