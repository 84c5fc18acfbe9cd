"""Value converters for policy keys: each turns a raw value into a checked one or says why not.

A converter is a callable ``raw -> value`` that raises :class:`Invalid` with a problem text such
as ``"must be >= 1, got 0.5"``; the caller adds the key path. Converters are idempotent (a
converted value converts to itself), so the settings dataclasses run the same converters in
``__post_init__`` that the file loader runs on raw input.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any, TypeVar

import grpc

from resilience._base.limits import shown
from resilience.errors import ConfigError

T = TypeVar("T")
Converter = Callable[[object], T]


class Invalid(ValueError):
    """A raw value was rejected; the text says what is wrong and shows the value."""


class SettingError(ConfigError):
    """A setting is invalid: ``key`` is its dotted path, ``problem`` what is wrong with it."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}" if key else problem)
        self.key = key
        self.problem = problem

    def under(self, prefix: str) -> SettingError:
        """The same error with ``prefix`` prepended to the key path."""
        return SettingError(f"{prefix}.{self.key}" if self.key else prefix, self.problem)


def convert(key: str, converter: Converter[T], raw: object) -> T:
    """Run ``converter`` on ``raw``, turning a rejection into a :class:`SettingError` at ``key``."""
    try:
        return converter(raw)
    except Invalid as exc:
        raise SettingError(key, str(exc)) from None


def check_keys(path: str, given: Collection[object], known: Collection[str]) -> None:
    """Reject the first key of ``given`` that is not in ``known``, suggesting the closest one."""
    for key in given:
        if key in known:
            continue
        name = str(key)
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
        hint = f'did you mean "{close[0]}"? ' if close else ""
        where = f"{path}.{name}" if path else name
        raise SettingError(where, f"unknown key; {hint}known keys: {', '.join(sorted(known))}")


def _bounds_text(ge: float | None, gt: float | None, le: float | None, lt: float | None) -> str:
    lower = f">= {_fmt(ge)}" if ge is not None else f"> {_fmt(gt)}" if gt is not None else ""
    upper = f"<= {_fmt(le)}" if le is not None else f"< {_fmt(lt)}" if lt is not None else ""
    return " and ".join(part for part in (lower, upper) if part)


def _fmt(bound: float | None) -> str:
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def _check_range(
    value: float, ge: float | None, gt: float | None, le: float | None, lt: float | None
) -> None:
    if (
        (ge is not None and value < ge)
        or (gt is not None and value <= gt)
        or (le is not None and value > le)
        or (lt is not None and value >= lt)
    ):
        raise Invalid(f"must be {_bounds_text(ge, gt, le, lt)}, got {shown(value)}")


def _as_float(raw: object, what: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise Invalid(f"must be {what}, got {shown(raw)}")
    value = float(raw)
    if not math.isfinite(value):
        raise Invalid(f"must be a finite number, got {shown(raw)}")
    return value


def number(
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
) -> Converter[float]:
    """A finite number (int or float, not bool) within the given bounds, as a float."""

    def to_number(raw: object) -> float:
        value = _as_float(raw, "a number")
        _check_range(value, ge, gt, le, lt)
        return value

    return to_number


_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(us|ms|s|m|h)\s*")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
DURATION_HELP = 'a duration: seconds as a number, or a string such as "250ms", "1.5s" or "2m"'


def parse_duration(raw: object) -> float:
    """Seconds from a number, a ``timedelta`` or a string ``<number><us|ms|s|m|h>``."""
    if isinstance(raw, timedelta):
        return raw.total_seconds()
    if isinstance(raw, str):
        match = _DURATION.fullmatch(raw)
        if match is None:
            raise Invalid(f"must be {DURATION_HELP}, got {shown(raw)}")
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return _as_float(raw, DURATION_HELP)


def duration(
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
) -> Converter[float]:
    """A duration (see :func:`parse_duration`) in seconds within the given bounds."""

    def to_duration(raw: object) -> float:
        value = parse_duration(raw)
        _check_range(value, ge, gt, le, None)
        return value

    return to_duration


def integer(*, ge: int | None = None, le: int | None = None) -> Converter[int]:
    """An integer (an integral float such as ``500.0`` is accepted) within the given bounds."""

    def to_integer(raw: object) -> int:
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise Invalid(f"must be an integer, got {shown(raw)}")
        _check_range(raw, ge, None, le, None)
        return raw

    return to_integer


def optional(converter: Converter[T]) -> Converter[T | None]:
    """``converter``, or None for an unset key (None)."""

    def to_optional(raw: object) -> T | None:
        return None if raw is None else converter(raw)

    return to_optional


def boolean(raw: object) -> bool:
    """Exactly ``True`` or ``False`` (no strings, no numbers)."""
    if not isinstance(raw, bool):
        raise Invalid(f"must be true or false, got {shown(raw)}")
    return raw


def one_of(*choices: str) -> Converter[str]:
    """One of the given strings."""
    allowed = " or ".join(f'"{choice}"' for choice in choices)

    def to_choice(raw: object) -> str:
        if raw not in choices:
            raise Invalid(f"must be {allowed}, got {shown(raw)}")
        return str(raw)

    return to_choice


class FrozenMap(Mapping[Any, Any]):
    """An immutable, hashable mapping (so settings holding one stay hashable values)."""

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[Any, Any]) -> None:
        self._data = dict(data)
        self._hash = hash(frozenset(self._data.items()))

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return repr(self._data)


def status_codes(raw: object) -> frozenset[grpc.StatusCode]:
    """A list of grpc.StatusCode names (or members), OK excluded, as a frozenset."""
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable):
        raise Invalid(f"must be a list of grpc.StatusCode names, got {shown(raw)}")
    codes = set()
    for item in raw:
        code = item if isinstance(item, grpc.StatusCode) else _status_code(item)
        if code is grpc.StatusCode.OK:
            raise Invalid("OK cannot be a failure code")
        codes.add(code)
    return frozenset(codes)


def _status_code(raw: object) -> grpc.StatusCode:
    name = raw.upper() if isinstance(raw, str) else None
    if name is None or name not in grpc.StatusCode.__members__:
        names = ", ".join(name for name in grpc.StatusCode.__members__ if name != "OK")
        raise Invalid(f"{shown(raw)} is not a grpc.StatusCode name; known names: {names}")
    return grpc.StatusCode[name]
