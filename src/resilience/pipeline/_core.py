"""The contracts every stage of a pipeline speaks: outcomes, permits, rejections, stages.

An *admission* stage (limit, overload guard, breaker, bulkhead, timeout) answers
:meth:`Stage.admit` with a :class:`Permit` or a :class:`Rejection`. The pipeline ends each
permit it got exactly once with the :class:`Outcome` of what ran behind it, including
``NOT_RUN`` when a later stage refused the call. A *wrapping* stage (retry, hedging, fallback)
implements :class:`Wrapper`: it runs the rest of the pipeline once or several times.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple, Protocol, TypeVar, cast, runtime_checkable

from resilience._base.clock import Clock
from resilience.errors import ResilienceError
from resilience.events import Observer
from resilience.pipeline._decorate import NotAwaitable

T = TypeVar("T")
_log = logging.getLogger("resilience.pipeline")


class Kind(str, Enum):
    """How an attempt ended, as the stages see it."""

    SUCCESS = "success"
    """It returned (or raised an exception the pipeline does not count as a failure)."""
    FAILURE = "failure"
    """It raised a failure exception or returned a result the failure predicate refused."""
    TIMEOUT = "timeout"
    """It outlived the pipeline's timeout (cancelled on asyncio; see :class:`Timeout`)."""
    CANCELLED = "cancelled"
    """It was cancelled (a lost hedge, an asyncio cancellation, KeyboardInterrupt...)."""
    NOT_RUN = "not_run"
    """It never ran: a stage after this one refused it."""

    def __str__(self) -> str:
        return self.value


class Outcome(NamedTuple):
    """The end of one attempt: its :class:`Kind`, its duration in seconds (0 when not run) and
    the exception it raised, if any. (A named tuple: built once per call, on the hot path.)"""

    kind: Kind
    duration: float = 0.0
    exception: BaseException | None = None

    @property
    def failed(self) -> bool:
        """Whether the callee failed (FAILURE or TIMEOUT): what a breaker counts as a failure."""
        return self.kind is Kind.FAILURE or self.kind is Kind.TIMEOUT


NOT_RUN = Outcome(Kind.NOT_RUN)

new_outcome = cast(
    Callable[[tuple[Kind, float, "BaseException | None"]], Outcome],
    functools.partial(tuple.__new__, Outcome),
)
"""``new_outcome((kind, duration, exception))`` is ``Outcome(kind, duration, exception)``
without the named tuple's Python-level ``__new__``: for the per-call hot path."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """A stage's refusal: ``reason`` is a :class:`resilience.errors.RejectReason` value,
    ``retry_after`` the seconds after which a new call could pass (None when unknown), and
    ``stage`` the refusing stage's name."""

    reason: str
    retry_after: float | None = None
    stage: str = ""


class Rejected(ResilienceError):
    """Raised by a pipeline when a stage refused the call; the callee was not called.

    ``rejection`` says which stage refused and why (``reason``, ``retry_after``)."""

    def __init__(self, rejection: Rejection, pipeline: str = "") -> None:
        self.rejection = rejection
        self.reason = rejection.reason
        self.retry_after = rejection.retry_after
        after = (
            "" if rejection.retry_after is None else f", retry after {rejection.retry_after:g} s"
        )
        where = f"pipeline {pipeline!r}: " if pipeline else ""
        super().__init__(
            f"{where}{rejection.stage or 'a stage'} refused the call ({rejection.reason}{after})"
        )


class CallTimeout(ResilienceError, TimeoutError):
    """The call outlived the pipeline's timeout (``timeout`` seconds). On asyncio the call
    was cancelled; a sync call ran to its end and its late result was dropped."""

    def __init__(self, timeout: float, pipeline: str = "") -> None:
        self.timeout = timeout
        where = f"pipeline {pipeline!r}: " if pipeline else ""
        super().__init__(f"{where}the call took longer than its timeout of {timeout:g} s")


class Permit:
    """An admitted call's claim on a stage, to end exactly once with the call's outcome.

    Subclasses implement :meth:`_end`. :meth:`end` calls it once; a second end is a no-op logged
    at debug level. ``timeout``: seconds the call may take, when this stage sets a bound (the
    pipeline applies the smallest of its permits').
    """

    __slots__ = ("ended", "timeout")

    def __init__(self, timeout: float | None = None) -> None:
        self.ended = False
        self.timeout = timeout

    def end(self, outcome: Outcome) -> None:
        """End the permit with ``outcome``; only the first end counts."""
        if self.ended:
            _log.debug("%r ended twice; the second end (%s) is ignored", self, outcome.kind)
            return
        self.ended = True
        self._end(outcome)

    def _end(self, outcome: Outcome) -> None:
        """What the stage does with the outcome (nothing by default)."""


class _Free(Permit):
    """The permit of a stage that keeps nothing per call: ending it, once or more, does
    nothing, so one instance serves every call."""

    __slots__ = ()

    def end(self, outcome: Outcome) -> None:
        return None


FREE: Permit = _Free()
"""The shared permit of stages that keep nothing per call (a rate limit's admission)."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """What a stage knows about the call it admits: the pipeline's ``name``, the call's
    ``tier`` (1..4, from :func:`resilience.context.tier` or the pipeline's default) and
    ``number`` (1 for the first attempt, 2 for the first retry or hedge...)."""

    name: str
    tier: int
    number: int = 1


@runtime_checkable
class Stage(Protocol):
    """An admission stage: admit a call (a :class:`Permit`) or refuse it (a :class:`Rejection`).

    ``admit`` must not block for long and never raises for a refusal; ``aadmit`` is its
    asyncio form (the same answer, awaiting where the stage waits: a bulkhead's queue, an
    exact-mode shared limiter). ``name`` labels the stage in rejections and logs."""

    name: str

    def admit(self, attempt: Attempt) -> Permit | Rejection: ...

    async def aadmit(self, attempt: Attempt) -> Permit | Rejection: ...


class SyncStage:
    """Base of the stages that never wait: ``aadmit`` is ``admit``."""

    name = "stage"

    def admit(self, attempt: Attempt) -> Permit | Rejection:
        raise NotImplementedError

    async def aadmit(self, attempt: Attempt) -> Permit | Rejection:
        return self.admit(attempt)


class Compiled:
    """The innermost admission group of a sync pipeline, compiled (resilience.pipeline._fused):
    ``runs[tier](attempt, fn, args, kwargs, env)`` admits, calls and ends as the general
    engine's ``run_sync`` does for that group."""

    __slots__ = ("runs",)

    def __init__(self, runs: dict[int, Callable[..., Any]]) -> None:
        self.runs = runs


Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Env:
    """What the wrapping stages share with the pipeline: its ``name``, failure ``judge``,
    ``clock`` (seconds), ``sleep`` and ``asleep`` (seconds; injected so tests drive time),
    ``observers`` (those that hear decision events), ``starters`` and ``enders`` (those that
    hear of client calls' starts and ends), each chosen once by the observers' declared
    interest (:class:`resilience.events.Interest`)."""

    name: str
    judge: Judge
    clock: Clock
    sleep: Sleep
    asleep: AsyncSleep
    observers: tuple[Observer, ...]
    starters: tuple[Observer, ...] = ()
    enders: tuple[Observer, ...] = ()

    def event(self, name: str, **attributes: str) -> None:
        """Tell the observers of a decision (``pipeline.retry``, ``pipeline.hedge``...)."""
        attributes["pipeline"] = self.name
        for observer in self.observers:
            try:
                observer.event(name, attributes)
            except Exception:
                _log.debug("observer %r failed on event %s", observer, name, exc_info=True)


Inner = Callable[[Attempt], T]
AsyncInner = Callable[[Attempt], Awaitable[T]]


@runtime_checkable
class Wrapper(Protocol):
    """A wrapping stage: runs ``inner`` (the rest of the pipeline and the call) once or more.

    ``run`` is used by sync calls and ``arun`` by asyncio ones; ``env.judge`` tells whether
    a result or an exception is a failure by the pipeline's rule, ``env.sleep``/``asleep``
    wait. A wrapper raises what the last
    attempt raised or returns a result; it never ends permits (the inner stages do)."""

    name: str

    def run(self, inner: Inner[Any], attempt: Attempt, env: Env) -> Any: ...

    async def arun(self, inner: AsyncInner[Any], attempt: Attempt, env: Env) -> Any: ...


class Judge:
    """What counts as a failure: an exception that is an instance of ``on`` (default every
    :class:`Exception`), or a result for which ``result_fails`` returns True. A local
    :class:`Rejected` is never a callee failure; an exception outside ``on`` counts as a
    success for the stages (the callee answered) and still reaches the caller."""

    __slots__ = ("on", "result_fails")

    def __init__(
        self,
        on: tuple[type[BaseException], ...] = (Exception,),
        result_fails: Callable[[Any], bool] | None = None,
    ) -> None:
        if not isinstance(on, tuple) or not all(
            isinstance(kind, type) and issubclass(kind, BaseException) for kind in on
        ):
            raise TypeError(f"failure_on must be a tuple of exception types, got {on!r}")
        if result_fails is not None and not callable(result_fails):
            raise TypeError(f"failure_if must be a callable or None, got {result_fails!r}")
        self.on = on
        self.result_fails = result_fails

    def exception_kind(self, exc: BaseException) -> Kind:
        """The kind of an attempt that raised ``exc``."""
        if isinstance(exc, CallTimeout):
            return Kind.TIMEOUT
        if isinstance(exc, Rejected):
            return Kind.NOT_RUN
        if not isinstance(exc, Exception):
            return Kind.CANCELLED  # CancelledError, KeyboardInterrupt, SystemExit
        if isinstance(exc, NotAwaitable):  # a sync function given to acall: it ran and answered
            return Kind.SUCCESS
        return Kind.FAILURE if isinstance(exc, self.on) else Kind.SUCCESS

    def result_kind(self, result: object) -> Kind:
        """The kind of an attempt that returned ``result``."""
        fails = self.result_fails
        if fails is None:
            return Kind.SUCCESS
        try:
            return Kind.FAILURE if fails(result) else Kind.SUCCESS
        except Exception:  # a predicate that cannot judge this result never fails the call
            _log.warning("failure_if raised on %r; counted as a success", result, exc_info=True)
            return Kind.SUCCESS
