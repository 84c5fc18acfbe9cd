"""What the interceptors, the failover channel and the limiters report, and to whom.

The call path reports to :class:`Observer` objects (metrics, crash reports, recorders): one
``call_started`` and one ``call_ended`` per call and side, plus named events for decisions
(a failover attempted, a limiter falling back to local mode). Slowly changing state (breaker
drop probability, dynamic timeout, retry window size) is not pushed per call: its owners are
:class:`GaugeSource` objects that an observer polls when it exports.

An observer must be cheap and must not raise; the caller guards every call to it anyway, so a
bug in an observer is logged and never fails an RPC. An observer that needs only part of this
declares it (:class:`Interest`); the rest is never called.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import grpc

from resilience._base import interest_watch as _interest_watch

__all__ = [
    "EVERYTHING",
    "NOTHING",
    "CallInfo",
    "CallOutcome",
    "GaugeReading",
    "GaugeRegistry",
    "GaugeSource",
    "Interest",
    "Observer",
    "ServerHook",
    "Side",
    "default_gauge_registry",
    "hearing",
    "interest_changed",
    "interest_of",
    "register_gauge_source",
    "unregister_gauge_source",
]

Side = Literal["client", "server"]
"""Which end of a call an event describes."""

_log = logging.getLogger("resilience.observability")


@dataclass(frozen=True, slots=True)
class CallInfo:
    """One RPC on one side: ``method`` is the full name (``/pkg.Service/Method``)."""

    side: Side
    method: str
    color: str | None = None
    tier: int | None = None


@dataclass(frozen=True, slots=True, init=False)
class CallOutcome:
    """How an RPC ended: its status code, its duration in seconds, the local reject reason (a
    RejectReason value) when the library refused it, and the exception that escaped the
    handler when one did (server side)."""

    code: grpc.StatusCode
    duration: float
    reject_reason: str | None = None
    exception: BaseException | None = None

    def __init__(
        self,
        code: grpc.StatusCode,
        duration: float,
        reject_reason: str | None = None,
        exception: BaseException | None = None,
    ) -> None:
        # Built once per call and side: writing the slots directly costs about half of the
        # frozen dataclass's object.__setattr__ per field. Still immutable afterwards.
        _set_code(self, code)
        _set_duration(self, duration)
        _set_reject_reason(self, reject_reason)
        _set_exception(self, exception)


_set_code = CallOutcome.__dict__["code"].__set__
_set_duration = CallOutcome.__dict__["duration"].__set__
_set_reject_reason = CallOutcome.__dict__["reject_reason"].__set__
_set_exception = CallOutcome.__dict__["exception"].__set__


@dataclass(frozen=True, slots=True)
class GaugeReading:
    """The current value of a named gauge, for example ``breaker.drop_probability``."""

    name: str
    value: float
    attributes: Mapping[str, str]


class Observer(Protocol):
    """Receives call lifecycle reports and decision events.

    By default an observer hears everything: ``call_started`` and ``call_ended`` of every call
    on both sides, and every decision ``event``. One that needs less declares it with an
    ``interest`` attribute, an :class:`Interest` (a class attribute will do), for example a
    crash reporter acting only on server handlers' exceptions::

        interest = Interest(sides=("server",), starts=False, events=False)

    The interceptors, the failover channel and :class:`resilience.pipeline.Pipeline` read it
    when they are built, and never call the methods it excludes (each still has to exist). An
    observer that changes its interest at run time (the status page's statistics hear nothing
    until a page is served) calls :func:`interest_changed` with itself after the change: they
    read it again, and every call that starts afterwards follows the new interest. A call
    already started keeps the observers it told of its start, to its end.
    """

    def call_started(self, call: CallInfo) -> None:
        """A call was admitted to the interceptor (before any policy decision)."""

    def call_ended(self, call: CallInfo, outcome: CallOutcome) -> None:
        """The call ended (completed, failed, rejected locally or cancelled)."""

    def event(self, name: str, attributes: Mapping[str, str]) -> None:
        """A named decision happened, e.g. ``failover.attempted`` with ``{"target": ...}``."""


_SIDES: frozenset[Side] = frozenset(("client", "server"))


@dataclass(frozen=True, slots=True, init=False)
class Interest:
    """What an observer hears (see :class:`Observer`): ``sides``, the call sides whose
    ``call_started``/``call_ended`` it gets (any of ``"client"``, ``"server"``); ``starts`` and
    ``ends``, whether it gets those two at all; ``events``, whether it gets decision events
    (they have no side). The default, :data:`EVERYTHING`, is all of it."""

    sides: frozenset[Side]
    starts: bool
    ends: bool
    events: bool

    def __init__(
        self,
        sides: Iterable[Side] = _SIDES,
        *,
        starts: bool = True,
        ends: bool = True,
        events: bool = True,
    ) -> None:
        if isinstance(sides, str):
            raise TypeError(f"Interest sides must be a collection of sides, e.g. ({sides!r},)")
        chosen = frozenset(sides)
        unknown = sorted(str(side) for side in chosen - _SIDES)
        if unknown:
            raise ValueError(f"Interest sides must be 'client' and/or 'server', not {unknown}")
        for name, value in (("starts", starts), ("ends", ends), ("events", events)):
            if not isinstance(value, bool):
                raise TypeError(f"Interest {name} must be True or False, got {value!r}")
        object.__setattr__(self, "sides", chosen)
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "ends", ends)
        object.__setattr__(self, "events", events)

    def hears(self, side: Side | None, what: Literal["starts", "ends", "events"]) -> bool:
        """Whether an observer with this interest gets ``what`` (``"starts"``, ``"ends"``:
        of a call on ``side``; ``"events"``: decision events, whatever ``side``)."""
        if what == "events":
            return self.events
        wanted = self.starts if what == "starts" else self.ends
        return wanted and side in self.sides


EVERYTHING = Interest()
"""The interest of an observer that declares none: both sides, starts, ends and events."""

NOTHING = Interest((), starts=False, ends=False, events=False)
"""No side, no start, no end, no event: the interest of an observer with nothing to do yet
(the default metrics observer before an SDK meter provider is installed, the crash reporter
before sentry-sdk is initialised). Nothing calls it until its interest changes."""


def interest_of(observer: object) -> Interest:
    """The :class:`Interest` ``observer`` declares in its ``interest`` attribute, or
    :data:`EVERYTHING` when it has none; anything else there is a TypeError naming it."""
    declared = getattr(observer, "interest", None)
    if declared is None:
        return EVERYTHING
    if not isinstance(declared, Interest):
        raise TypeError(
            f"{observer!r}.interest must be a resilience.events.Interest (or absent, to hear "
            f"everything), got {declared!r}"
        )
    return declared


def hearing(
    observers: Iterable[Observer],
    side: Side | None,
    what: Literal["starts", "ends", "events"],
) -> tuple[Observer, ...]:
    """The observers, in order, whose interest includes ``what`` on ``side`` (see
    :meth:`Interest.hears`): what a caller built once keeps, to call only those."""
    return tuple(o for o in observers if interest_of(o).hears(side, what))


def interest_changed(observer: Observer) -> None:
    """Make everything that sorted its observers by interest (interceptors, protected channels
    and servers, pipelines, failover channels) read ``observer``'s interest again: call it
    after changing the ``interest`` an observer declares. Calls that start afterwards follow
    the new interest; a call already started tells its end to the observers it told of its
    start. Thread-safe; it costs the calls nothing."""
    interest_of(observer)  # a malformed interest is refused here, not in every holder
    _interest_watch.changed(observer)


ServerHook = Callable[[str, dict[str, Any], Any, Any], Any]
"""A server plug-in (fault injection, traffic recording): ``hook(method, metadata, request,
context)`` runs before admission, inside the call's contexts (``current_color()`` works), with
the invocation metadata as a dict and the request (an iterator for request streams). It may
return a replacement request (for example a recording wrapper around a request stream) or None.
On an aio server it may be a coroutine function. To end the call (an injected fault), it calls
``context.abort``; any other exception is logged and the call proceeds."""


class GaugeSource(Protocol):
    """Something whose state is exported as gauges when an observer polls it."""

    def gauge_readings(self) -> Iterable[GaugeReading]:
        """The current readings; called from the exporter's thread, must be thread-safe."""


class GaugeRegistry:
    """The set of gauge sources an exporter polls. Thread-safe.

    Sources are held weakly when they can be (an interceptor that is garbage collected leaves
    the registry by itself) and strongly otherwise (then call :meth:`unregister`). A source
    whose ``gauge_readings`` raises is skipped for that poll and logged at debug level.
    """

    __slots__ = ("_lock", "_strong", "_weak")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._weak: weakref.WeakSet[GaugeSource] = weakref.WeakSet()
        self._strong: list[GaugeSource] = []

    def register(self, source: GaugeSource) -> None:
        """Poll ``source`` from now on (registering it twice has no further effect)."""
        with self._lock:
            try:
                self._weak.add(source)
            except TypeError:  # not weak-referenceable, e.g. a slotted object without __weakref__
                if not any(existing is source for existing in self._strong):
                    self._strong.append(source)

    def unregister(self, source: GaugeSource) -> None:
        """Stop polling ``source``; unknown sources are ignored."""
        with self._lock:
            with contextlib.suppress(TypeError):  # not weak-referenceable: never in the set
                self._weak.discard(source)
            self._strong = [existing for existing in self._strong if existing is not source]

    def sources(self) -> list[GaugeSource]:
        """A snapshot of the registered sources."""
        with self._lock:
            return [*self._weak, *self._strong]

    def readings(self) -> list[GaugeReading]:
        """Poll every source once; a failing source contributes nothing."""
        collected: list[GaugeReading] = []
        for source in self.sources():
            try:
                collected.extend(source.gauge_readings())
            except Exception:
                _log.debug("gauge source %r failed; skipped for this poll", source, exc_info=True)
        return collected


_default_registry = GaugeRegistry()


def default_gauge_registry() -> GaugeRegistry:
    """The process-wide registry that the default metrics observer polls."""
    return _default_registry


def register_gauge_source(source: GaugeSource) -> None:
    """Register ``source`` in the process-wide registry (see :class:`GaugeRegistry`)."""
    _default_registry.register(source)


def unregister_gauge_source(source: GaugeSource) -> None:
    """Remove ``source`` from the process-wide registry."""
    _default_registry.unregister(source)
