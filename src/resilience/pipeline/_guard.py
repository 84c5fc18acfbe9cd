"""Guard: one block run under a pipeline's admission stages (``with pipe.guard():``)."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol

from resilience.events import CallInfo, CallOutcome
from resilience.pipeline import _report
from resilience.pipeline._core import Attempt, CallTimeout, Env, Kind, Outcome, Permit, Stage
from resilience.pipeline._engine import (
    Layer,
    aadmit_all,
    admit_all,
    bind_deadline,
    deadline_var,
    end_all,
    timeout_of,
)


class Owner(Protocol):
    """What a guard needs of its pipeline (see :class:`~resilience.pipeline.Pipeline`)."""

    _env: Env
    _layers: tuple[Layer, ...]

    def _begin(self) -> tuple[Env, Attempt, CallInfo | None, float]: ...

    @staticmethod
    def _raised(env: Env, info: CallInfo | None, exc: BaseException, started: float) -> None: ...


class Guard:
    """One guarded block (see :meth:`Pipeline.guard`); use it once."""

    __slots__ = (
        "_begun",
        "_env",
        "_info",
        "_permits",
        "_pipeline",
        "_started",
        "_timeout",
        "_token",
    )

    def __init__(self, pipeline: Owner) -> None:
        self._pipeline = pipeline
        self._env = pipeline._env  # replaced at the start by the Env the block runs with
        self._permits: list[Permit] = []
        self._timeout: float | None = None
        self._token: Any = None
        self._begun = self._started = 0.0
        self._info: CallInfo | None = None

    def _group(self) -> tuple[Stage, ...]:
        layers = self._pipeline._layers
        return layers[0] if layers and isinstance(layers[0], tuple) else ()

    def _admitted(self, permits: list[Permit]) -> None:
        env = self._env
        self._permits = permits
        self._timeout = timeout_of(permits)
        self._started = env.clock()
        self._token = bind_deadline(self._timeout, env, self._started)

    def __enter__(self) -> Guard:
        pipeline = self._pipeline
        self._env, attempt, self._info, self._begun = pipeline._begin()
        try:
            permits = admit_all(self._group(), attempt, self._env)
        except BaseException as exc:
            pipeline._raised(self._env, self._info, exc, self._begun)
            raise
        self._admitted(permits)
        return self

    async def __aenter__(self) -> Guard:
        pipeline = self._pipeline
        self._env, attempt, self._info, self._begun = pipeline._begin()
        try:
            permits = await aadmit_all(self._group(), attempt, self._env)
        except BaseException as exc:
            pipeline._raised(self._env, self._info, exc, self._begun)
            raise
        self._admitted(permits)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        pipeline = self._pipeline
        env = self._env
        if self._token is not None:
            deadline_var.reset(self._token)
            self._token = None
        duration = env.clock() - self._started
        late = self._timeout is not None and duration > self._timeout
        if exc is not None:
            kind = env.judge.exception_kind(exc)
            if late and kind is not Kind.CANCELLED:
                kind = Kind.TIMEOUT
            end_all(self._permits, Outcome(kind, duration, exc))
            pipeline._raised(env, self._info, exc, self._begun)
            return
        if late:
            assert self._timeout is not None
            error = CallTimeout(self._timeout, env.name)
            end_all(self._permits, Outcome(Kind.TIMEOUT, duration, error))
            pipeline._raised(env, self._info, error, self._begun)
            raise error
        end_all(self._permits, Outcome(Kind.SUCCESS, duration))
        if self._info is not None:
            outcome = CallOutcome(_report.OK, env.clock() - self._begun)
            _report.ended(env.enders, self._info, outcome)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)
