"""Pipeline: ordered stages around any call, sync or asyncio."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from types import CoroutineType
from typing import Any, ParamSpec, TypeVar, overload

from resilience._base.clock import Clock, default_clock
from resilience._base.interest_watch import watch as watch_interest
from resilience.context import _CALL, current_call_context
from resilience.events import CallInfo, CallOutcome, Observer, hearing
from resilience.pipeline import _report
from resilience.pipeline._core import (
    AsyncSleep,
    Attempt,
    Compiled,
    Env,
    Judge,
    Sleep,
    Stage,
    Wrapper,
)
from resilience.pipeline._decorate import awaitable_of, decorate, not_run
from resilience.pipeline._engine import (
    compile_layers,
    run_async,
    run_sync,
)
from resilience.pipeline._fused import Run, fuse
from resilience.pipeline._guard import Guard

_current_context = _CALL.get
P = ParamSpec("P")
T = TypeVar("T")


class Pipeline:
    """Stages around a call, outermost first: ``Pipeline([Fallback(...), Retry(...),
    Breaker(...), RateLimit(...), Timeout(...)], name="catalog")``.

    Use: ``pipe.call(fn, *args, **kwargs)``, ``await pipe.acall(async_fn, ...)``, ``@pipe``
    on a sync or async function, or ``with pipe.guard():`` / ``async with pipe.guard():``
    around a block (admission stages only: a block cannot be retried).

    A refused call raises :class:`Rejected` (the function was not called); a call past a
    :class:`Timeout` raises :class:`CallTimeout`. Every permit a stage gave is ended exactly
    once with the outcome, ``NOT_RUN`` when a later stage refused the call.

    ``name``: reported as the ``method`` of the :class:`~resilience.events.CallInfo` the
    observers get (side ``client``). ``failure_on``: exception types that count as the
    callee's failure (default every ``Exception``; others count as successes and still reach
    the caller). ``failure_if``: a predicate on a result that counts it as a failure (for
    example ``lambda r: r.status_code >= 500``). ``tier``: the calls' tier (1..4) when
    :func:`resilience.context.tier` sets none (default 2, the policy's default).
    ``idempotent``: whether the call may run more than once; :class:`Retry` and
    :class:`Hedge` refuse to be built into a pipeline that is not. ``observers``: default
    :func:`resilience.observability.default_observers`. ``clock``, ``sleep``, ``asleep``:
    seconds, injected so that tests drive time (defaults: ``time.monotonic``, ``time.sleep``,
    ``asyncio.sleep``).
    """

    __slots__ = (
        "__weakref__",
        "_attempts",
        "_budgets",
        "_env",
        "_infos",
        "_layers",
        "_observers",
        "_plain",
        "_runs",
        "idempotent",
        "name",
        "stages",
        "tier",
    )

    def __init__(
        self,
        stages: Sequence[Stage | Wrapper],
        *,
        name: str = "pipeline",
        failure_on: tuple[type[BaseException], ...] = (Exception,),
        failure_if: Callable[[Any], bool] | None = None,
        tier: int = 2,
        idempotent: bool = False,
        observers: Sequence[Observer] | None = None,
        clock: Clock = default_clock,
        sleep: Sleep = time.sleep,
        asleep: AsyncSleep = asyncio.sleep,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        if isinstance(tier, bool) or tier not in (1, 2, 3, 4):
            raise ValueError(f"tier must be 1, 2, 3 or 4, got {tier!r}")
        self.stages = tuple(stages)
        self._layers = compile_layers(self.stages)
        for stage in self.stages:
            needs = getattr(stage, "needs_idempotent", False)
            if needs and not idempotent:
                raise ValueError(
                    f"{type(stage).__name__} runs the call more than once: build the pipeline "
                    f"{name!r} with idempotent=True if the call is safe to repeat, else remove it"
                )
        if observers is None:
            from resilience.observability import default_observers

            observers = default_observers()
        self._observers: tuple[Observer, ...] = tuple(observers)
        self.name = name
        self.tier = tier
        self.idempotent = idempotent
        budgets = {id(b): b for b in (getattr(s, "budget", None) for s in self.stages) if b}
        self._budgets: tuple[Any, ...] = tuple(budgets.values())
        self._plain = all(isinstance(layer, tuple) for layer in self._layers)
        self._attempts = {t: Attempt(name, t) for t in (1, 2, 3, 4)}
        self._infos = {t: CallInfo("client", name, None, t) for t in (1, 2, 3, 4)}
        judge = Judge(failure_on, failure_if)
        self._env = Env(name, judge, clock, sleep, asleep, ())
        watch_interest(self)  # before the first sort: a change meanwhile is not missed
        self._sort_observers()
        self._runs = self._compile()
        """Per tier, what runs a sync call: ``run(attempt, fn, args, kwargs, env)``."""

    def reread_interest(self, observer: object) -> None:
        """Sort the observers by interest again when ``observer`` is one of them (its interest
        changed, :func:`resilience.events.interest_changed`): calls that start afterwards run
        with the new :class:`Env`; one already running ends with the Env it started with."""
        if any(held is observer for held in self._observers):
            self._sort_observers()

    def _sort_observers(self) -> None:
        events, starters, enders = _sorted(self._observers)
        self._env = dataclasses.replace(
            self._env, observers=events, starters=starters, enders=enders
        )

    def _compile(self) -> dict[int, Run]:
        """The sync run functions per tier. The innermost admission group is compiled when its
        stages are all the library's (resilience.pipeline._fused): a pipeline of that group
        alone runs the compiled function directly, one with wrapping stages reaches it
        through the general engine."""
        layers = self._layers
        last = layers[-1] if layers else None
        fused = fuse(last, self._env) if isinstance(last, tuple) else None
        if fused is not None and len(layers) == 1:
            return fused
        sync_layers = layers if fused is None else (*layers[:-1], Compiled(fused))
        return dict.fromkeys((1, 2, 3, 4), functools.partial(run_sync, sync_layers, 0))

    def _begin(self) -> tuple[Env, Attempt, CallInfo | None, float]:
        """The call's Env (the observers that hear of it), its attempt (its tier from the
        context, else the pipeline's), its CallInfo when observers listen (they hear of the
        start now), and the clock at the start."""
        env = self._env
        context = current_call_context()
        tier = context.tier
        attempt = self._attempts[self.tier if tier is None else tier]
        info = None
        if env.starters or env.enders:
            color = context.color
            info = (
                self._infos[attempt.tier]
                if color is None
                else CallInfo("client", self.name, color, attempt.tier)
            )
            _report.started(env.starters, info)
        for budget in self._budgets:
            budget.record_call()
        return env, attempt, info, env.clock()

    @staticmethod
    def _raised(env: Env, info: CallInfo | None, exc: BaseException, started: float) -> None:
        if info is not None:
            code, reason = _report.code_of(exc, env.judge)
            _report.ended(env.enders, info, CallOutcome(code, env.clock() - started, reason))

    @staticmethod
    def _returned(env: Env, info: CallInfo | None, result: object, started: float) -> None:
        if info is not None:
            code = (
                _report.OK
                if env.judge.result_fails is None
                else _report.result_code(result, env.judge)
            )
            _report.ended(env.enders, info, CallOutcome(code, env.clock() - started))

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` through the stages and return its result (or a
        fallback's); raise what it raised, :class:`Rejected` or :class:`CallTimeout`."""
        env = self._env
        context = _current_context()  # current_call_context() without its frame
        tier = context.tier
        attempt = self._attempts[self.tier if tier is None else tier]
        info = None
        if env.starters or env.enders:  # inline _begin(): the sync path is measured vs peers
            color = context.color
            info = (
                self._infos[attempt.tier]
                if color is None
                else CallInfo("client", self.name, color, attempt.tier)
            )
            _report.started(env.starters, info)
        for budget in self._budgets:
            budget.record_call()
        started = 0.0 if info is None else env.clock()  # only the observers need it
        try:
            result: T = self._runs[attempt.tier](attempt, fn, args, kwargs, env)
        except BaseException as exc:
            self._raised(env, info, exc, started)
            raise
        if info is not None:
            self._returned(env, info, result, started)
        if result.__class__ is CoroutineType:  # fn is async: what ran was only its call
            raise not_run(fn, result)  # type: ignore[arg-type]
        return result

    async def acall(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn(*args, **kwargs)`` through the stages (see :meth:`call`); a timeout
        cancels it."""
        env, attempt, info, started = self._begin()
        try:
            result: T = await run_async(
                self._layers, 0, attempt, lambda: awaitable_of(fn, args, kwargs), env
            )
        except BaseException as exc:
            self._raised(env, info, exc, started)
            raise
        self._returned(env, info, result, started)
        return result

    @overload
    def __call__(
        self, fn: Callable[P, Coroutine[Any, Any, T]]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...

    @overload
    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]: ...

    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Decorate ``fn`` (a sync or async function, method, ``staticmethod``,
        ``classmethod`` or callable object) so that every call runs through the pipeline.

        A generator or async generator function raises TypeError: calling one only creates
        the generator, so the pipeline would time and judge that, not the iteration."""
        decorated: Callable[P, Any] = decorate(self, fn)
        return decorated

    def guard(self) -> Guard:
        """A context manager (``with`` or ``async with``) that admits the block at every
        stage and ends the permits with how the block ended. Only admission stages apply: a
        pipeline with a retry, hedge or fallback stage raises TypeError (a block cannot be
        run again nor replaced). A timeout cannot interrupt a block: a block that outlives it
        is recorded as a timeout and raises :class:`CallTimeout` when it ends; use
        :meth:`acall` for cancellation."""
        if not self._plain:
            raise TypeError(
                f"pipeline {self.name!r} has a retry, hedge or fallback stage, which cannot "
                "apply to a with-block: use pipe.call(fn) / pipe.acall(fn) or @pipe instead"
            )
        return Guard(self)

    def __repr__(self) -> str:
        names = ", ".join(getattr(stage, "name", type(stage).__name__) for stage in self.stages)
        return f"Pipeline(name={self.name!r}, stages=[{names}])"


def _sorted(
    observers: tuple[Observer, ...],
) -> tuple[tuple[Observer, ...], tuple[Observer, ...], tuple[Observer, ...]]:
    """Those of ``observers`` that hear decision events, client call starts and client call
    ends, by their declared interest (:class:`resilience.events.Interest`)."""
    return (
        hearing(observers, None, "events"),
        hearing(observers, "client", "starts"),
        hearing(observers, "client", "ends"),
    )
