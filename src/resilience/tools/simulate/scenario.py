"""Failover scenarios: traffic, local failure rate and remote health over time, from TOML.

A scenario file (all times in seconds)::

    name = "remote-outage"
    description = "Local fails 5% of reads; the remote center is down for 5 s."
    period = 1.0                 # the retry window's period
    duration = 30.0              # simulated time; periods = duration / period
    seed = 7                     # seeds the random draws ("random" spread)
    spread = "random"            # or "even": failures spread exactly (1 in 20 for 0.05)
    traffic = 1000               # local requests per period
    local_failure = 0.05         # fraction of local requests that fail
    remote_health = [[0, 1.0], [10, 0.0], [15, 1.0]]   # fraction of failovers that succeed

    [window]                     # AdaptiveRetryWindow parameters (all optional)
    success_threshold = 0.98
    growth_ratio = 0.01

``traffic``, ``local_failure`` and ``remote_health`` are each a number (constant) or a
piecewise-constant schedule ``[[start, value], ...]`` whose first start is 0.
"""

from __future__ import annotations

import bisect
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resilience.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

_KEYS = frozenset(
    {"name", "description", "period", "duration", "seed", "spread", "traffic", "local_failure",
     "remote_health", "window"}
)  # fmt: skip
_WINDOW_KEYS = frozenset(
    {"success_threshold", "growth_ratio", "initial", "max_window", "max_ratio"}
)
_SPREADS = ("random", "even")


@dataclass(frozen=True, slots=True)
class Schedule:
    """A piecewise-constant value over time: ``steps`` are ``(start_seconds, value)``, sorted,
    the first starting at 0; :meth:`at` is the value of the last step started by ``t``."""

    steps: tuple[tuple[float, float], ...]

    def at(self, t: float) -> float:
        starts = [start for start, _ in self.steps]
        return self.steps[bisect.bisect_right(starts, t + 1e-9) - 1][1]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario; see the module docstring for the meaning of each field."""

    name: str
    period: float
    duration: float
    traffic: Schedule
    local_failure: Schedule
    remote_health: Schedule
    seed: int = 0
    spread: str = "random"
    description: str = ""
    window: Mapping[str, Any] = field(default_factory=dict)

    @property
    def periods(self) -> int:
        """How many whole periods the scenario runs."""
        return math.floor(self.duration / self.period + 1e-9)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, name: str = "scenario") -> Scenario:
        """Validate ``data``; a bad key raises :class:`ConfigError` naming it and the fix."""
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise ConfigError(f"{unknown[0]}: unknown key; known keys: {', '.join(sorted(_KEYS))}")
        period = _positive(data, "period", 1.0)
        duration = _positive(data, "duration", None)
        if duration < period:
            raise ConfigError(f"duration: must be >= period ({period:g} s), got {duration!r}")
        spread = data.get("spread", "random")
        if spread not in _SPREADS:
            raise ConfigError(f"spread: must be one of {', '.join(_SPREADS)}, got {spread!r}")
        seed = data.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"seed: must be an integer, got {seed!r}")
        window = data.get("window", {})
        if not isinstance(window, Mapping):
            raise ConfigError(
                f"window: must be a table of AdaptiveRetryWindow settings, got {window!r}"
            )
        extra = sorted(set(window) - _WINDOW_KEYS)
        if extra:
            raise ConfigError(
                f"window.{extra[0]}: unknown key; known: {', '.join(sorted(_WINDOW_KEYS))}"
            )
        return cls(
            name=str(data.get("name", name)),
            description=str(data.get("description", "")),
            period=period,
            duration=duration,
            seed=seed,
            spread=spread,
            traffic=_schedule(data, "traffic", low=0.0, high=math.inf, integral=True),
            local_failure=_schedule(data, "local_failure", low=0.0, high=1.0),
            remote_health=_schedule(data, "remote_health", low=0.0, high=1.0, default=1.0),
            window=dict(window),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> Scenario:
        """Read a TOML scenario; errors name the file and the key."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        try:
            return cls.from_dict(data, name=path.stem)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None


def _positive(data: Mapping[str, Any], key: str, default: float | None) -> float:
    value = data.get(key, default)
    if value is None:
        raise ConfigError(f"{key}: required (seconds > 0)")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{key}: must be seconds > 0, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{key}: must be finite, got {value!r}")
    return float(value)


def _schedule(
    data: Mapping[str, Any],
    key: str,
    *,
    low: float,
    high: float,
    integral: bool = False,
    default: float | None = None,
) -> Schedule:
    raw = data.get(key, default)
    if raw is None:
        raise ConfigError(f"{key}: required (a number or [[start, value], ...])")
    steps = [(0.0, raw)] if isinstance(raw, (int, float)) else raw
    if not isinstance(steps, list) or not steps:
        raise ConfigError(
            f"{key}: must be a number or a non-empty [[start, value], ...], got {raw!r}"
        )
    checked: list[tuple[float, float]] = []
    for index, step in enumerate(steps):
        where = f"{key}[{index}]"
        if not (isinstance(step, (list, tuple)) and len(step) == 2):
            raise ConfigError(f"{where}: must be [start_seconds, value], got {step!r}")
        start, value = step
        for part, name in ((start, "start"), (value, "value")):
            if isinstance(part, bool) or not isinstance(part, (int, float)):
                raise ConfigError(f"{where}: {name} must be a number, got {part!r}")
        if not low <= value <= high:
            raise ConfigError(f"{where}: value must be in [{low:g}, {high:g}], got {value!r}")
        if integral and value != int(value):
            raise ConfigError(f"{where}: value must be a whole number of requests, got {value!r}")
        previous = checked[-1][0] if checked else None
        if (previous is None and start != 0) or (previous is not None and start <= previous):
            raise ConfigError(f"{where}: starts must begin at 0 and increase, got {start!r}")
        checked.append((float(start), float(value)))
    return Schedule(tuple(checked))
