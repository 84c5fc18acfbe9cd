"""What the log filter and the crash reporter know about the call being handled right now.

Trace and span ids come from the OpenTelemetry current span; color, tier and method from
``resilience.context`` when that module provides them (looked up defensively, so observability
works on its own and keeps working if a name there changes), with the traffic color falling back
to the W3C baggage entry the interceptors propagate.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from opentelemetry import baggage, trace

from resilience._base.keys import COLOR_BAGGAGE

_Getter = Callable[[], Any]


def _context_getter(name: str) -> _Getter | None:
    try:
        module = importlib.import_module("resilience.context")
    except ImportError:
        return None
    getter = getattr(module, name, None)
    return getter if callable(getter) else None


_getters: dict[str, _Getter | None] = {}


def _from_resilience_context(name: str) -> Any:
    if name not in _getters:
        _getters[name] = _context_getter(name)
    getter = _getters[name]
    if getter is None:
        return None
    try:
        return getter()
    except Exception:  # a helper must never break a log line or a crash report
        return None


def trace_ids() -> tuple[str, str]:
    """``(trace_id, span_id)`` of the current span as lowercase hex, or ``("", "")``."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return "", ""
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def current_color() -> str | None:
    """The current traffic color: ``resilience.context`` first, then the baggage entry."""
    color = _from_resilience_context("current_color")
    if color is None:
        color = baggage.get_baggage(COLOR_BAGGAGE)
    return color if isinstance(color, str) and color else None


def current_tier() -> int | None:
    """The current call's tier (1..4) when ``resilience.context`` knows it."""
    tier = _from_resilience_context("current_tier")
    return tier if isinstance(tier, int) and not isinstance(tier, bool) else None


def current_method() -> str | None:
    """The full method name of the call being handled when ``resilience.context`` knows it."""
    method = _from_resilience_context("current_method")
    return method if isinstance(method, str) and method else None
