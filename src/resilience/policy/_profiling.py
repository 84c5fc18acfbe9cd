"""The ``profiling`` section of a policy: load-aware continuous profiling (see
:mod:`resilience.profiling` and docs/profiling.md).

Absent, profiling is off. Present, the profiler is armed: it samples stacks at ``rate`` Hz
while a trigger is on (the CPU usage, the in-flight server calls, or one method's p99 latency
crossing its ``*_enter`` threshold for ``enter_after`` seconds, until it stays at or below its
``*_exit`` threshold for ``exit_after`` seconds), always at ``baseline_rate`` Hz when that is
above 0, and on demand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from resilience._base.limits import (
    MAX_PROFILE_DIR_BYTES,
    MAX_PROFILE_FILES,
    MAX_PROFILE_STACKS,
    MAX_SAMPLE_RATE,
    MAX_SECONDS,
    shown,
)
from resilience.policy._values import (
    Converter,
    Invalid,
    SettingError,
    boolean,
    check_keys,
    convert,
    duration,
    integer,
    number,
    optional,
)


def _text(raw: object) -> str:
    if isinstance(raw, str) and 0 < len(raw) <= 1000:
        return raw
    raise Invalid(f"must be a text of 1 to 1000 characters, got {shown(raw)}")


def _url(raw: object) -> str:
    if isinstance(raw, str) and len(raw) <= 1000:
        try:  # urlsplit and .port raise ValueError on a malformed host or port
            parts = urlsplit(raw)
            if parts.scheme in ("http", "https") and parts.hostname and parts.port != 0:
                return raw
        except ValueError:
            pass
    raise Invalid(
        f"must be an http:// or https:// URL of at most 1000 characters, got {shown(raw)}"
    )


_bytes = integer(ge=1, le=MAX_PROFILE_DIR_BYTES)

_FIELDS: dict[str, Converter[Any]] = {
    "enabled": boolean,
    "directory": _text,
    "rate": number(ge=1, le=MAX_SAMPLE_RATE),
    "baseline_rate": number(ge=0, le=MAX_SAMPLE_RATE),
    "profile_seconds": duration(ge=1, le=MAX_SECONDS),
    "check_interval": duration(gt=0, le=60),
    "enter_after": duration(ge=0, le=MAX_SECONDS),
    "exit_after": duration(ge=0, le=MAX_SECONDS),
    "cpu_enter": optional(number(gt=0, le=1)),
    "cpu_exit": optional(number(ge=0, le=1)),
    "inflight_enter": optional(integer(ge=1, le=1_000_000)),
    "inflight_exit": optional(integer(ge=0, le=1_000_000)),
    "latency_method": optional(_text),
    "latency_enter": optional(duration(gt=0, le=MAX_SECONDS)),
    "latency_exit": optional(duration(ge=0, le=MAX_SECONDS)),
    "heap_rss_bytes": optional(_bytes),
    "heap_traced_bytes": optional(_bytes),
    "heap_seconds": duration(ge=0, le=MAX_SECONDS),
    "heap_interval": duration(ge=0, le=MAX_SECONDS),
    "max_files": integer(ge=1, le=MAX_PROFILE_FILES),
    "max_bytes": _bytes,
    "max_stacks": integer(ge=1, le=MAX_PROFILE_STACKS),
    "push_url": optional(_url),
    "app_name": _text,
}

_PAIRS = (("cpu_enter", "cpu_exit"), ("inflight_enter", "inflight_exit"))


@dataclass(frozen=True, slots=True)
class ProfilingSettings:
    """Load-aware profiling; times in seconds, sizes in bytes.

    ``directory``: where profiles are written (created 0700, files 0600), keeping at most
    ``max_files`` files and ``max_bytes`` bytes (oldest removed first). ``rate`` (1..100 Hz):
    samples per second while triggered or asked for; ``baseline_rate`` (0 = off): always.
    Each file covers ``profile_seconds``; triggers are read every ``check_interval``.
    Triggers (each pair both set or both unset; exit <= enter): ``cpu_enter``/``cpu_exit``
    (CPU usage 0..1), ``inflight_enter``/``inflight_exit`` (server calls in flight),
    ``latency_method`` with ``latency_enter``/``latency_exit`` (its p99 latency), all with
    ``enter_after``/``exit_after``. Heap: when the resident set reaches ``heap_rss_bytes`` or
    tracemalloc's traced memory ``heap_traced_bytes``, a heap profile is written (tracemalloc
    is started for ``heap_seconds`` if it was not tracing), at most one per ``heap_interval``.
    ``max_stacks``: distinct stacks one profile keeps (later ones count as ``[truncated]``).
    ``push_url``: also POST each profile to a Pyroscope-compatible ``/ingest``, as
    ``app_name``."""

    directory: str
    enabled: bool = True
    rate: float = 99.0
    baseline_rate: float = 0.0
    profile_seconds: float = 10.0
    check_interval: float = 1.0
    enter_after: float = 2.0
    exit_after: float = 10.0
    cpu_enter: float | None = None
    cpu_exit: float | None = None
    inflight_enter: int | None = None
    inflight_exit: int | None = None
    latency_method: str | None = None
    latency_enter: float | None = None
    latency_exit: float | None = None
    heap_rss_bytes: int | None = None
    heap_traced_bytes: int | None = None
    heap_seconds: float = 10.0
    heap_interval: float = 300.0
    max_files: int = 50
    max_bytes: int = 100 << 20
    max_stacks: int = 10_000
    push_url: str | None = None
    app_name: str = "resilience"

    def __post_init__(self) -> None:
        for key, converter in _FIELDS.items():
            object.__setattr__(
                self, key, convert(f"profiling.{key}", converter, getattr(self, key))
            )
        pairs = (*_PAIRS, ("latency_enter", "latency_exit"))
        for enter, exit in pairs:
            high, low = getattr(self, enter), getattr(self, exit)
            if (high is None) != (low is None):
                raise SettingError(f"profiling.{exit}", f"set both {enter} and {exit}, or neither")
            if high is not None and low > high:
                raise SettingError(
                    f"profiling.{exit}", f"must not exceed {enter} ({high}), got {shown(low)}"
                )
        if (self.latency_enter is None) != (self.latency_method is None):
            raise SettingError(
                "profiling.latency_method",
                "a latency trigger needs latency_method and its thresholds",
            )


def parse_profiling(raw: object) -> ProfilingSettings | None:
    """The ``profiling`` table of a policy tree, or None when absent."""
    if raw is None or isinstance(raw, ProfilingSettings):
        return raw
    if not isinstance(raw, Mapping):
        raise SettingError("profiling", f"must be a table, got {shown(raw)}")
    check_keys("profiling", raw.keys(), _FIELDS)
    if "directory" not in raw:
        raise SettingError("profiling.directory", "missing; say where to write the profiles")
    return ProfilingSettings(**raw)
