"""Constructor validation shared by the algorithms: each check names the parameter and the range."""

from __future__ import annotations

import math
from datetime import timedelta

from resilience._base.limits import shown
from resilience.errors import ConfigError

Duration = float | timedelta
"""Seconds as a float (or int), or a :class:`datetime.timedelta`."""


def seconds(name: str, value: Duration, *, allow_zero: bool = False) -> float:
    """``value`` in seconds as a float; it must be finite and > 0 (>= 0 with ``allow_zero``)."""
    converted = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(converted, bool) or not isinstance(converted, (int, float)):
        raise ValueError(f"{name} must be seconds (a number or a timedelta), got {value!r}")
    bound = ">= 0" if allow_zero else "> 0"
    ok = converted >= 0 if allow_zero else converted > 0
    if not ok or not math.isfinite(converted):
        raise ValueError(f"{name} must be {bound} seconds, got {value!r}")
    return float(converted)


def integer(name: str, value: int, *, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum]`` (bools and floats are refused). Above
    ``maximum`` (a size bound of :mod:`resilience._base.limits`) raises ConfigError, a ValueError
    naming the parameter and the bound."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {shown(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be <= {maximum}, got {value!r}")
    return value


def number(
    name: str,
    value: float,
    *,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a float within ``[low, high]`` (ends excluded when ``*_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        if high == math.inf:
            bound = f"> {low:g}" if low_open else f">= {low:g}"
            raise ValueError(f"{name} must be {bound}, got {value!r}")
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {left}{low:g}, {high:g}{right}, got {value!r}")
    return float(value)
