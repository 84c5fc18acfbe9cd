"""Fallback: a value or a function's answer instead of a refusal or a failure."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from resilience.pipeline._core import AsyncInner, Attempt, Env, Inner, Kind, Rejected

_MISSING: Any = object()
_FAILED = (Kind.FAILURE, Kind.TIMEOUT)


class Fallback:
    """Answer with ``value``, or with ``function(error)``, when the rest of the pipeline was
    refused (``on_rejection``: a :class:`Rejected`) or failed (``on_failure``: a failure
    exception, a :class:`CallTimeout`, or a result refused by ``failure_if``, for which
    ``error`` is None). ``function`` may be a coroutine function on asyncio calls. Cancellations
    and exceptions that are not failures pass through. Each fallback is an observer event
    ``pipeline.fallback`` with the ``cause`` (``rejected``, ``failure``, ``timeout``).
    Give exactly one of ``value`` and ``function``; a function given as ``value`` raises
    TypeError (it would be the answer itself, never called)."""

    __slots__ = ("_function", "_on_failure", "_on_rejection", "_value", "name")

    def __init__(
        self,
        value: Any = _MISSING,
        *,
        function: Callable[[BaseException | None], Any] | None = None,
        on_rejection: bool = True,
        on_failure: bool = True,
        name: str = "fallback",
    ) -> None:
        if (value is _MISSING) == (function is None):
            raise ValueError("Fallback needs exactly one of value= and function=")
        if function is not None and not callable(function):
            raise TypeError(f"function must be callable, got {function!r}")
        if inspect.isfunction(value) or inspect.ismethod(value):
            raise TypeError(
                f"Fallback({getattr(value, '__qualname__', value)}) would answer with the "
                "function itself: pass Fallback(function=fn) to answer with fn(error), or "
                "Fallback(function=lambda error: fn) to answer with the function"
            )
        self._value = value
        self._function = function
        self._on_rejection = on_rejection
        self._on_failure = on_failure
        self.name = name

    def _cause(self, raised: bool, value: Any, env: Env) -> str | None:
        """Why to fall back (``rejected``, ``failure``, ``timeout``), or None."""
        if raised:
            if isinstance(value, Rejected):
                return "rejected" if self._on_rejection else None
            kind = env.judge.exception_kind(value)
        else:
            kind = env.judge.result_kind(value)
        if kind in _FAILED and self._on_failure:
            return str(kind) if kind is Kind.TIMEOUT else "failure"
        return None

    def _answer(self, error: BaseException | None) -> Any:
        return self._value if self._function is None else self._function(error)

    def run(self, inner: Inner[Any], attempt: Attempt, env: Env) -> Any:
        try:
            result = inner(attempt)
        except Exception as exc:
            cause = self._cause(True, exc, env)
            if cause is None:
                raise
            env.event("pipeline.fallback", cause=cause)
            return self._answer(exc)
        if env.judge.result_fails is None:  # no result is a failure: nothing to judge
            return result
        cause = self._cause(False, result, env)
        if cause is None:
            return result
        env.event("pipeline.fallback", cause=cause)
        return self._answer(None)

    async def arun(self, inner: AsyncInner[Any], attempt: Attempt, env: Env) -> Any:
        try:
            result = await inner(attempt)
            error: BaseException | None = None
            cause = self._cause(False, result, env)
            if cause is None:
                return result
        except Exception as exc:
            cause = self._cause(True, exc, env)
            if cause is None:
                raise
            error = exc
        env.event("pipeline.fallback", cause=cause)
        answer = self._answer(error)
        return await answer if inspect.isawaitable(answer) else answer
