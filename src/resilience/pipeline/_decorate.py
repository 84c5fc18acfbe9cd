"""``@pipe``: what a decorated callable is, judged once, when it is decorated.

A sync wrapper around something that returns a coroutine or a generator would time and judge
the creation of that object, not the work: the pipeline would record a success at once and
the body, its failures and its ``time_left()`` would run outside it. So the kind is read from
the function itself, from a ``staticmethod``'s or ``classmethod``'s function (the result is
wrapped again, whichever order the decorators are written in), and from a callable object's
``__call__``; generator functions are refused.

``pipe.acall(fn)`` cannot judge ``fn`` before calling it (a sync callable returning an
awaitable, such as a grpc.aio multi-callable, is fine), so :func:`awaitable_of` judges what it
returned: a value that cannot be awaited raises :class:`NotAwaitable`, which the pipeline
counts as the success it was (``fn`` ran and answered), so it is neither retried nor failed
over to a fallback, and the caller learns to use ``pipe.call``. The other way round,
``pipe.call(fn)`` with an async ``fn`` gets a coroutine back without running the body:
:func:`not_run` closes it and gives the :class:`NotRun` error that ``pipe.call`` raises (the
stages saw a call that returned, so it counts as a success too).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol


class NotAwaitable(TypeError):
    """``pipe.acall(fn)`` where ``fn`` returned something that cannot be awaited: ``fn`` is
    sync and ran once; use ``pipe.call(fn)`` (or decorate it) instead."""

    def __init__(self, fn: Any, result: Any) -> None:
        name = getattr(fn, "__qualname__", None) or repr(fn)
        super().__init__(
            f"pipe.acall({name}) needs an async function or one that returns an awaitable; "
            f"it returned {type(result).__name__}, so it ran once as a sync call: use "
            "pipe.call(fn) for a sync function"
        )


class NotRun(TypeError):
    """``pipe.call(fn)`` where ``fn`` returned a coroutine: ``fn`` is async and its body did not
    run; await ``pipe.acall(fn)`` (or decorate it) instead."""


def not_run(fn: Any, coroutine: Coroutine[Any, Any, Any]) -> NotRun:
    """The error for ``pipe.call(fn)`` that got ``coroutine`` back, which is closed (it never
    ran, and an unawaited coroutine would only warn when collected)."""
    coroutine.close()
    name = getattr(fn, "__qualname__", None) or repr(fn)
    return NotRun(
        f"pipe.call({name}) returned a coroutine, so its body did not run: {name} is async; "
        "use `await pipe.acall(fn)` or decorate it with the pipeline"
    )


def awaitable_of(fn: Callable[..., Any], args: Any, kwargs: Any) -> Awaitable[Any]:
    """``fn(*args, **kwargs)``, which must be awaitable; else :class:`NotAwaitable`."""
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        return result
    raise NotAwaitable(fn, result)


class Caller(Protocol):
    """What a decorated callable needs of its pipeline (see ``Pipeline.call``/``acall``)."""

    name: str

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any: ...

    async def acall(
        self, fn: Callable[..., Awaitable[Any]], /, *args: Any, **kwargs: Any
    ) -> Any: ...


def decorate(pipeline: Caller, fn: Any) -> Any:
    """``fn`` wrapped so that each call runs through ``pipeline``: awaited with ``acall``
    when ``fn`` is a coroutine function (or a callable whose ``__call__`` is one), else run
    with ``call``. A ``staticmethod``/``classmethod`` stays one, around the wrapped
    function. A generator or async generator function raises TypeError."""
    if isinstance(fn, (staticmethod, classmethod)):
        return type(fn)(decorate(pipeline, fn.__func__))
    kind = fn if inspect.isroutine(fn) or isinstance(fn, functools.partial) else type(fn).__call__
    if inspect.isgeneratorfunction(kind) or inspect.isasyncgenfunction(kind):
        what = "an async generator" if inspect.isasyncgenfunction(kind) else "a generator"
        name = getattr(fn, "__qualname__", None) or repr(fn)
        raise TypeError(
            f"pipeline {pipeline.name!r} cannot decorate {name!r}, {what} function: "
            "calling it only creates the generator, and its body would run outside the "
            "pipeline; decorate a function that returns the values (a list), or run each "
            "step with pipe.call(fn) / pipe.acall(fn)"
        )
    if inspect.iscoroutinefunction(kind):

        async def protected_async(*args: Any, **kwargs: Any) -> Any:
            return await pipeline.acall(fn, *args, **kwargs)

        return _named(protected_async, fn)

    def protected(*args: Any, **kwargs: Any) -> Any:
        return pipeline.call(fn, *args, **kwargs)

    return _named(protected, fn)


def _named(wrapper: Callable[..., Any], fn: Any) -> Callable[..., Any]:
    """``wrapper`` with ``fn``'s name, docstring and ``__wrapped__`` (what it has of them)."""
    return functools.update_wrapper(wrapper, fn)
