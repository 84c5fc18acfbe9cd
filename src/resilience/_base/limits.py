"""Upper bounds of every size-like setting, and of what a policy document may expand to.

Each bound is far above what a real deployment needs and far below what would exhaust a
process: a setting above it is refused with a ConfigError naming the key and the bound. The
figures behind them: one breaker or limiter bucket costs about 85 bytes, and a client keeps
state for up to 2,048 methods, so :data:`MAX_BUCKETS` caps that state near 170 MB even in the
worst case (the defaults, 40 and 100 buckets, use a few KB per method).
"""

from __future__ import annotations

import reprlib

MAX_BUCKETS = 1000
"""Slots of one sliding window (breaker, rate limit, overload)."""

MAX_COUNT = 1_000_000_000
"""Requests in a window (``rate_limit.limit``, ``breaker.min_requests``, a retry window)."""

MAX_SECONDS = 3600.0
"""Windows, intervals and timeouts, in seconds (one hour)."""

MAX_SYNC_INTERVAL = 60.0
"""Seconds between two syncs of a shared limit with its store."""

MAX_EMA_CALLS = 1_000_000
"""Calls the dynamic timeout's moving average spans (``timeout.n``)."""

MAX_INSTANCES = 10_000
"""Instances sharing one limit (``rate_limit.expected_instances``)."""

MAX_CACHE_SIZE = 1_000_000
"""Method names a Policy remembers (``cache_size``) or a metrics exporter names."""

MAX_RECORD_BYTES = 1 << 30
"""Bytes of one recording file (``record.max_bytes``, 1 GiB), before it rotates."""

MAX_STREAM_MESSAGES = 1_000_000
"""Messages of one stream a recording or a failover replay keeps."""

MAX_REPLAY_BYTES = 1 << 30
"""Bytes of one request stream a failover may replay (1 GiB)."""

MAX_ENTRIES = 10_000
"""Method patterns, trusted peers, fault rules, colors or secret keys in one policy."""

MAX_POLICY_BYTES = 1 << 20
"""Bytes of a policy file (1 MiB)."""

MAX_YAML_ALIASES = 100
"""YAML aliases (``*name``) in a policy file."""

MAX_NODES = 100_000
"""Values (tables, lists and scalars) a parsed policy may hold once aliases are expanded."""

MAX_DEPTH = 32
"""Nesting depth of a parsed policy (a real one is about 5 deep)."""

SHOWN_CHARS = 80
"""A value quoted in an error message is cut to about this many characters."""

_SHORT = reprlib.Repr()
_SHORT.maxlevel = 3
_SHORT.maxstring = SHOWN_CHARS
_SHORT.maxother = SHOWN_CHARS
_SHORT.maxlong = 40
for _name in ("maxlist", "maxtuple", "maxset", "maxfrozenset", "maxdict", "maxdeque", "maxarray"):
    setattr(_SHORT, _name, 6)


def shown(value: object) -> str:
    """``repr(value)`` cut to a short prefix, in bounded time and memory however large or deep
    ``value`` is (for error messages: a hostile document must not make a huge one)."""
    try:
        text = _SHORT.repr(value)
    except Exception:  # a user object whose repr fails
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 2 * SHOWN_CHARS else text[: 2 * SHOWN_CHARS] + "..."


MAX_PROFILE_FILES = 10_000
"""Profiles a profiling directory keeps (``profiling.max_files``)."""

MAX_PROFILE_DIR_BYTES = 1 << 34
"""Bytes a profiling directory keeps (``profiling.max_bytes``, 16 GiB)."""

MAX_PROFILE_STACKS = 1_000_000
"""Distinct (stack, labels) pairs one profile holds (``profiling.max_stacks``)."""

MAX_SAMPLE_RATE = 100.0
"""Stack samples per second of the profiler (``profiling.rate``)."""
