"""Admission for calls whose end comes later than their start: a gRPC call, a stream.

:class:`Admission` holds a tuple of admission stages (outermost first) and the clock their
algorithms read. :meth:`Admission.admit` admits a call of a tier (1..4) at a reading ``now`` of
that clock, or returns the first :class:`Rejection`; the caller runs the call itself and, once
it is over, ends the :class:`Admitted` it got exactly once:

- :meth:`Admitted.end_ok` for a success (``duration``: its seconds);
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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from resilience._base.clock import Clock
from resilience.algorithms._decision import Decision
from resilience.pipeline._admitted import Admitted, Call, Held, Planned, direct_call
from resilience.pipeline._core import (
    NOT_RUN,
    Attempt,
    Env,
    Judge,
    Rejected,
    Rejection,
    Stage,
)
from resilience.pipeline._engine import Fault, aadmit_all, admit_all, end_all, skip, timeout_of
from resilience.pipeline._fused import Plan, fast_forms
from resilience.pipeline._stages import _rejection

__all__ = ["Admission", "Admitted", "KeyedAttempt"]

Compiled = tuple[tuple[Call, ...], Planned, Plan]
"""One tier's compiled admission: the deciders' direct calls, its :class:`Planned`, its plan."""


@dataclass(frozen=True, slots=True)
class KeyedAttempt(Attempt):
    """An :class:`Attempt` with the ``key`` a per-key stage decides on (a per-caller rate
    limit's caller), for stages that know to read it."""

    key: str | None = None


AdmitAt = Callable[[float, "str | None"], "Admitted | Rejection"]
"""``admit(now, key)``: one tier's admission (see :attr:`Admission.by_tier`)."""


class Admission:
    """Admission of calls of a tier by ``stages`` (outermost first; see the module doc) whose
    algorithms read ``clock`` (seconds); ``name`` labels the stages' attempts and logs.
    ``fault(where, exc)``, when given, is told of a stage that raised (``where``: ``"<stage
    name> admission"`` or ``"end"``) instead of the warning logged on ``resilience.pipeline``
    (the interceptors count and log their faults once per kind).

    ``by_tier[tier](now, key)`` is :meth:`admit` for ``tier`` (1..4) in one call: compiled, a
    closure over that tier's plan that calls one or two algorithms' methods without a loop
    (the interceptors' per-call path; a method of ours in between costs several hundred
    machine instructions per call on CPython 3.11)."""

    __slots__ = ("_env", "_fault", "_tiers", "by_tier", "clock", "name", "stages")

    def __init__(
        self,
        stages: Sequence[Stage],
        clock: Clock,
        *,
        name: str = "",
        fault: Fault | None = None,
    ) -> None:
        self.stages = tuple(stages)
        self.clock = clock
        self.name = name
        self._fault = fault
        self._env = Env(name, Judge(), clock, time.sleep, asyncio.sleep, ())
        self._tiers: dict[int, Compiled] = {}
        for tier in (1, 2, 3, 4):
            fasts = fast_forms(self.stages, tier, clock)
            if fasts is None:
                self._tiers.clear()
                break
            plan = Plan(fasts)
            pairs = zip(plan.deciders, plan.positions, strict=True)
            calls = tuple(direct_call(decide, index) for decide, index in pairs)
            self._tiers[tier] = (calls, Planned(plan, clock, fault), plan)
        self.by_tier: tuple[AdmitAt, ...] = tuple(self._compile(tier) for tier in range(5))

    @property
    def compiled(self) -> bool:
        """Whether calls take the compiled plans (every stage a fusable library stage)."""
        return bool(self._tiers)

    def admit(self, tier: int, now: float, key: str | None = None) -> Admitted | Rejection:
        """Admit a call of ``tier`` at ``now`` (a reading of the clock), or the first
        stage's refusal; ``key``: what per-key stages decide on (general path only)."""
        if tier in self._tiers:
            return self.by_tier[tier](now, key)
        return self._admit_general(tier, key)

    def _compile(self, tier: int) -> AdmitAt:
        """The ``admit(now, key)`` of ``tier``: the general path, or a closure over its plan."""
        compiled = self._tiers.get(tier)
        if compiled is None:
            return lambda now, key: self._admit_general(tier, key)
        calls, planned, _ = compiled
        refuse, failed = self._refuse, self._failed
        if len(calls) == 1:  # a client: its breaker
            ((decide, bound, first, second, _),) = calls

            def admit_one(now: float, key: str | None) -> Admitted | Rejection:
                try:
                    if bound == 0:
                        decision = decide(now)
                    elif bound == 1:
                        decision = decide(first, now)
                    else:
                        decision = decide(first, second, now)
                except Exception as exc:
                    return failed(compiled, 0, exc, (), now)
                return planned if decision.allowed else refuse(compiled, 0, decision, ())

            return admit_one
        if len(calls) == 2:  # a server: its overload guard and rate limit
            (decide0, bound0, first0, _, _), (decide1, bound1, first1, second1, _) = calls
            if bound0 == 1 and bound1 == 2:

                def admit_two(now: float, key: str | None) -> Admitted | Rejection:
                    try:
                        decision = decide0(first0, now)
                    except Exception as exc:
                        return failed(compiled, 0, exc, (), now)
                    if not decision.allowed:
                        return refuse(compiled, 0, decision, ())
                    try:
                        decision = decide1(first1, second1, now)
                    except Exception as exc:
                        return failed(compiled, 1, exc, (), now)
                    return planned if decision.allowed else refuse(compiled, 1, decision, ())

                return admit_two
        return lambda now, key: self._loop(compiled, 0, (), now)

    def _loop(
        self, compiled: Compiled, start: int, skipped: tuple[int, ...], now: float
    ) -> Admitted | Rejection:
        """Admission by the deciders of ``compiled`` from ``start`` on, ``skipped`` those
        that raised before."""
        calls, planned, plan = compiled
        for at in range(start, len(calls)):
            decide, bound, first, second, _ = calls[at]
            try:  # each algorithm's method called directly (see direct_call)
                if bound == 0:
                    decision = decide(now)
                elif bound == 1:
                    decision = decide(first, now)
                else:
                    decision = decide(first, second, now)
            except Exception as exc:
                return self._failed(compiled, at, exc, skipped, now)
            if not decision.allowed:
                return self._refuse(compiled, at, decision, skipped)
        if skipped:
            return Held(plan.held(plan.everything, skipped), planned, None, self._fault)
        return planned

    def _refuse(
        self, compiled: Compiled, at: int, decision: Decision, skipped: tuple[int, ...]
    ) -> Rejection:
        """The refusal of decider ``at``: the stages admitted before it end ``NOT_RUN``."""
        calls, _, plan = compiled
        index = calls[at][4]
        end_all(plan.held(index, skipped), NOT_RUN, self._fault)
        return _rejection(decision, self.stages[index].name)

    def _failed(
        self,
        compiled: Compiled,
        at: int,
        exc: Exception,
        skipped: tuple[int, ...],
        now: float,
    ) -> Admitted | Rejection:
        """Decider ``at`` raised ``exc``: a TypeError (a misuse) ends the earlier stages
        ``NOT_RUN`` and is raised; anything else skips the stage (told to the fault handler
        or logged) and the admission goes on with the next."""
        calls, _, plan = compiled
        index = calls[at][4]
        if isinstance(exc, TypeError):
            end_all(plan.held(index, skipped), NOT_RUN, self._fault)
            raise exc
        skip(self.stages[index], exc, self._fault)
        return self._loop(compiled, at + 1, (*skipped, index), now)

    async def aadmit(self, tier: int, key: str | None = None) -> Admitted | Rejection:
        """:meth:`admit` awaiting each stage's ``aadmit`` (an exact-mode shared limiter's
        store round trip, on the event loop): always the general path."""
        try:
            permits = await aadmit_all(
                self.stages, self._attempt(tier, key), self._env, self._fault
            )
        except Rejected as refused:
            return refused.rejection
        return Held(permits, None, timeout_of(permits), self._fault)

    def _admit_general(self, tier: int, key: str | None) -> Admitted | Rejection:
        try:
            permits = admit_all(self.stages, self._attempt(tier, key), self._env, self._fault)
        except Rejected as refused:
            return refused.rejection
        return Held(permits, None, timeout_of(permits), self._fault)

    def _attempt(self, tier: int, key: str | None) -> Attempt:
        return Attempt(self.name, tier) if key is None else KeyedAttempt(self.name, tier, 1, key)

    def __repr__(self) -> str:
        return f"Admission({list(self.stages)!r}, compiled={self.compiled})"
