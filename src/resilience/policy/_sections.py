"""The sections of a method's settings (breaker, timeout, rate_limit, overload): one frozen,
slotted dataclass per section, validated.

Each section's keys are described once, by a converter table; the dataclass runs it in
``__post_init__`` (so a hand-built ``BreakerSettings(k=0.5)`` fails like a bad file does), and
the policy loader runs it on every key it reads. Defaults are those of the algorithms' pages
(docs/algorithms/). :mod:`resilience.policy._schema` registers the sections.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from resilience._base.limits import (
    MAX_BUCKETS,
    MAX_COUNT,
    MAX_EMA_CALLS,
    MAX_INSTANCES,
    MAX_SECONDS,
    MAX_SYNC_INTERVAL,
    shown,
)
from resilience.backends._url import redact, url_problem
from resilience.policy._values import (
    Converter,
    FrozenMap,
    Invalid,
    SettingError,
    boolean,
    convert,
    duration,
    integer,
    number,
    one_of,
)

DEFAULT_CPU_THRESHOLDS: Mapping[int, float] = FrozenMap({1: 0.95, 2: 0.90, 3: 0.85, 4: 0.80})
"""Smoothed CPU usage (0..1) above which OverloadGuard starts shedding each tier."""


def normalize(obj: object, section: str, fields: Mapping[str, Converter[Any]]) -> None:
    """Convert every field of ``obj`` listed in ``fields`` in place (``section.key`` names the
    field in a SettingError)."""
    for key, converter in fields.items():
        path = f"{section}.{key}" if section else key
        value = convert(path, converter, getattr(obj, key))
        object.__setattr__(obj, key, value)


_STORE_HELP = 'must be "memory" or a redis://, rediss:// or unix:// URL'


def store_url(raw: object) -> str:
    """``"memory"`` or a store URL checked whole (host, port, database and every query option)
    when the policy is built, so a bad URL fails the load rather than the first call."""
    if raw == "memory":
        return "memory"
    if not isinstance(raw, str):
        raise Invalid(f"{_STORE_HELP}, got {shown(raw)}")
    problem = url_problem(raw)
    if problem is None:
        return raw
    shown_url = shown(redact(raw))
    if urlsplit(raw).scheme not in ("redis", "rediss", "unix") or problem == "missing host":
        raise Invalid(f"{_STORE_HELP}, got {shown_url}")
    raise Invalid(f"{problem}, in {shown_url}")


def limit_key(raw: object) -> str | None:
    """The name of a shared limit or bulkhead: 1 to 200 characters, or None (the pattern)."""
    if raw is None or (isinstance(raw, str) and 0 < len(raw) <= 200 and raw.strip() == raw):
        return raw
    raise Invalid(
        f"must be a name of 1 to 200 characters without surrounding spaces, got {shown(raw)}"
    )


def _tier_number(raw: object) -> int:
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool) and 1 <= raw <= 4:
        return raw
    raise Invalid(f"tiers are 1, 2, 3 or 4, got {shown(raw)}")


def _cpu_thresholds(raw: object) -> Mapping[int, float]:
    if not isinstance(raw, Mapping):
        raise Invalid(f"must be a table of tier -> CPU usage (0..1], got {shown(raw)}")
    given = {_tier_number(tier): _fraction(value) for tier, value in raw.items()}
    merged = {**DEFAULT_CPU_THRESHOLDS, **given}
    ordered = [merged[tier] for tier in (1, 2, 3, 4)]
    if any(later > earlier for earlier, later in itertools.pairwise(ordered)):
        raise Invalid(
            f"must not increase from tier 1 to tier 4 (tier 4 is shed first), got {shown(merged)}"
        )
    return FrozenMap(merged)


_fraction = number(gt=0, le=1)


BREAKER_FIELDS: dict[str, Converter[Any]] = {
    "k": number(ge=1),
    "window": duration(gt=0, le=MAX_SECONDS),
    "buckets": integer(ge=1, le=MAX_BUCKETS),
    "min_requests": integer(ge=0, le=MAX_COUNT),
    "max_drop": number(gt=0, le=1),
    "probe_interval": duration(gt=0, le=MAX_SECONDS),
}


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """Client-side SreBreaker: ``p = max(0, (requests - k * accepts) / (requests + 1))``.

    ``k`` (>= 1; smaller drops more), ``window`` seconds split into ``buckets`` slots, no drops
    below ``min_requests`` requests per window, drop probability capped at ``max_drop`` (0, 1],
    and a probe admitted after ``probe_interval`` seconds with nothing admitted.
    """

    k: float = 2.0
    window: float = 10.0
    buckets: int = 40
    min_requests: int = 20
    max_drop: float = 0.9
    probe_interval: float = 1.0

    def __post_init__(self) -> None:
        normalize(self, "breaker", BREAKER_FIELDS)


TIMEOUT_FIELDS: dict[str, Converter[Any]] = {
    "t_avg": duration(ge=0, le=MAX_SECONDS),
    "t_hwm": duration(gt=0, le=MAX_SECONDS),
    "t_max": duration(gt=0, le=MAX_SECONDS),
    "n": integer(ge=1, le=MAX_EMA_CALLS),
    "streams": boolean,
}


DEFAULT_T_MAX = 0.500
"""``t_max`` when a policy does not set it, seconds."""

T_AVG_RATIO = 0.12
"""``t_avg`` when not set, as a fraction of ``t_max`` (60 ms of the default 500 ms)."""

T_HWM_RATIO = 0.5
"""``t_hwm`` when not set, as a fraction of ``t_max`` (250 ms of the default 500 ms)."""


def _derived_default(ratio: float) -> str:
    """How the policy reference shows a bound derived from ``t_max``."""
    return f"{ratio:g} * t_max ({ratio * DEFAULT_T_MAX:g})"


@dataclass(frozen=True, slots=True)
class TimeoutSettings:
    """Client-side EmaTimeout, seconds: the timeout moves in ``[t_hwm, t_max]`` as the EMA of
    latency (over about ``n`` calls) moves between ``t_avg`` and ``t_hwm``; requires
    ``0 <= t_avg < t_hwm <= t_max``. ``streams``: also apply it to streaming calls (off, since a
    long-lived stream outlives any latency-based timeout).

    ``t_max`` not set is 0.5 s; ``t_avg`` and ``t_hwm`` not set are derived from ``t_max``
    (``0.12 * t_max`` and ``0.5 * t_max``: 60 ms and 250 ms at the default ``t_max``), so a
    lone ``t_max = "100ms"`` gives 12 ms and 50 ms. Once built, all three are floats.
    """

    t_avg: float | None = field(default=None, metadata={"shown": _derived_default(T_AVG_RATIO)})
    t_hwm: float | None = field(default=None, metadata={"shown": _derived_default(T_HWM_RATIO)})
    t_max: float | None = field(default=None, metadata={"shown": f"{DEFAULT_T_MAX:g}"})
    n: int = 80
    streams: bool = False

    def __post_init__(self) -> None:
        unset = [name for name in ("t_avg", "t_hwm", "t_max") if getattr(self, name) is None]
        if self.t_max is None:
            object.__setattr__(self, "t_max", DEFAULT_T_MAX)
        normalize(self, "timeout", {"t_max": TIMEOUT_FIELDS["t_max"]})
        t_max = _built(self.t_max)
        if self.t_avg is None:
            object.__setattr__(self, "t_avg", T_AVG_RATIO * t_max)
        if self.t_hwm is None:
            object.__setattr__(self, "t_hwm", T_HWM_RATIO * t_max)
        normalize(self, "timeout", TIMEOUT_FIELDS)
        t_avg, t_hwm, t_max = self.seconds()
        if not t_avg < t_hwm <= t_max:
            raise SettingError("timeout", _order_problem(t_avg, t_hwm, t_max, unset))

    def seconds(self) -> tuple[float, float, float]:
        """``(t_avg, t_hwm, t_max)`` in seconds, as built (never None)."""
        return _built(self.t_avg), _built(self.t_hwm), _built(self.t_max)


def _built(value: float | None) -> float:
    return 0.0 if value is None else value  # never None once __post_init__ ran


_DERIVED = {
    "t_avg": f"not set, so {T_AVG_RATIO:g} * t_max",
    "t_hwm": f"not set, so {T_HWM_RATIO:g} * t_max",
    "t_max": "not set, so the default",
}


def _order_problem(t_avg: float, t_hwm: float, t_max: float, unset: list[str]) -> str:
    """Why ``0 <= t_avg < t_hwm <= t_max`` fails, marking the values the user did not set and
    saying what to set."""
    values = {"t_avg": t_avg, "t_hwm": t_hwm, "t_max": t_max}
    got = ", ".join(
        f"{name}={shown(value)}" + (f" ({_DERIVED[name]})" if name in unset else "")
        for name, value in values.items()
    )
    problem = f"must satisfy 0 <= t_avg < t_hwm <= t_max, got {got}"
    if not unset:
        return f"{problem}; change them so that t_avg < t_hwm <= t_max"
    if t_avg >= t_hwm:
        fix = "set t_hwm above t_avg" if "t_hwm" in unset else "set t_avg below t_hwm"
    else:
        fix = "set t_max to at least t_hwm" if "t_max" in unset else "set t_hwm to at most t_max"
    return f"{problem}; {fix}, or set all three explicitly"


DEFAULT_MAX_CALLERS = 10_000
"""Callers a per-caller limit keeps a limiter for; the least recently seen is dropped first."""

MAX_CALLERS = 1_000_000
"""The largest ``max_callers`` a policy may set."""

_METADATA_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
_PER_HELP = 'must be "peer", "color" or "metadata:<key>" (a lowercase metadata key)'


def _per(raw: object) -> str | None:
    """Whom a limit counts separately: None (everyone together), ``"peer"`` (the caller's
    address), ``"color"`` (the traffic color) or ``"metadata:<key>"`` (a request header such
    as an API key or tenant id; not a ``-bin`` key)."""
    if raw is None or raw in ("peer", "color"):
        return raw
    if isinstance(raw, str) and raw.startswith("metadata:"):
        name = raw[len("metadata:") :]
        if _METADATA_NAME.fullmatch(name) and not name.endswith("-bin"):
            return raw
    raise Invalid(f"{_PER_HELP}, got {shown(raw)}")


RATE_LIMIT_FIELDS: dict[str, Converter[Any]] = {
    "limit": integer(ge=1, le=MAX_COUNT),
    "window": duration(gt=0, le=MAX_SECONDS),
    "buckets": integer(ge=1, le=MAX_BUCKETS),
    "tiered": boolean,
    "store": store_url,
    "mode": one_of("periodic", "exact"),
    "sync_interval": duration(gt=0, le=MAX_SYNC_INTERVAL),
    "expected_instances": integer(ge=1, le=MAX_INSTANCES),
    "fail_open": boolean,
    "key": limit_key,
    "per": _per,
    "max_callers": integer(ge=1, le=MAX_CALLERS),
}


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    """Server-side limit of ``limit`` requests per ``window`` seconds (``buckets`` slots).

    ``tiered``: a TieredLimiter (critical tiers first) instead of a SlidingWindowLimiter.
    ``store``: ``"memory"`` or a ``redis://`` / ``rediss://`` / ``unix://`` URL for a limit
    shared by every instance; ``mode`` ``"periodic"`` (sync counts every ``sync_interval``
    seconds, sized for ``expected_instances``) or ``"exact"`` (one Redis round trip per call);
    ``fail_open``: admit under the local share of the limit while the store is unreachable.
    ``key``: name of the shared limit; a Policy fills it with the pattern that declared the
    limit, so all methods that pattern matches share one limit.
    ``per``: a quota per caller instead of one for everyone: ``"peer"`` (the caller's address,
    port left out), ``"color"`` (the traffic color) or ``"metadata:<key>"`` (a request header
    such as ``x-api-key``; calls without it share one quota). Each caller gets ``limit`` per
    ``window``; caller values are hashed (SHA-256) before they name anything, so an API key
    is never stored, logged or shown. At most ``max_callers`` callers are kept, the least
    recently seen dropped first (LRU; a dropped caller starts afresh). A per-caller limit on
    a shared store needs ``mode = "exact"`` (periodic mode syncs each limit in a loop of its
    own: one per caller would not scale).
    """

    limit: int
    window: float = 1.0
    buckets: int = 10
    tiered: bool = False
    store: str = "memory"
    mode: Literal["periodic", "exact"] = "periodic"
    sync_interval: float = 0.1
    expected_instances: int = 1
    fail_open: bool = True
    key: str | None = None
    per: str | None = None
    max_callers: int = DEFAULT_MAX_CALLERS

    def __post_init__(self) -> None:
        normalize(self, "rate_limit", RATE_LIMIT_FIELDS)
        if self.per is not None and self.store != "memory" and self.mode != "exact":
            raise SettingError(
                "rate_limit.per",
                'a per-caller limit on a shared store needs mode = "exact" (periodic mode '
                "runs a sync loop per limit, one per caller would not scale); set mode = "
                '"exact", or drop per',
            )


OVERLOAD_FIELDS: dict[str, Converter[Any]] = {
    "cpu_thresholds": _cpu_thresholds,
    "window": duration(gt=0, le=MAX_SECONDS),
    "buckets": integer(ge=1, le=MAX_BUCKETS),
}


@dataclass(frozen=True, slots=True)
class OverloadSettings:
    """Server-side OverloadGuard: per-tier smoothed CPU thresholds (0, 1] (tiers not given keep
    their defaults; thresholds must not increase from tier 1 to tier 4) and the ``window``
    seconds / ``buckets`` over which pass counts and latency are measured."""

    cpu_thresholds: Mapping[int, float] = DEFAULT_CPU_THRESHOLDS
    window: float = 10.0
    buckets: int = 100

    def __post_init__(self) -> None:
        normalize(self, "overload", OVERLOAD_FIELDS)
