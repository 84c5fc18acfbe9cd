"""Admission for calls whose end comes later than their start: a gRPC call, a stream.

:class:`Admission` holds a tuple of admission stages (outermost first) and the clock their
algorithms read. :meth:`Admission.admit` admits a call of a tier (1..4) at a reading ``now`` of
that clock, or returns the first :class:`Rejection`; the caller runs the call itself and, once
it is over, ends the :class:`Admitted` it got exactly once:

- :meth:`Admitted.end_ok` for a success (``now``: a reading of the clock after the call;
  ``duration``: its seconds);
- :meth:`Admitted.end` with any other :class:`Outcome` (a failure, a timeout, a cancellation);
- :meth:`Admitted.timeout` is the bound the stages set (the smallest fixed or EMA timeout, read
  now), None when none does.

Behaviour is the general engine's (:mod:`._engine`), stage for stage: admission in stage order;
at a refusal the stages admitted before it end ``NOT_RUN``; a stage whose admission raises is
logged and skipped (never ended), a TypeError (a misuse: an asyncio-only limiter admitted
synchronously) ends the earlier permits ``NOT_RUN`` and is raised.

When every stage is exactly one of the library's fusable stages (:mod:`._fused`: RateLimit with
a sync limiter, Overload, Breaker, Timeout), each tier has a plan compiled once from the stages'
:class:`Fast` forms, and the :class:`Admitted` of an admitted call is that tier's object, built
once: an admission allocates nothing. Its :meth:`~Admitted.end` makes the stages' permits then
(only a call that did not succeed pays for them). A stage that raised makes the call hold the
permits of the others (allocated only then). Other stages take the general path: each stage's
``admit`` (``aadmit`` in :meth:`Admission.aadmit`), permits, :func:`._engine.end_all`.

The :class:`Admitted` of the fast path is shared by the calls of its tier and keeps no state:
the caller ends each call once (the stages' permits enforce it on the general path only).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from resilience._base.clock import Clock
from resilience.pipeline._core import (
    NOT_RUN,
    Attempt,
    Env,
    Judge,
    Kind,
    Outcome,
    Permit,
    Rejected,
    Rejection,
    Stage,
    new_outcome,
)
from resilience.pipeline._engine import aadmit_all, admit_all, end_all, timeout_of
from resilience.pipeline._fused import Plan, fast_forms
from resilience.pipeline._stages import _rejection

_log = logging.getLogger("resilience.pipeline")
_SUCCESS = Kind.SUCCESS


@dataclass(frozen=True, slots=True)
class KeyedAttempt(Attempt):
    """An :class:`Attempt` with the ``key`` a per-key stage decides on (a per-caller rate
    limit's caller), for stages that know to read it."""

    key: str | None = None


class Admitted:
    """An admitted call's hold on the stages: end it exactly once, with :meth:`end_ok` or
    :meth:`end`."""

    __slots__ = ()

    def timeout(self) -> float | None:
        """Seconds the call may take by the stages' bounds (read now), or None."""
        raise NotImplementedError

    def end_ok(self, now: float, duration: float) -> None:
        """End a call that succeeded, ``duration`` seconds long, at ``now`` (the clock's
        reading after it)."""
        raise NotImplementedError

    def end(self, outcome: Outcome) -> None:
        """End the call with ``outcome`` (any kind; a success as :meth:`end_ok` does)."""
        raise NotImplementedError


class _Planned(Admitted):
    """The admitted call of one tier's compiled plan (one object for all its calls)."""

    __slots__ = ("_clock", "_fixed", "_makes", "_oks", "_readers", "_timed")

    def __init__(self, plan: Plan, clock: Clock) -> None:
        self._clock = clock
        self._fixed = plan.fixed
        self._readers = plan.readers
        self._oks = plan.oks
        self._timed = plan.timed
        self._makes = tuple(make for _, make in plan.permits)

    def timeout(self) -> float | None:
        timeout = self._fixed
        for read in self._readers:
            bound = read()
            if timeout is None or bound < timeout:
                timeout = bound
        return timeout

    def end_ok(self, now: float, duration: float) -> None:
        for ok in self._oks:
            try:
                ok(now)
            except Exception:
                _log.warning("ending %r raised; ignored", ok, exc_info=True)
        for ok_timed in self._timed:
            try:
                ok_timed(duration)
            except Exception:
                _log.warning("ending %r raised; ignored", ok_timed, exc_info=True)

    def end(self, outcome: Outcome) -> None:
        if outcome.kind is _SUCCESS:
            self.end_ok(self._clock(), outcome.duration)
            return
        end_all([make() for make in self._makes], outcome)


class _Held(Admitted):
    """An admitted call holding its stages' permits (the general path, or a stage skipped)."""

    __slots__ = ("_bound", "_permits", "_planned")

    def __init__(
        self, permits: list[Permit], planned: _Planned | None, bound: float | None
    ) -> None:
        self._permits = permits
        self._planned = planned
        self._bound = bound

    def timeout(self) -> float | None:
        planned = self._planned
        return self._bound if planned is None else planned.timeout()

    def end_ok(self, now: float, duration: float) -> None:
        end_all(self._permits, new_outcome((_SUCCESS, duration, None)))

    def end(self, outcome: Outcome) -> None:
        end_all(self._permits, outcome)


class Admission:
    """Admission of calls of a tier by ``stages`` (outermost first; see the module doc) whose
    algorithms read ``clock`` (seconds); ``name`` labels the stages' attempts and logs."""

    __slots__ = ("_env", "_planned", "_plans", "clock", "name", "stages")

    def __init__(self, stages: Sequence[Stage], clock: Clock, *, name: str = "") -> None:
        self.stages = tuple(stages)
        self.clock = clock
        self.name = name
        self._env = Env(name, Judge(), clock, time.sleep, asyncio.sleep, ())
        self._plans: dict[int, Plan] = {}
        self._planned: dict[int, _Planned] = {}
        for tier in (1, 2, 3, 4):
            fasts = fast_forms(self.stages, tier, clock)
            if fasts is None:
                self._plans.clear()
                self._planned.clear()
                break
            plan = self._plans[tier] = Plan(fasts)
            self._planned[tier] = _Planned(plan, clock)

    @property
    def compiled(self) -> bool:
        """Whether calls take the compiled plans (every stage a fusable library stage)."""
        return bool(self._plans)

    def admit(self, tier: int, now: float, key: str | None = None) -> Admitted | Rejection:
        """Admit a call of ``tier`` at ``now`` (a reading of the clock), or the first
        stage's refusal; ``key``: what per-key stages decide on (general path only)."""
        plan = self._plans.get(tier)
        if plan is None:
            return self._admit_general(tier, key)
        skipped: tuple[int, ...] = ()
        for decide in plan.deciders:
            try:
                decision = decide(now)
            except TypeError:  # a misuse: say so, as the general engine does
                end_all(plan.held(plan.position(decide), skipped), NOT_RUN)
                raise
            except Exception:
                index = plan.position(decide)
                _log.warning(
                    "stage %r raised on admission; skipped", self.stages[index], exc_info=True
                )
                skipped += (index,)
                continue
            if not decision.allowed:
                index = plan.position(decide)
                end_all(plan.held(index, skipped), NOT_RUN)
                return _rejection(decision, self.stages[index].name)
        if skipped:
            return _Held(plan.held(plan.everything, skipped), self._planned[tier], None)
        return self._planned[tier]

    async def aadmit(self, tier: int, key: str | None = None) -> Admitted | Rejection:
        """:meth:`admit` awaiting each stage's ``aadmit`` (an exact-mode shared limiter's
        store round trip, on the event loop): always the general path."""
        try:
            permits = await aadmit_all(self.stages, self._attempt(tier, key), self._env)
        except Rejected as refused:
            return refused.rejection
        return _Held(permits, None, timeout_of(permits))

    def _admit_general(self, tier: int, key: str | None) -> Admitted | Rejection:
        try:
            permits = admit_all(self.stages, self._attempt(tier, key), self._env)
        except Rejected as refused:
            return refused.rejection
        return _Held(permits, None, timeout_of(permits))

    def _attempt(self, tier: int, key: str | None) -> Attempt:
        return Attempt(self.name, tier) if key is None else KeyedAttempt(self.name, tier, 1, key)

    def __repr__(self) -> str:
        return f"Admission({list(self.stages)!r}, compiled={self.compiled})"
