"""Fault rules and faults as values, and their validated construction from plain dicts.

A :class:`FaultRule` says *where* a fault may happen (method pattern, traffic color, side) and
*what* happens (a delay, an abort, or both) in what share of the matching calls. A
:class:`Fault` is one concrete decision for one call. Both are frozen values; parsing from the
dicts of a policy file or an experiment file raises :class:`~resilience.errors.ConfigError`
naming the field (``faults[2].percentage: must be in [0, 100], got 150``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import grpc

from resilience._base.limits import shown
from resilience._base.patterns import PATTERN_HELP, is_pattern, pattern_matches
from resilience.errors import ConfigError

Side = Literal["server", "client", "both"]
_SIDES: tuple[str, ...] = ("server", "client", "both")
_FIELDS = frozenset({"name", "method", "color", "percentage", "side", "delay", "abort", "message"})


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to one call: sleep ``delay`` seconds, then, if ``code`` is set, fail the call
    with that status and ``message``. ``rule`` names the rule that fired first (for reports)."""

    delay: float = 0.0
    code: grpc.StatusCode | None = None
    message: str = ""
    rule: str = ""


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One fault injection rule.

    - ``method``: ``"*"`` (every method), ``"/pkg.Service/*"`` (a whole service) or an exact
      ``"/pkg.Service/Method"``.
    - ``color``: the traffic color the rule is scoped to, or None for any traffic (colored or
      not). A colored rule only takes effect on an injector whose ``allowed_colors`` names it.
    - ``percentage``: share of the matching calls that get the fault, 0 to 100.
    - ``side``: ``"server"`` (in the server interceptor), ``"client"`` or ``"both"``.
    - ``delay``: seconds to wait before the call proceeds: a number, or ``(low, high)`` for a
      uniform random delay in that range.
    - ``abort``: the status code to fail the call with (never OK), or None for a delay only.
    - ``message``: the status details of an aborted call.
    - ``name``: a label for reports; defaults to the method pattern.
    """

    method: str = "*"
    percentage: float = 100.0
    color: str | None = None
    side: Side = "server"
    delay: float | tuple[float, float] = 0.0
    abort: grpc.StatusCode | None = None
    message: str = "injected fault"
    name: str = ""

    def __post_init__(self) -> None:
        delay: Any = self.delay
        if isinstance(delay, list):  # a [low, high] range written as a list
            object.__setattr__(self, "delay", tuple(delay))
        _validate(self)

    @property
    def label(self) -> str:
        """The rule's name, or its method pattern when it has none."""
        return self.name or self.method

    def matches(self, side: str, method: str, color: str | None) -> bool:
        """Whether the rule applies to a call on ``side`` to ``method`` carrying ``color``."""
        if self.side != "both" and self.side != side:
            return False
        if self.color is not None and self.color != color:
            return False
        return pattern_matches(self.method, method)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "fault") -> FaultRule:
        """Build a rule from a dict with the field names above; ``abort`` is a status code name
        (``"UNAVAILABLE"``) and ``delay`` a number or a two-element list. Errors are prefixed
        with ``where``."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: must be a table of rule fields, got {shown(data)}")
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            raise ConfigError(
                f"{where}.{unknown[0]}: unknown field; expected one of {sorted(_FIELDS)}"
            )
        kwargs = dict(data)
        try:
            if "abort" in kwargs:
                kwargs["abort"] = parse_status_code(kwargs["abort"], field="abort")
            return cls(**kwargs)
        except ConfigError as exc:
            raise ConfigError(f"{where}.{exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The inverse of :meth:`from_dict` (JSON- and TOML-friendly values)."""
        out: dict[str, Any] = {
            "method": self.method,
            "percentage": self.percentage,
            "side": self.side,
            "message": self.message,
        }
        if self.name:
            out["name"] = self.name
        if self.color is not None:
            out["color"] = self.color
        if self.delay:
            out["delay"] = list(self.delay) if isinstance(self.delay, tuple) else self.delay
        if self.abort is not None:
            out["abort"] = self.abort.name
        return out


def rules_from_dicts(items: Any, *, where: str = "faults") -> tuple[FaultRule, ...]:
    """Parse a list of rule dicts (a policy's ``faults`` section or an experiment's
    ``[[faults]]`` tables); errors name the index and field, e.g. ``faults[1].side``."""
    if not isinstance(items, Iterable) or isinstance(items, (str, bytes, Mapping)):
        raise ConfigError(f"{where}: must be a list of rule tables, got {shown(items)}")
    return tuple(FaultRule.from_dict(item, where=f"{where}[{i}]") for i, item in enumerate(items))


def parse_status_code(value: Any, *, field: str) -> grpc.StatusCode:
    """A status code from its name (case-insensitive) or a StatusCode; OK is refused."""
    if isinstance(value, grpc.StatusCode):
        code = value
    elif isinstance(value, str) and value.upper() in grpc.StatusCode.__members__:
        code = grpc.StatusCode[value.upper()]
    else:
        raise ConfigError(
            f"{field}: must be a gRPC status code name like 'UNAVAILABLE', got {shown(value)}"
        )
    if code is grpc.StatusCode.OK:
        raise ConfigError(f"{field}: an abort needs a failing status code, got OK")
    return code


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{field}: must be a finite number, got {shown(value)}")
    return float(value)


def _validate(rule: FaultRule) -> None:
    if not is_pattern(rule.method):
        raise ConfigError(f"method: not a method pattern: {shown(rule.method)}; {PATTERN_HELP}")
    percentage = _number(rule.percentage, "percentage")
    if not 0.0 <= percentage <= 100.0:
        raise ConfigError(f"percentage: must be in [0, 100], got {shown(rule.percentage)}")
    if rule.color is not None and (not isinstance(rule.color, str) or not rule.color):
        raise ConfigError(f"color: must be a non-empty string or absent, got {shown(rule.color)}")
    if rule.side not in _SIDES:
        raise ConfigError(f"side: must be one of {list(_SIDES)}, got {shown(rule.side)}")
    _validate_delay(rule.delay)
    if rule.abort is not None and (
        not isinstance(rule.abort, grpc.StatusCode) or rule.abort is grpc.StatusCode.OK
    ):
        raise ConfigError(f"abort: must be a failing grpc.StatusCode, got {shown(rule.abort)}")
    if not isinstance(rule.message, str):
        raise ConfigError(f"message: must be a string, got {shown(rule.message)}")
    if not isinstance(rule.name, str):
        raise ConfigError(f"name: must be a string, got {shown(rule.name)}")
    if not rule.delay and rule.abort is None:
        raise ConfigError("abort: a rule needs an action: set delay, abort, or both")


def _validate_delay(delay: Any) -> None:
    if isinstance(delay, tuple):
        if len(delay) != 2:
            raise ConfigError(
                f"delay: a range must be [low, high] seconds, got {shown(list(delay))}"
            )
        low, high = (_number(v, "delay") for v in delay)
        if not 0.0 <= low <= high:
            raise ConfigError(
                f"delay: a range needs 0 <= low <= high seconds, got {shown(list(delay))}"
            )
        return
    if _number(delay, "delay") < 0:
        raise ConfigError(f"delay: must be >= 0 seconds, got {shown(delay)}")
