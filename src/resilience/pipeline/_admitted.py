"""What an :class:`~._admission.Admission` gives an admitted call: the :class:`Admitted`
protocol, one tier's compiled object (:class:`Planned`, shared by the tier's calls) and the
permits of the general path (:class:`Held`)."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from resilience._base.clock import Clock
from resilience.algorithms._decision import Decision
from resilience.pipeline._core import Kind, Outcome, Permit, new_outcome
from resilience.pipeline._engine import Fault, end_all
from resilience.pipeline._fused import Plan

_log = logging.getLogger("resilience.pipeline")
_SUCCESS = Kind.SUCCESS

Call = tuple[Callable[..., Decision], int, Any, Any, int]
"""``(function, bound, first, second, position)``: a stage's decision at ``now`` is
``function(now)``, ``function(first, now)`` or ``function(first, second, now)`` for ``bound``
0, 1 or 2, from the stage at ``position``."""


def direct_call(decide: Callable[[float], Decision], position: int) -> Call:
    """The direct call of ``decide``: a :class:`functools.partial` of one or two arguments is
    unwrapped, so the admission calls the algorithm's method itself (on CPython 3.11 a
    partial's call re-enters the interpreter, a few hundred machine instructions more)."""
    if isinstance(decide, functools.partial) and not decide.keywords and len(decide.args) <= 2:
        args = (*decide.args, None, None)
        return (decide.func, len(decide.args), args[0], args[1], position)
    return (decide, 0, None, None, position)


@runtime_checkable
class Admitted(Protocol):
    """An admitted call's hold on the stages: end it exactly once, with :meth:`end_ok` or
    :meth:`end`."""

    def timeout(self) -> float | None:
        """Seconds the call may take by the stages' bounds (read now), or None."""

    def end_ok(self, duration: float) -> None:
        """End a call that succeeded after ``duration`` seconds. Every stage's end runs; if
        one raised, the first exception is raised once all ran (the caller reports it)."""

    def end(self, outcome: Outcome) -> None:
        """End the call with ``outcome`` (any kind; never raises: a stage's end that raises
        is logged, or told to the admission's ``fault``)."""


def _unbounded() -> float | None:
    return None


def _nothing(duration: float) -> None:
    return None


class Planned:
    """The :class:`Admitted` of one tier's compiled plan (one object for all its calls).

    ``timeout`` and ``end_ok`` are attributes, not methods: where one stage does all the work
    (an EMA's ``timeout``, an overload guard's ``release``) they are that algorithm's own bound
    method, so the call makes no frame of ours (each costs about 700 machine instructions on
    CPython 3.11; the interceptors' benchmark counts them)."""

    __slots__ = (
        "_clock",
        "_fault",
        "_fixed",
        "_makes",
        "_ok_first",
        "_ok_func",
        "_oks",
        "_readers",
        "_timed",
        "_timed0",
        "end_ok",
        "timeout",
    )

    def __init__(self, plan: Plan, clock: Clock, fault: Fault | None) -> None:
        self._clock = clock
        self._fault = fault
        self._fixed = plan.fixed
        self._readers = plan.readers
        self._oks = plan.oks
        self._timed = plan.timed
        self._makes = tuple(make for _, make in plan.permits)
        self.timeout: Callable[[], float | None] = self._bound
        if not plan.readers and plan.fixed is None:
            self.timeout = _unbounded
        elif plan.fixed is None and len(plan.readers) == 1:
            self.timeout = plan.readers[0]
        ok = direct_call(plan.oks[0], 0) if plan.oks else None  # type: ignore[arg-type]
        self._ok_func: Callable[..., object] | None = None if ok is None else ok[0]
        self._ok_first: Any = None if ok is None else ok[2]
        self._timed0: Callable[[float], object] | None = plan.timed[0] if plan.timed else None
        self.end_ok: Callable[[float], None] = self._ended
        if not plan.oks and not plan.timed:
            self.end_ok = _nothing
        elif not plan.oks and len(plan.timed) == 1:
            self.end_ok = plan.timed[0]  # type: ignore[assignment]
        elif ok is not None and ok[1] == 1 and len(plan.oks) == len(plan.timed) == 1:
            self.end_ok = self._ended_pair  # a breaker and a dynamic timeout

    def _bound(self) -> float | None:
        timeout = self._fixed
        for read in self._readers:
            bound = read()
            if timeout is None or bound < timeout:
                timeout = bound
        return timeout

    def _ended(self, duration: float) -> None:
        failed: Exception | None = None
        if self._oks:
            now = self._clock()  # one reading for the stages on the admission's clock
            for ok in self._oks:
                try:
                    ok(now)
                except Exception as exc:
                    failed = failed or exc
        for ok_timed in self._timed:
            try:
                ok_timed(duration)
            except Exception as exc:
                failed = failed or exc
        if failed is not None:
            raise failed

    def _ended_pair(self, duration: float) -> None:
        """:meth:`_ended` for one ``ok`` whose method takes one bound argument (a breaker's
        ``_record_at(True, now)``, called directly, see :func:`direct_call`) and one
        ``ok_timed``, without loops."""
        try:
            self._ok_func(self._ok_first, self._clock())  # type: ignore[misc]
        except Exception as exc:
            with contextlib.suppress(Exception):
                self._timed0(duration)  # type: ignore[misc]
            raise exc
        self._timed0(duration)  # type: ignore[misc]

    def end(self, outcome: Outcome) -> None:
        if outcome.kind is not _SUCCESS:
            end_all([make() for make in self._makes], outcome, self._fault)
            return
        try:
            self.end_ok(outcome.duration)
        except Exception as exc:
            if self._fault is not None:
                self._fault("end", exc)
            else:
                _log.warning("ending a call's stages raised; ignored", exc_info=exc)


class Held:
    """An admitted call holding its stages' permits (the general path, or a stage skipped)."""

    __slots__ = ("_bound", "_fault", "_permits", "_planned")

    def __init__(
        self,
        permits: list[Permit],
        planned: Planned | None,
        bound: float | None,
        fault: Fault | None,
    ) -> None:
        self._permits = permits
        self._planned = planned
        self._bound = bound
        self._fault = fault

    def timeout(self) -> float | None:
        planned = self._planned
        return self._bound if planned is None else planned.timeout()

    def end_ok(self, duration: float) -> None:
        end_all(self._permits, new_outcome((_SUCCESS, duration, None)), self._fault)

    def end(self, outcome: Outcome) -> None:
        end_all(self._permits, outcome, self._fault)
