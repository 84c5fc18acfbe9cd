"""Running a call through the stages: admission groups, permits ended once, timeouts enforced.

The stages are compiled into *layers*: a run of consecutive admission stages is one group
(admitted in order, ended in reverse), a wrapping stage is a layer of its own. A group admits
every stage or, at the first refusal, ends the permits it already holds as ``NOT_RUN`` and
raises :class:`Rejected`. What the group protects (the call, or the inner layers) then runs
under the smallest timeout its permits set, and every permit ends with the outcome.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from resilience._base.clock import Clock
from resilience.pipeline._core import (
    FREE,
    NOT_RUN,
    Attempt,
    CallTimeout,
    Compiled,
    Env,
    Kind,
    Outcome,
    Permit,
    Rejected,
    Rejection,
    Stage,
    Wrapper,
    new_outcome,
)

_log = logging.getLogger("resilience.pipeline")

Layer = tuple[Stage, ...] | Wrapper


SyncLayer = Layer | Compiled
"""A layer as :func:`run_sync` takes it: the innermost group may be :class:`Compiled`."""

deadline_var: contextvars.ContextVar[tuple[float, Clock] | None] = contextvars.ContextVar(
    "resilience_pipeline_deadline", default=None
)


def time_left() -> float | None:
    """Seconds left before the innermost running pipeline's timeout (may be negative once
    passed), or None outside a pipeline with a timeout. Pass it on to what can honour it:
    ``httpx.get(url, timeout=time_left())``, ``sqlite3.connect(path, timeout=...)``, a gRPC
    call's ``timeout=``."""
    current = deadline_var.get()
    if current is None:
        return None
    deadline, clock = current
    return deadline - clock()


def compile_layers(stages: Sequence[Stage | Wrapper]) -> tuple[Layer, ...]:
    """Group consecutive admission stages; a wrapper is a layer of its own."""
    layers: list[Layer] = []
    group: list[Stage] = []
    for stage in stages:
        if isinstance(stage, Wrapper) and not isinstance(stage, Stage):
            if group:
                layers.append(tuple(group))
                group = []
            layers.append(stage)
        elif isinstance(stage, Stage):
            group.append(stage)
        else:
            raise TypeError(
                f"a pipeline stage needs admit()/aadmit() (a Stage) or run()/arun() "
                f"(a Wrapper), got {stage!r}"
            )
    if group:
        layers.append(tuple(group))
    return tuple(layers)


def _named(rejection: Rejection, stage: Stage) -> Rejection:
    if rejection.stage:
        return rejection
    return Rejection(rejection.reason, rejection.retry_after, stage.name)


def _refuse(
    permits: list[Permit], rejection: Rejection, env: Env, fault: Fault | None = None
) -> Rejected:
    end_all(permits, NOT_RUN, fault)
    return Rejected(rejection, env.name)


Fault = Callable[[str, BaseException], None]
"""``fault(where, exc)``: told that a stage raised ``exc`` (``where``: ``"<stage name>
admission"``, or ``"end"`` for a permit's end) instead of the warning logged by default."""


def end_all(permits: Sequence[Permit], outcome: Outcome, fault: Fault | None = None) -> None:
    """End ``permits`` innermost first (:meth:`Permit.end` inlined: this is the hot path); a
    failing stage is logged (or told to ``fault``), never raised."""
    for permit in reversed(permits):
        if permit.ended:
            permit.end(outcome)  # logs the double end
            continue
        permit.ended = True
        try:
            permit._end(outcome)
        except Exception as exc:
            if fault is not None:
                fault("end", exc)
            else:
                _log.warning("ending %r raised; ignored", permit, exc_info=True)


def skip(stage: Stage, exc: Exception, fault: Fault | None) -> None:
    """Say that ``stage`` raised ``exc`` on admission and is skipped."""
    if fault is not None:
        fault(f"{stage.name} admission", exc)
    else:
        _log.warning("stage %r raised on admission; skipped", stage, exc_info=exc)


def admit_all(
    group: tuple[Stage, ...], attempt: Attempt, env: Env, fault: Fault | None = None
) -> list[Permit]:
    """Admit ``attempt`` at every stage of ``group`` or raise :class:`Rejected` (permits
    already held are ended ``NOT_RUN``). A stage whose ``admit`` raises is skipped (logged,
    or told to ``fault``)."""
    permits: list[Permit] = []
    for stage in group:
        try:
            got = stage.admit(attempt)
        except TypeError:  # a misuse (an asyncio-only stage on a sync call): say so
            end_all(permits, NOT_RUN, fault)
            raise
        except Exception as exc:
            skip(stage, exc, fault)
            continue
        if isinstance(got, Rejection):
            raise _refuse(permits, _named(got, stage), env, fault)
        if got is not FREE:  # nothing to end
            permits.append(got)
    return permits


async def aadmit_all(
    group: tuple[Stage, ...], attempt: Attempt, env: Env, fault: Fault | None = None
) -> list[Permit]:
    """:func:`admit_all` awaiting each stage's ``aadmit``."""
    permits: list[Permit] = []
    try:
        for stage in group:
            try:
                got = await stage.aadmit(attempt)
            except TypeError:
                end_all(permits, NOT_RUN, fault)
                raise
            except Exception as exc:
                skip(stage, exc, fault)
                continue
            if isinstance(got, Rejection):
                raise _refuse(permits, _named(got, stage), env, fault)
            permits.append(got)
    except asyncio.CancelledError:  # cancelled while a stage waited (a bulkhead queue)
        end_all(permits, NOT_RUN, fault)
        raise
    return permits


def timeout_of(permits: list[Permit]) -> float | None:
    """The smallest timeout the permits set, or None."""
    smallest = None
    for permit in permits:
        bound = permit.timeout
        if bound is not None and (smallest is None or bound < smallest):
            smallest = bound
    return smallest


def bind_deadline(timeout: float | None, env: Env, now: float) -> contextvars.Token[Any] | None:
    """Set :func:`time_left`'s deadline ``timeout`` seconds after ``now`` unless an enclosing
    pipeline on the same clock has an earlier one; the token to reset, or None."""
    if timeout is None:
        return None
    deadline = now + timeout
    current = deadline_var.get()
    if current is not None and current[1] is env.clock and current[0] < deadline:
        return None
    return deadline_var.set((deadline, env.clock))


def run_sync(
    layers: tuple[SyncLayer, ...],
    index: int,
    attempt: Attempt,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    env: Env,
) -> Any:
    """Run ``fn(*args, **kwargs)`` behind ``layers[index:]`` (sync). An admission group is
    handled inline (:func:`admit_all`, :func:`timeout_of`, :func:`bind_deadline`): it is the
    whole path of a pipeline without wrapping stages whose stages are not all the library's
    (those run compiled, :mod:`resilience.pipeline._fused`)."""
    if index == len(layers):
        return fn(*args, **kwargs)
    layer = layers[index]
    if isinstance(layer, Compiled):
        return layer.runs[attempt.tier](attempt, fn, args, kwargs, env)
    if not isinstance(layer, tuple):
        return layer.run(
            lambda inner: run_sync(layers, index + 1, inner, fn, args, kwargs, env), attempt, env
        )
    permits: list[Permit] = []
    timeout = None
    for stage in layer:  # admit_all() inlined, finding the smallest timeout on the way
        try:
            got = stage.admit(attempt)
        except TypeError:  # a misuse (an asyncio-only stage on a sync call): say so
            end_all(permits, NOT_RUN)
            raise
        except Exception:
            _log.warning("stage %r raised on admission; skipped", stage, exc_info=True)
            continue
        if isinstance(got, Rejection):
            raise _refuse(permits, _named(got, stage), env)
        if got is not FREE:  # nothing to end
            permits.append(got)
            bound = got.timeout
            if bound is not None and (timeout is None or bound < timeout):
                timeout = bound
    clock = env.clock
    started = clock()
    token = None
    if timeout is not None:  # bind_deadline() inlined
        current = deadline_var.get()
        if current is None or current[1] is not clock or current[0] >= started + timeout:
            token = deadline_var.set((started + timeout, clock))
    try:
        if index + 1 == len(layers):
            result = fn(*args, **kwargs)
        else:
            result = run_sync(layers, index + 1, attempt, fn, args, kwargs, env)
    except BaseException as exc:
        duration = clock() - started
        kind = env.judge.exception_kind(exc)
        if timeout is not None and duration > timeout and kind is not Kind.NOT_RUN:
            kind = Kind.TIMEOUT
        end_all(permits, Outcome(kind, duration, exc))
        raise
    finally:
        if token is not None:
            deadline_var.reset(token)
    duration = clock() - started
    if timeout is not None and duration > timeout:
        error = CallTimeout(timeout, env.name)
        end_all(permits, Outcome(Kind.TIMEOUT, duration, error))
        raise error
    judge = env.judge
    kind = Kind.SUCCESS if judge.result_fails is None else judge.result_kind(result)
    if permits:  # none when every stage kept nothing per call (rate limits)
        end_all(permits, new_outcome((kind, duration, None)))
    return result


async def run_async(
    layers: tuple[Layer, ...],
    index: int,
    attempt: Attempt,
    call: Callable[[], Awaitable[Any]],
    env: Env,
) -> Any:
    """Run ``call`` behind ``layers[index:]`` (asyncio); a timeout cancels what runs inside."""
    if index == len(layers):
        return await call()
    layer = layers[index]
    if not isinstance(layer, tuple):
        return await layer.arun(
            lambda inner: run_async(layers, index + 1, inner, call, env), attempt, env
        )
    permits = await aadmit_all(layer, attempt, env)
    timeout = timeout_of(permits)
    started = env.clock()
    token = bind_deadline(timeout, env, started)
    try:
        inner = run_async(layers, index + 1, attempt, call, env)
        result = await (inner if timeout is None else within(inner, timeout, env))
    except BaseException as exc:
        duration = env.clock() - started
        end_all(permits, Outcome(env.judge.exception_kind(exc), duration, exc))
        raise
    finally:
        if token is not None:
            deadline_var.reset(token)
    duration = env.clock() - started
    end_all(permits, Outcome(env.judge.result_kind(result), duration))
    return result


async def within(work: Awaitable[Any], timeout: float, env: Env) -> Any:
    """Await ``work`` for at most ``timeout`` seconds of ``env.asleep``; past it, cancel it,
    wait for it to finish cancelling, and raise :class:`CallTimeout`."""
    task = asyncio.ensure_future(work)
    timer = asyncio.ensure_future(env.asleep(timeout))
    try:
        await asyncio.wait((task, timer), return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # we were cancelled: so is the work
        timer.cancel()
        task.cancel()
        await asyncio.wait((task,))
        raise
    if task.done():
        timer.cancel()
        return task.result()
    task.cancel()
    await asyncio.wait((task,))
    if not task.cancelled() and task.exception() is None:
        _log.debug("a timed-out call finished while being cancelled; its result is dropped")
    raise CallTimeout(timeout, env.name)
