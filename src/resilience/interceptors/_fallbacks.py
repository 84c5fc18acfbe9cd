"""The policy's ``fallback`` section on the client side: a unary-unary call that failed the way
the section names answers with a fallback response instead of raising.

The answer is the function registered for the method on the interceptor
(``fallbacks={pattern: function}``, called as ``function(request, error)``), else, with
``response = "empty"``, the response type's default message: the method's response
deserializer applied to ``b""`` (the empty encoding of every protobuf message), which only a
``protect()``-ed channel knows (``grpc.intercept_channel`` hands an interceptor no
deserializer). The call's status was recorded before (breaker, dynamic timeout, observers and
span see the failure); each answer is an observer event ``fallback.used``, a function that
raises is logged (``fallback.failed``) and the call raises its own error.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import grpc

from resilience._base.keys import REJECT
from resilience._base.patterns import PATTERN_HELP, is_pattern, service_pattern
from resilience.errors import ConfigError
from resilience.events import Observer
from resilience.interceptors._guard import logger, report
from resilience.interceptors._method_state import MethodState
from resilience.policy import Policy

FallbackFunction = Callable[[Any, grpc.RpcError], Any]
"""``function(request, error)`` -> the response to answer with (an awaitable on aio)."""

Deserializer = Callable[[bytes], Any] | None | object
"""A channel's response deserializer (None: raw bytes), or :data:`NO_DESERIALIZER`."""

NO_DESERIALIZER = object()
"""What the interceptor form passes: gRPC gives it no deserializer, so no empty message."""

_MAX_FOUND = 4096
"""Methods whose registered function is remembered."""


class Fallbacks:
    """The fallback functions registered on an interceptor by method pattern (``"*"``,
    ``"/pkg.Service/*"``, ``"/pkg.Service/Method"``; the most specific wins), checked when the
    interceptor is built."""

    __slots__ = ("_found", "_functions")

    def __init__(self, functions: Mapping[str, FallbackFunction] | None) -> None:
        if functions is not None and not isinstance(functions, Mapping):
            raise TypeError(
                f"fallbacks must be a dict of method pattern -> function(request, error), got "
                f"{functions!r}"
            )
        for pattern, function in (functions or {}).items():
            if not is_pattern(pattern):
                raise ConfigError(f"fallbacks[{pattern!r}]: not a method pattern; {PATTERN_HELP}")
            if not callable(function):
                raise TypeError(
                    f"fallbacks[{pattern!r}] must be a function(request, error) returning the "
                    f"response, got {function!r}"
                )
        self._functions: dict[str, FallbackFunction] = dict(functions or {})
        self._found: dict[str, FallbackFunction | None] = {}

    def warn_if_unused(self, policy: Policy) -> None:
        """Log a warning when functions are registered but no pattern of ``policy`` has a
        ``fallback`` section: the functions would answer nothing (until a reload adds one)."""
        if not self._functions:
            return
        if any(settings.fallback is not None for settings in policy.declared_settings()):
            return
        logger.warning(
            "fallbacks registered for %s, but the policy gives no method a fallback section, "
            "so they answer nothing: add fallback = true (or a fallback table) to the settings "
            "of the methods they are for",
            ", ".join(sorted(self._functions)),
        )

    def function_for(self, method: str) -> FallbackFunction | None:
        """The function registered for ``method``: its own pattern's, its service's, ``*``'s."""
        if method in self._found:
            return self._found[method]
        functions = self._functions
        found = functions.get(method)
        if found is None:
            found = functions.get(service_pattern(method) or "", functions.get("*"))
        if len(self._found) < _MAX_FOUND:
            self._found[method] = found
        return found


def _refused_by_library(trailing: Any) -> bool:
    return any(key == REJECT for key, _ in trailing or ())


def _empty(deserializer: Any, request: Any, error: grpc.RpcError) -> Any:
    """The response type's default message: the empty encoding, deserialized (raw bytes when
    the channel has no deserializer)."""
    return b"" if deserializer is None else deserializer(b"")


class Answer:
    """How a failed call is answered: ``function`` (a registered one, or the empty message)
    and ``source`` (``"registered"`` or ``"empty"``, for the event)."""

    __slots__ = ("function", "method", "source")

    def __init__(self, function: FallbackFunction, source: str, method: str) -> None:
        self.function = function
        self.source = source
        self.method = method


def plan(
    fallbacks: Fallbacks,
    state: MethodState,
    code: grpc.StatusCode,
    trailing: Any,
    deserializer: Deserializer,
) -> Answer | None:
    """The answer to a call to ``state``'s method that ended with ``code`` and ``trailing``
    metadata, or None to raise its error: the section is on, the code is one of its ``codes``
    or the library refused the call (``rejections``), and a function is registered or the
    empty message can be built (the channel knows its ``deserializer``)."""
    settings = state.settings.fallback
    if settings is None or code is grpc.StatusCode.OK:
        return None
    if code not in settings.codes and not (settings.rejections and _refused_by_library(trailing)):
        return None
    function = fallbacks.function_for(state.method)
    if function is not None:
        return Answer(function, "registered", state.method)
    if settings.response == "empty" and deserializer is not NO_DESERIALIZER:
        return Answer(functools.partial(_empty, deserializer), "empty", state.method)
    return None


def _tell(observers: tuple[Observer, ...], name: str, answer: Answer, code: Any) -> None:
    attributes = {"method": answer.method, "side": "client", "answer": answer.source}
    attributes["code"] = getattr(code, "name", str(code))
    for observer in observers:
        try:
            observer.event(name, attributes)
        except Exception as exc:
            report("observer event", exc)


def respond(
    answer: Answer, request: Any, error: Any, code: Any, observers: tuple[Observer, ...]
) -> tuple[bool, Any]:
    """Run ``answer``: ``(True, response)``, or ``(False, None)`` when its function raised
    (logged; the caller raises the call's own error)."""
    try:
        response = answer.function(request, error)
    except Exception as exc:
        report("fallback function", exc)
        _tell(observers, "fallback.failed", answer, code)
        return False, None
    _tell(observers, "fallback.used", answer, code)
    return True, response


async def arespond(
    answer: Answer, request: Any, error: Any, code: Any, observers: tuple[Observer, ...]
) -> tuple[bool, Any]:
    """:func:`respond` for aio calls: a function may return an awaitable."""
    try:
        response = answer.function(request, error)
        if inspect.isawaitable(response):
            response = await response
    except Exception as exc:
        report("fallback function", exc)
        _tell(observers, "fallback.failed", answer, code)
        return False, None
    _tell(observers, "fallback.used", answer, code)
    return True, response
