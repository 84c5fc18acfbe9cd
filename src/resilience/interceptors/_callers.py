"""Per-caller quotas: a ``rate_limit`` with ``per`` counts each caller separately.

The caller is named by its address (``peer``, the port left out: one client opens many
connections), its traffic color (``color``) or a request header (``metadata:<key>``, such as
an API key or tenant id; a call without it counts as the caller ``""``). The value is hashed
(SHA-256, the first 128 bits in hex) before it names anything: the limiter map, a Redis key
(``<limit key>#<source>:<digest>``). It is never logged or shown in metrics or errors, which
name the source (``metadata:x-api-key``) only.

One limiter per caller digest, built by the same builder as a limit for everyone (memory,
tiered, or a shared store in exact mode), at most ``max_callers`` of them: the least recently
used is dropped (and closed) when a new caller arrives at a full map, so a flood of new keys
costs memory for ``max_callers`` limiters, never more; a dropped caller starts afresh (on a
shared store its counts stay in Redis and expire there).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from resilience.algorithms._decision import Decision
from resilience.events import GaugeReading, register_gauge_source, unregister_gauge_source
from resilience.interceptors._guard import release
from resilience.policy import RateLimitSettings

L = TypeVar("L")

MAX_KEY_LENGTH = 200
"""The longest limit name a ``rate_limit.key`` may be (see the policy's key rules)."""


def caller_value(per: str, peer: str, color: str | None, metadata: Any) -> str:
    """The raw caller value of one call for the ``per`` source: ``peer`` (gRPC's
    ``context.peer()``), ``color``, or the first value of ``metadata:<key>`` in the
    invocation ``metadata`` ("" when absent)."""
    if per == "peer":
        return peer_address(peer)
    if per == "color":
        return color or ""
    key = per[len("metadata:") :]
    for name, value in metadata or ():
        if name == key:
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return ""


def peer_address(peer: str) -> str:
    """A gRPC peer string without its port: ``ipv4:10.0.0.7:51234`` -> ``ipv4:10.0.0.7``,
    ``ipv6:[::1]:5000`` -> ``ipv6:[::1]``; others (``unix:...``) unchanged."""
    if peer.startswith(("ipv4:", "ipv6:")):
        host, sep, port = peer.rpartition(":")
        if sep and port.isdigit() and host not in ("ipv4", "ipv6"):
            return host
    return peer


def caller_digest(value: str) -> str:
    """The caller's name in stored keys: SHA-256 of the value, first 128 bits in hex."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class PerCaller(Generic[L]):
    """Limiters by caller digest, built on demand, least recently used dropped past
    ``settings.max_callers``. ``build(settings)`` builds one caller's limiter from the
    section with its ``key`` set to ``<key>#<source>:<digest>``. Thread-safe; on grpc.aio
    used from the loop's thread only."""

    __slots__ = (
        "__weakref__",
        "_build",
        "_limiters",
        "_lock",
        "_max",
        "_on_close",
        "_settings",
        "per",
    )

    def __init__(
        self,
        settings: RateLimitSettings,
        build: Callable[[RateLimitSettings], L],
        *,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        assert settings.per is not None
        self.per = settings.per
        self._on_close = on_close
        self._settings = settings
        self._build = build
        self._max = settings.max_callers
        self._limiters: OrderedDict[str, L] = OrderedDict()
        self._lock = threading.Lock()
        if settings.store != "memory":
            register_gauge_source(self)  # weakly held: ends with the limit

    def limiter_for(self, value: str) -> L:
        """The limiter of the caller ``value`` (a raw value: hashed here)."""
        digest = caller_digest(value)
        dropped = None
        with self._lock:
            limiter = self._limiters.get(digest)
            if limiter is not None:
                self._limiters.move_to_end(digest)
                return limiter
            limiter = self._build(
                dataclasses.replace(self._settings, key=self._key_of(digest), per=None)
            )
            _quiet(limiter)
            self._limiters[digest] = limiter
            if len(self._limiters) > self._max:
                dropped = self._limiters.popitem(last=False)[1]
        if dropped is not None:
            _close(dropped)
        return limiter

    def _key_of(self, digest: str) -> str:
        """The caller's limit name: ``<key>#<per>:<digest>``, or, past the 200 characters a
        limit name may have, the digest of ``<key>#<per>`` in its place."""
        name = f"{self._settings.key}#{self.per}"
        if len(name) + 33 > MAX_KEY_LENGTH:
            name = caller_digest(name)
        return f"{name}:{digest}"

    def __len__(self) -> int:
        return len(self._limiters)

    @property
    def limit(self) -> int:
        """Each caller's admissions per window."""
        return self._settings.limit

    def gauge_readings(self) -> Iterator[GaugeReading]:
        """A store-backed limit's ``limiter.fallback`` under the limit's own name (1 while any
        caller's limiter decides locally, else 0): the callers' own gauges are left out, as
        their names carry the caller's digest."""
        with self._lock:
            limiters = list(self._limiters.values())
        falling_back = any(getattr(getattr(x, "limiter", x), "fallback", False) for x in limiters)
        name = self._settings.key or ""
        yield GaugeReading("limiter.fallback", 1.0 if falling_back else 0.0, {"limit": name})

    def close(self) -> None:
        """Close every caller's limiter (store-backed ones hold resources), then run
        ``on_close`` (once); idempotent. A call after it builds a fresh limiter."""
        with self._lock:
            limiters = list(self._limiters.values())
            self._limiters.clear()
            on_close, self._on_close = self._on_close, None
        for limiter in limiters:
            _close(limiter)
        unregister_gauge_source(self)
        if on_close is not None:
            release("a per-caller limit's store", on_close)


class SyncPerCaller(PerCaller[Any]):
    """A per-caller limit decided without waiting: ``try_acquire(tier, caller)``."""

    __slots__ = ()

    def try_acquire(self, tier: int, caller: str = "") -> Decision:
        decision: Decision = self.limiter_for(caller).try_acquire(tier)
        return decision


class AioPerCaller(PerCaller[Any]):
    """A per-caller limit an aio server awaits (exact mode on a shared store)."""

    __slots__ = ()

    async def try_acquire(self, tier: int, caller: str = "") -> Decision:
        decision: Decision = await self.limiter_for(caller).try_acquire(tier)
        return decision


def _quiet(limiter: object) -> None:
    """Keep a caller's store-backed limiter out of the process-wide gauges: its
    ``limiter.fallback`` reading would name the caller's digest in the metrics."""
    inner: Any = getattr(limiter, "limiter", limiter)
    unregister_gauge_source(inner)


def _close(limiter: object) -> None:
    close = getattr(limiter, "close", None)
    if close is not None:
        release("a per-caller limiter", close)
