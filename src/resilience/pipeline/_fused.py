"""Fused admission: a pipeline made only of the library's admission stages, run as one function.

A pipeline whose stages are all :class:`RateLimit` (with a sync limiter), :class:`Overload`,
:class:`Breaker` and :class:`Timeout`, and none a subclass, is compiled when it is built into
one run function per tier (:func:`compile_run`) that calls the algorithms' own methods in stage
order (each breaker's, limiter's and guard's admission, the EMA's ``timeout``) and what ends a
successful call (``record(True)``, ``observe(duration)``, ``release(duration)``). A call then
makes no stage call, no permit and no outcome on its way: 8 Python calls through breaker, rate
limit and EMA timeout where the general engine makes 16 (benchmarks/README.md). Behaviour is
the general engine's, stage for stage:

- admission in stage order; at a refusal or a stage's TypeError the stages admitted before it
  end ``NOT_RUN``; a stage whose admission raises anything else is logged and skipped (never
  ended);
- the smallest timeout, :func:`time_left`'s deadline, the judge, and :class:`CallTimeout` after
  a sync call that outlived it;
- the clock is read once before the admissions and once after the call: an algorithm on the
  pipeline's clock takes those readings instead of its own (the call's duration starts before
  its admission, a few hundred nanoseconds earlier than the general engine's);
- a call that did not succeed (an exception, a failing result, a timeout, a skipped stage)
  ends through the stages' permits (:meth:`Permit.end`, innermost first), built only then;
- a success ends each stage innermost first within its kind (those that need no duration,
  then those that do); the stages act on separate algorithms, so the order is not observable.

User stages, subclasses and asyncio calls take the general engine (:mod:`._engine`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from resilience._base.clock import Clock
from resilience.algorithms._decision import Decision
from resilience.pipeline._core import (
    NOT_RUN,
    Attempt,
    CallTimeout,
    Env,
    Kind,
    Outcome,
    Permit,
    Rejected,
    Stage,
    new_outcome,
)
from resilience.pipeline._engine import deadline_var, end_all
from resilience.pipeline._stages import (
    Breaker,
    Fast,
    Overload,
    RateLimit,
    Timeout,
    _rejection,
)

_log = logging.getLogger("resilience.pipeline")
_FUSABLE = (RateLimit, Overload, Breaker, Timeout)
_SUCCESS, _TIMEOUT, _NOT_RUN = Kind.SUCCESS, Kind.TIMEOUT, Kind.NOT_RUN
"""Module constants: reading an Enum member off its class costs about 50 ns on CPython 3.11."""


Run = Callable[[Attempt, Callable[..., Any], tuple[Any, ...], dict[str, Any], Env], Any]
"""``run(attempt, fn, args, kwargs, env)``: the general engine's ``run_sync`` for a pipeline
of one admission group, with its outcomes."""


def fast_forms(group: tuple[Stage, ...], tier: int, clock: Clock) -> list[Fast] | None:
    """The :class:`Fast` forms of ``group``'s stages for calls of ``tier`` on ``clock``, or
    None when a stage is not exactly one of the library's fusable stages (or decides on the
    event loop)."""
    if not all(type(stage) in _FUSABLE for stage in group):
        return None
    fasts = [stage._fast(tier, clock) for stage in group]  # type: ignore[attr-defined]
    if any(fast is None for fast in fasts):
        return None
    return fasts


def fuse(group: tuple[Stage, ...], env: Env) -> dict[int, Run] | None:
    """A compiled :data:`Run` per tier (1..4) for ``group`` (a pipeline's only layer) in the
    pipeline of ``env``, or None when a stage is not exactly one of the library's fusable
    stages (or decides on the event loop)."""
    runs = {}
    for tier in (1, 2, 3, 4):
        fasts = fast_forms(group, tier, env.clock)
        if fasts is None:
            return None
        runs[tier] = compile_run(group, fasts, env)
    return runs


class Plan:
    """What the :class:`Fast` forms of a group's stages do per call, sorted once: the
    ``deciders`` (in stage order; ``positions`` their stage positions), the ``fixed`` bound
    (the smallest fixed timeout, or None) and the ``readers`` of the others (EMA timeouts),
    the ``oks`` and ``timed`` ends of a success (innermost first) and the ``permits`` makers
    (stage position, factory) for any other end. Shared by :func:`compile_run` and
    :mod:`._admission`."""

    __slots__ = (
        "deciders",
        "everything",
        "fixed",
        "oks",
        "permits",
        "positions",
        "readers",
        "timed",
    )

    def __init__(self, fasts: Sequence[Fast]) -> None:
        bounds = [f.timeout for f in fasts if isinstance(f.timeout, (int, float))]
        self.fixed: float | None = min(bounds) if bounds else None
        self.deciders = tuple(f.decide for f in fasts if f.decide is not None)
        self.positions = tuple(i for i, f in enumerate(fasts) if f.decide is not None)
        self.readers = tuple(f.timeout for f in fasts if callable(f.timeout))
        self.oks = tuple(f.ok for f in reversed(fasts) if f.ok is not None)
        self.timed = tuple(f.ok_timed for f in reversed(fasts) if f.ok_timed is not None)
        self.permits = tuple((i, f.permit) for i, f in enumerate(fasts) if f.permit is not None)
        self.everything = len(fasts)

    def position(self, decide: Callable[[float], Decision]) -> int:
        """The stage position of ``decide`` (each stage's callables are distinct objects)."""
        return next(i for i, d in zip(self.positions, self.deciders, strict=True) if d is decide)

    def held(self, before: int, skipped: tuple[int, ...]) -> list[Permit]:
        """Fresh permits of the stages admitted before position ``before``, in stage order,
        less the ``skipped`` ones: what the general engine would hold there."""
        return [make() for i, make in self.permits if i < before and i not in skipped]


def compile_run(stages: tuple[Stage, ...], fasts: Sequence[Fast], env: Env) -> Run:
    """The run function of ``stages`` (whose :class:`Fast` forms are ``fasts``) in the
    pipeline of ``env``: what each call does is bound once here, as the closure's variables
    (the ``env`` argument of a call is that ``env``, or one with its clock, judge and name
    and the observers sorted again: ``Pipeline.reread_interest``)."""
    plan = Plan(fasts)
    fixed, deciders, readers = plan.fixed, plan.deciders, plan.readers
    oks, timed, everything = plan.oks, plan.timed, plan.everything
    position, held = plan.position, plan.held
    clock, judge, name = env.clock, env.judge, env.name
    judged = judge.result_fails is not None

    def run(
        attempt: Attempt,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        env: Env,
    ) -> Any:
        started = clock()  # one reading for the admissions and the call's start
        skipped: tuple[int, ...] = ()
        for decide in deciders:
            try:
                decision = decide(started)
            except TypeError:  # a misuse: say so, as the general engine does
                end_all(held(position(decide), skipped), NOT_RUN)
                raise
            except Exception:
                index = position(decide)
                _log.warning("stage %r raised on admission; skipped", stages[index], exc_info=True)
                skipped += (index,)
                continue
            if not decision.allowed:
                index = position(decide)
                end_all(held(index, skipped), NOT_RUN)
                raise Rejected(_rejection(decision, stages[index].name), name)
        timeout = fixed
        for read in readers:
            bound = read()
            if timeout is None or bound < timeout:
                timeout = bound
        token = None
        if timeout is not None:  # bind_deadline() inlined
            current = deadline_var.get()
            if current is None or current[1] is not clock or current[0] >= started + timeout:
                token = deadline_var.set((started + timeout, clock))
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            duration = clock() - started
            kind = judge.exception_kind(exc)
            if timeout is not None and duration > timeout and kind is not _NOT_RUN:
                kind = _TIMEOUT
            end_all(held(everything, skipped), Outcome(kind, duration, exc))
            raise
        finally:
            if token is not None:
                deadline_var.reset(token)
        ended = clock()
        duration = ended - started
        if timeout is not None and duration > timeout:
            error = CallTimeout(timeout, name)
            end_all(held(everything, skipped), Outcome(_TIMEOUT, duration, error))
            raise error
        kind = judge.result_kind(result) if judged else _SUCCESS
        if kind is not _SUCCESS or skipped:
            end_all(held(everything, skipped), new_outcome((kind, duration, None)))
            return result
        for ok in oks:
            try:
                ok(ended)
            except Exception:
                _log.warning("ending %r raised; ignored", ok, exc_info=True)
        for ok_timed in timed:
            try:
                ok_timed(duration)
            except Exception:
                _log.warning("ending %r raised; ignored", ok_timed, exc_info=True)
        return result

    return run
